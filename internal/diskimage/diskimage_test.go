package diskimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// qcow2Header is the start of a qcow2 version 3 image of the given virtual
// size, padded to a cluster, which is all DetectFormat reads.
func qcow2Header(virtual uint64) []byte {
	hdr := make([]byte, 512)
	copy(hdr, qcow2Magic)
	binary.BigEndian.PutUint32(hdr[4:], 3)   // version
	binary.BigEndian.PutUint32(hdr[20:], 16) // cluster_bits
	binary.BigEndian.PutUint64(hdr[24:], virtual)
	return hdr
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestInspectRaw(t *testing.T) {
	content := bytes.Repeat([]byte("x"), MiB+1)
	p := write(t, "disk.img", content)
	img, err := Inspect(p, Sum{})
	if err != nil {
		t.Fatal(err)
	}
	if img.Format != FormatRaw || img.VirtualSize != uint64(len(content)) || img.CapacityMiB() != 2 {
		t.Errorf("raw image: format %q, virtual %d, capacity %d MiB; want raw, %d, 2", img.Format, img.VirtualSize, img.CapacityMiB(), len(content))
	}
	if img.SHA256 != hexSum(content) || img.FromCache || img.Path != p || img.Size != int64(len(content)) {
		t.Errorf("raw image: %+v, want the file's own sha256, path and size, not from the cache", img)
	}
}

func TestInspectQcow2(t *testing.T) {
	hdr := qcow2Header(10*MiB + 512)
	img, err := Inspect(write(t, "disk.qcow2", hdr), Sum{})
	if err != nil {
		t.Fatal(err)
	}
	if img.Format != FormatQcow2 || img.VirtualSize != 10*MiB+512 || img.CapacityMiB() != 11 {
		t.Errorf("qcow2 image: format %q, virtual %d, capacity %d MiB; want qcow2, %d, 11", img.Format, img.VirtualSize, img.CapacityMiB(), 10*MiB+512)
	}
	if img.SHA256 != hexSum(hdr) {
		t.Errorf("qcow2 image: sha256 %s, want that of the file", img.SHA256)
	}
}

func TestDetectFormat(t *testing.T) {
	cases := []struct {
		name        string
		data        []byte
		format      string
		virtualSize uint64
	}{
		{"qcow2", qcow2Header(MiB), FormatQcow2, MiB},
		{"raw with text", []byte(strings.Repeat("boot", 16)), FormatRaw, 64},
		// The magic alone, cut before the size field, is not a qcow2 image.
		{"truncated qcow2", qcow2Header(MiB)[:20], FormatRaw, 20},
		{"magic later in the file", append(make([]byte, 8), qcow2Header(MiB)...), FormatRaw, 520},
	}
	for _, tc := range cases {
		format, size := DetectFormat(bytes.NewReader(tc.data), uint64(len(tc.data)))
		if format != tc.format || size != tc.virtualSize {
			t.Errorf("%s: DetectFormat = %q, %d; want %q, %d", tc.name, format, size, tc.format, tc.virtualSize)
		}
	}
}

func TestInspectCache(t *testing.T) {
	p := write(t, "disk.qcow2", qcow2Header(8*MiB))
	first, err := Inspect(p, Sum{})
	if err != nil {
		t.Fatal(err)
	}
	cached := first.Sum
	cached.SHA256 = "cached"
	if got, err := Inspect(p, cached); err != nil || got.SHA256 != "cached" || !got.FromCache {
		t.Errorf("unchanged file: sha %q, from cache %v, err %v; want the cached sha", got.SHA256, got.FromCache, err)
	}

	other := cached
	other.Path = p + ".other"
	if got, _ := Inspect(p, other); got.SHA256 != first.SHA256 || got.FromCache {
		t.Errorf("cache for another path: sha %q, from cache %v; want the file read again", got.SHA256, got.FromCache)
	}
	noHash := first.Sum
	noHash.SHA256 = ""
	if got, _ := Inspect(p, noHash); got.SHA256 != first.SHA256 || got.FromCache {
		t.Errorf("cache without a hash: sha %q, from cache %v; want the file read", got.SHA256, got.FromCache)
	}

	later := time.Unix(0, first.ModTime).Add(time.Second)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	if got, _ := Inspect(p, cached); got.SHA256 != first.SHA256 || got.FromCache {
		t.Errorf("touched file: sha %q, from cache %v; want the file read again", got.SHA256, got.FromCache)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		filepath.Join(dir, "missing"): "no such file",
		dir:                           "not a regular file",
		write(t, "empty", nil):        "is empty",
	}
	for p, want := range cases {
		if _, err := Inspect(p, Sum{}); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), want) {
			t.Errorf("Inspect(%q): %v, want an error naming the path and saying %q", p, err, want)
		}
	}
}

func TestOpenReturnsSize(t *testing.T) {
	f, size, err := Open(write(t, "disk.img", make([]byte, 4096)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if size != 4096 {
		t.Errorf("Open: size %d, want 4096", size)
	}
}

func TestHasherMatchesInspect(t *testing.T) {
	content := []byte("some image bytes")
	w, sum := NewHasher()
	if _, err := io.Copy(w, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if sum() != hexSum(content) {
		t.Errorf("NewHasher: %s, want %s", sum(), hexSum(content))
	}
}
