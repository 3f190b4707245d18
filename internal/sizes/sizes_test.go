package sizes

import (
	"math"
	"testing"
)

func TestConversions(t *testing.T) {
	cases := []struct {
		name string
		f    func(uint64) (uint64, bool)
		in   uint64
		want uint64
		ok   bool
	}{
		{"kib one", MiBToKiB, 1, 1024, true},
		{"kib max", MiBToKiB, math.MaxUint64 >> 10, (math.MaxUint64 >> 10) << 10, true},
		{"kib wraps to 1 MiB", MiBToKiB, 18014398509481985, 0, false},
		{"bytes one", MiBToBytes, 1, 1 << 20, true},
		{"bytes max", MiBToBytes, math.MaxUint64 >> 20, (math.MaxUint64 >> 20) << 20, true},
		{"bytes over", MiBToBytes, math.MaxUint64>>20 + 1, 0, false},
	}
	for _, c := range cases {
		got, ok := c.f(c.in)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s: (%d) = %d, %v; want %d, %v", c.name, c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestLimits(t *testing.T) {
	if MaxMemoryMiB != 8796093022207 || MaxVolumeMiB != 8796093022207 || MaxQcow2MiB != 2147483648 {
		t.Fatalf("limits moved: memory %d, volume %d, qcow2 %d", MaxMemoryMiB, MaxVolumeMiB, MaxQcow2MiB)
	}
	if kib, ok := MemoryKiB(MaxMemoryMiB); !ok || kib > MaxMemoryKiB {
		t.Errorf("MemoryKiB(max) = %d, %v; want <= %d", kib, ok, uint64(MaxMemoryKiB))
	}
	if b, ok := VolumeBytes(MaxVolumeMiB); !ok || b > MaxVolumeBytes {
		t.Errorf("VolumeBytes(max) = %d, %v; want <= %d", b, ok, uint64(MaxVolumeBytes))
	}
	for _, bad := range []int64{-1, MaxMemoryMiB + 1, 18014398509481985, math.MaxInt64} {
		if _, ok := MemoryKiB(bad); ok {
			t.Errorf("MemoryKiB(%d) accepted", bad)
		}
		if _, ok := VolumeBytes(bad); ok {
			t.Errorf("VolumeBytes(%d) accepted", bad)
		}
	}
}
