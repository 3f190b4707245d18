package hypervisor

import (
	"errors"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// TestUsageMemoBounded: PlanVolumeUsers' index serves reads on the same
// connection within its age, is read again on another connection, is
// dropped by its timer once that age has passed (no later call needed),
// is not kept after a failed read, and goes when the pool closes.
func TestUsageMemoBounded(t *testing.T) {
	reads := 0
	read := func(*libvirt.Libvirt) (*usageIndex, error) {
		reads++
		return &usageIndex{}, nil
	}
	l1, l2 := new(libvirt.Libvirt), new(libvirt.Libvirt)
	m := &usageMemo{age: 100 * time.Millisecond}
	a, _ := m.get(l1, read)
	b, _ := m.get(l1, read)
	if reads != 1 || a != b {
		t.Fatalf("two gets within the age read %d times (same index: %v), want 1", reads, a == b)
	}
	if _, _ = m.get(l2, read); reads != 2 {
		t.Fatalf("a get on another connection read %d times in all, want 2", reads)
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.held() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if m.held() {
		t.Fatal("the index is still held 5 s after its 100 ms age")
	}

	boom := errors.New("boom")
	if _, err := m.get(l1, func(*libvirt.Libvirt) (*usageIndex, error) { return nil, boom }); !errors.Is(err, boom) || m.held() {
		t.Fatalf("failed read: err %v, held %v; want boom and nothing held", err, m.held())
	}

	p := NewPool(Options{})
	s, err := p.shared("h", "test:///default")
	if err != nil {
		t.Fatal(err)
	}
	s.usage.age = time.Hour
	if _, err := s.usage.get(l1, read); err != nil || !s.usage.held() {
		t.Fatalf("get on the pool's connection: %v, held %v", err, s.usage.held())
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if s.usage.held() {
		t.Error("the index outlived the pool's Close")
	}
}
