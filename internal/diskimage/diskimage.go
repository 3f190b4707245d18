// Package diskimage inspects local disk image files before they are uploaded
// into a storage volume: their format and virtual size (from the header),
// and their SHA-256, which a caller may cache by path, size and modification
// time so an unchanged image is not read again. It knows nothing of
// Terraform, SQLite or libvirt.
package diskimage

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Formats, named as libvirt's storage volumes name them.
const (
	FormatRaw   = "raw"
	FormatQcow2 = "qcow2"
)

// MiB is the unit of volume capacities.
const MiB = 1 << 20

// qcow2Magic starts every qcow2 file; the big-endian virtual size follows
// at offset 24 (the same place in versions 2 and 3).
const qcow2Magic = "QFI\xfb"

// headerLen is how much of a file DetectFormat reads.
const headerLen = 32

// Sum is a file's SHA-256 with the stamp (path, size, modification time) it
// was computed for, so a later inspection can reuse it while the stamp holds.
type Sum struct {
	Path    string
	Size    int64
	ModTime int64  // ns since the epoch
	SHA256  string // hex; empty when not computed
}

// SumOf stamps fi, the file at path, with sha.
func SumOf(path string, fi fs.FileInfo, sha string) Sum {
	return Sum{Path: path, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), SHA256: sha}
}

// sameStamp tells whether s and t describe the same file content as far as
// path, size and modification time can tell.
func (s Sum) sameStamp(t Sum) bool {
	return s.Path == t.Path && s.Size == t.Size && s.ModTime == t.ModTime
}

// Image is what Inspect learns about an image file.
type Image struct {
	Sum                // SHA256 is always set
	Format      string // FormatQcow2 or FormatRaw
	VirtualSize uint64 // bytes the image presents as a disk
	FromCache   bool   // SHA256 was taken from the cached Sum, not read
}

// CapacityMiB is the smallest capacity in MiB of a volume that holds the
// image.
func (i Image) CapacityMiB() int64 { return int64((i.VirtualSize + MiB - 1) / MiB) }

// Open opens the image at path for reading and returns its size. It refuses
// what cannot be an image: a directory or device, or an empty file.
func Open(path string) (*os.File, uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("diskimage: %w; check the path and its permissions", err) // err names the path
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		err = fmt.Errorf("diskimage: %w", err)
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("diskimage: %s is not a regular file; name an image file instead", path)
	case fi.Size() == 0:
		err = fmt.Errorf("diskimage: %s is empty; name an image file instead", path)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, uint64(fi.Size()), nil
}

// DetectFormat reads the header at the start of r, a file of size bytes:
// a qcow2 image reports its own virtual size; anything else is raw, and
// presents its file size.
func DetectFormat(r io.Reader, size uint64) (format string, virtualSize uint64) {
	var hdr [headerLen]byte
	if n, _ := io.ReadFull(r, hdr[:]); n == headerLen && string(hdr[:4]) == qcow2Magic {
		return FormatQcow2, binary.BigEndian.Uint64(hdr[24:32])
	}
	return FormatRaw, size
}

// Inspect opens the image at path, detects its format and hashes it. The
// hash in cached is reused when its stamp matches the file's; a zero Sum
// reuses nothing.
func Inspect(path string, cached Sum) (Image, error) {
	f, size, err := Open(path)
	if err != nil {
		return Image{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Image{}, fmt.Errorf("diskimage: %w", err)
	}
	img := Image{Sum: SumOf(path, fi, "")}
	img.Format, img.VirtualSize = DetectFormat(f, size)
	if cached.SHA256 != "" && cached.sameStamp(img.Sum) {
		img.SHA256, img.FromCache = cached.SHA256, true
		return img, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Image{}, fmt.Errorf("diskimage: rewinding %s: %w", path, err)
	}
	if img.SHA256, err = hashReader(f); err != nil {
		return Image{}, fmt.Errorf("diskimage: reading %s: %w", path, err)
	}
	return img, nil
}

// NewHasher returns a writer that hashes what passes through it (for
// io.TeeReader during an upload) and a function that returns the hex digest.
func NewHasher() (io.Writer, func() string) {
	h := sha256.New()
	return h, func() string { return hex.EncodeToString(h.Sum(nil)) }
}

func hashReader(r io.Reader) (string, error) {
	w, sum := NewHasher()
	if _, err := io.Copy(w, r); err != nil {
		return "", err
	}
	return sum(), nil
}
