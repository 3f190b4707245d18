package cloudinit

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	"github.com/kdomanski/iso9660"
)

// Where ECMA-119 (8.4) puts the primary volume descriptor and the fields
// of it that the writer fills from the host: its system identifier and the
// clock. Build pins them so that the image depends only on the seed.
const (
	sectorSize      = 2048
	pvdOffset       = 16 * sectorSize
	systemIDField   = 8   // 32 bytes
	creationField   = 813 // 17 bytes each: creation, modification, expiration, effective
	modifiedField   = 830
	effectiveField  = 864
	systemIDLength  = 32
	rootRecordField = 156 // the root directory's record, 34 bytes
	recordDateField = 18  // within a directory record, 7 bytes
	pinnedSystemID  = "LINUX"
	volumeDescPrim  = 1
	standardIDBytes = "CD001"
)

// Build validates s and writes its NoCloud image: label "cidata", files
// user-data and meta-data, and network-config when s has one. s.MetaData
// must be set (use WithDefaultMetaData first). The same seed gives the same
// bytes on any machine and at any time, so re-applies do not churn.
func Build(s Seed) ([]byte, error) {
	if err := Validate(s); err != nil {
		return nil, err
	}
	if s.MetaData == "" {
		return nil, fmt.Errorf("cloudinit: build seed: meta_data is empty; call WithDefaultMetaData first (this is a bug in the provider)")
	}
	img, err := writeImage(s)
	if err != nil {
		return nil, fmt.Errorf("cloudinit: build seed: %w (files are staged under %s: check that it is writable and has room)", err, os.TempDir())
	}
	if err := pinVolumeDescriptor(img); err != nil {
		return nil, fmt.Errorf("cloudinit: build seed: %w (this is a bug in the provider or its ISO library)", err)
	}
	return img, nil
}

// files lists what goes into the image, in a fixed order.
func files(s Seed) [][2]string {
	out := [][2]string{{UserDataFile, s.UserData}, {MetaDataFile, s.MetaData}}
	if s.NetworkConfig != "" {
		out = append(out, [2]string{NetworkConfigFile, s.NetworkConfig})
	}
	return out
}

func writeImage(s Seed) (_ []byte, err error) {
	w, err := iso9660.NewWriter()
	if err != nil {
		return nil, fmt.Errorf("create staging directory: %w", err)
	}
	defer func() {
		if cerr := w.Cleanup(); cerr != nil && err == nil {
			err = fmt.Errorf("remove staging directory: %w", cerr)
		}
	}()
	for _, f := range files(s) {
		if err := w.AddFile(strings.NewReader(f[1]), f[0]); err != nil {
			return nil, fmt.Errorf("stage %s: %w", f[0], err)
		}
	}
	var buf bytes.Buffer
	if err := w.WriteTo(&buf, Label); err != nil {
		return nil, fmt.Errorf("write image: %w", err)
	}
	return buf.Bytes(), nil
}

// pinVolumeDescriptor overwrites the writer's clock readings with ECMA-119's
// "not specified" date, its GOOS with a fixed system identifier, and the
// directory records' dates with the Unix epoch. It
// checks that the descriptor is where the standard puts it first, so a
// library that moved it fails loudly instead of corrupting the image.
func pinVolumeDescriptor(img []byte) error {
	if len(img) < pvdOffset+sectorSize {
		return fmt.Errorf("image is %d bytes, too short for a primary volume descriptor", len(img))
	}
	pvd := img[pvdOffset : pvdOffset+sectorSize]
	if pvd[0] != volumeDescPrim || string(pvd[1:6]) != standardIDBytes {
		return fmt.Errorf("no primary volume descriptor at sector 16")
	}
	copy(pvd[systemIDField:systemIDField+systemIDLength], iso9660.MarshalString(pinnedSystemID, systemIDLength))
	unspecified := iso9660.VolumeDescriptorTimestamp{}
	date, err := unspecified.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode volume date: %w", err)
	}
	for _, off := range []int{creationField, modifiedField, effectiveField} {
		copy(pvd[off:off+len(date)], date)
	}
	return pinRecordDates(img, pvd[rootRecordField:])
}

// recordDate is 1970-01-01 00:00 UTC in a directory record's seven bytes
// (years since 1900, month, day, hour, minute, second, zone). The writer
// leaves Go's zero time there, which wraps to 2049 on a guest's ls -l.
var recordDate = [7]byte{70, 1, 1, 0, 0, 0, 0}

// pinRecordDates dates the root directory's own record and every record in
// its extent. A seed has no subdirectories, so that is every record.
func pinRecordDates(img, rootRecord []byte) error {
	copy(rootRecord[recordDateField:], recordDate[:])
	start := int64(binary.LittleEndian.Uint32(rootRecord[2:6])) * sectorSize
	end := start + int64(binary.LittleEndian.Uint32(rootRecord[10:14]))
	if start < pvdOffset || end > int64(len(img)) {
		return fmt.Errorf("root directory extent [%d, %d) lies outside the %d-byte image", start, end, len(img))
	}
	for pos := start; pos < end; {
		n := int64(img[pos])
		if n == 0 { // records do not cross sectors: the rest of this one is padding
			pos = (pos/sectorSize + 1) * sectorSize
			continue
		}
		if n < int64(recordDateField+len(recordDate)) || pos+n > end {
			return fmt.Errorf("directory record of %d bytes at offset %d is malformed", n, pos)
		}
		copy(img[pos+recordDateField:], recordDate[:])
		pos += n
	}
	return nil
}
