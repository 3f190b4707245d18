// Package sizes converts the schema's MiB into the KiB and bytes libvirt
// takes, and holds the largest values libvirt accepts, so that no
// conversion can wrap around: a wrapped uint64 is a small, valid-looking
// size (18014398509481985 MiB of memory became a 1 MiB domain). It knows
// nothing of Terraform.
package sizes

import "math/bits"

const (
	KiBPerMiB   = 1 << 10
	BytesPerMiB = 1 << 20
)

// Limits verified on libvirt 9.0 (test and qemu drivers) and qemu-img 7.2.
const (
	// MaxMemoryKiB is the largest domain <memory> libvirt parses:
	// 2^53-1 KiB; one more fails with "numerical overflow: value too large".
	MaxMemoryKiB = 1<<53 - 1
	// MaxMemoryMiB is the largest whole MiB within MaxMemoryKiB.
	MaxMemoryMiB = MaxMemoryKiB / KiBPerMiB // 8796093022207

	// MaxVolumeBytes is the largest volume <capacity> libvirt parses
	// (a signed 64-bit byte count).
	MaxVolumeBytes = 1<<63 - 1
	// MaxVolumeMiB is the largest whole MiB within MaxVolumeBytes.
	MaxVolumeMiB = MaxVolumeBytes / BytesPerMiB // 8796093022207
	// MaxQcow2MiB is the largest qcow2 image with 64 KiB clusters, what
	// libvirt creates: 2 PiB (qemu-img: "The image size is too large for
	// file format 'qcow2'" one MiB above).
	MaxQcow2MiB = 1 << 31 // 2147483648

	// MaxVcpus bounds vcpu before libvirt sees it. libvirt itself has no
	// clear bound: it parses an unsigned int and allocates per vcpu before
	// any driver check, and vcpu = 4294967295 made libvirtd 9.0 abort on
	// a failed allocation (every client lost its connection). QEMU's
	// largest machine type limit (q35, QEMU 9) is 4096; here domcapabilities
	// says 255 for pc and 288 for q35, which libvirt checks itself.
	MaxVcpus = 4096
)

// MiBToKiB returns mib in KiB; ok is false when that overflows a uint64.
func MiBToKiB(mib uint64) (kib uint64, ok bool) { return mul(mib, KiBPerMiB) }

// MiBToBytes returns mib in bytes; ok is false when that overflows a uint64.
func MiBToBytes(mib uint64) (b uint64, ok bool) { return mul(mib, BytesPerMiB) }

func mul(a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	return lo, hi == 0
}

// MemoryKiB converts a domain memory size: ok is false for a negative
// value or one above MaxMemoryMiB.
func MemoryKiB(mib int64) (uint64, bool) {
	if mib < 0 || mib > MaxMemoryMiB {
		return 0, false
	}
	return MiBToKiB(uint64(mib))
}

// VolumeBytes converts a volume capacity: ok is false for a negative value
// or one above MaxVolumeMiB.
func VolumeBytes(mib int64) (uint64, bool) {
	if mib < 0 || mib > MaxVolumeMiB {
		return 0, false
	}
	return MiBToBytes(uint64(mib))
}
