package resources

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestParseVolumeID(t *testing.T) {
	for id, want := range map[string][3]string{
		"local/default/disk.qcow2":  {"local", "default", "disk.qcow2"},
		"site/rack-1/default/a.raw": {"site/rack-1", "default", "a.raw"},
	} {
		h, p, n, err := parseVolumeID(id)
		if err != nil || [3]string{h, p, n} != want {
			t.Errorf("parseVolumeID(%q) = %q %q %q %v, want %q", id, h, p, n, err, want)
		}
	}
	for _, bad := range []string{"", "a", "a/b", "/pool/name", "host//name", "host/pool/", "a/b/"} {
		if _, _, _, err := parseVolumeID(bad); err == nil || !strings.Contains(err.Error(), "host_id/pool/name") {
			t.Errorf("parseVolumeID(%q): err %v, want one naming host_id/pool/name", bad, err)
		}
	}
}

func TestVolInspectSource(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "disk.img")
	rawBytes := []byte(strings.Repeat("x", volMiB+1))
	if err := os.WriteFile(raw, rawBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := volInspectSource(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(rawBytes)
	if info.Format != "raw" || info.VirtualLen != uint64(len(rawBytes)) || info.CapacityMiB() != 2 || info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("raw: %+v", info)
	}

	qcow := filepath.Join(dir, "disk.qcow2")
	hdr := make([]byte, 512)
	copy(hdr, "QFI\xfb")
	binary.BigEndian.PutUint64(hdr[24:], 10*volMiB+512)
	if err := os.WriteFile(qcow, hdr, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err = volInspectSource(qcow, nil)
	if err != nil || info.Format != "qcow2" || info.CapacityMiB() != 11 {
		t.Errorf("qcow2: %+v %v", info, err)
	}

	// The cache is used only for the same path, size and mtime.
	cached := volSourceInfo{Path: qcow, Size: info.Size, ModTime: info.ModTime, SHA256: "cached"}
	if got, _ := volInspectSource(qcow, &cached); got.SHA256 != "cached" {
		t.Errorf("unchanged file: sha %q, want the cached one", got.SHA256)
	}
	later := time.Unix(0, info.ModTime).Add(time.Second)
	if err := os.Chtimes(qcow, later, later); err != nil {
		t.Fatal(err)
	}
	if got, _ := volInspectSource(qcow, &cached); got.SHA256 == "cached" {
		t.Error("touched file: the cached sha was used")
	}

	for _, bad := range []string{filepath.Join(dir, "missing"), dir} {
		if _, err := volInspectSource(bad, nil); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("volInspectSource(%q): %v, want an error naming it", bad, err)
		}
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := volInspectSource(empty, nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v", err)
	}
}

func TestVolCheckSourceFits(t *testing.T) {
	raw := volSourceInfo{Path: "r.img", Format: "raw", VirtualLen: 3*volMiB + 1}
	qcow := volSourceInfo{Path: "q.qcow2", Format: "qcow2", VirtualLen: 8 * volMiB}
	null := types.Int64Null()
	cases := []struct {
		name     string
		info     volSourceInfo
		format   string
		capacity types.Int64
		want     string // "" = fits
	}{
		{"raw default capacity", raw, "raw", null, ""},
		{"raw larger capacity", raw, "raw", types.Int64Value(100), ""},
		{"raw capacity too small", raw, "raw", types.Int64Value(3), "at least 4 MiB"},
		{"raw as qcow2", raw, "qcow2", null, `set format = "raw"`},
		{"qcow2 as raw", qcow, "raw", null, `set format = "qcow2"`},
		{"qcow2 own size", qcow, "qcow2", types.Int64Value(8), ""},
		{"qcow2 other size", qcow, "qcow2", types.Int64Value(16), "qemu-img resize"},
	}
	for _, tc := range cases {
		diags := volCheckSourceFits(tc.info, types.StringValue(tc.format), tc.capacity)
		switch {
		case tc.want == "" && diags.HasError():
			t.Errorf("%s: unexpected %v", tc.name, diags)
		case tc.want != "" && (!diags.HasError() || !strings.Contains(diags[0].Detail(), tc.want)):
			t.Errorf("%s: got %v, want an error containing %q", tc.name, diags, tc.want)
		}
	}
}
