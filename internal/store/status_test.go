package store

import (
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

func TestStatus(t *testing.T) {
	s := newStore(t)
	at := time.Date(2026, 5, 1, 10, 0, 0, 123, time.UTC)
	drift := []vminfo.Drift{{Field: "memory", Recorded: "1024", Live: "2048"}}
	for _, st := range []VMStatus{
		{HostID: "b", Name: "x", Live: cfg("x", 2048), Drift: drift, State: 1, ObservedAt: at},
		{HostID: "a", Name: "y", Live: cfg("y", 1), State: 5, ObservedAt: at},
		{HostID: "a", Name: "z", Live: cfg("z", 1), Drift: drift, ObservedAt: at},
	} {
		if err := s.PutVMStatus(bg, st); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListVMStatus(bg, "")
	if err != nil || len(all) != 3 || all[0].Name != "y" || all[2].HostID != "b" {
		t.Fatalf("ListVMStatus = %+v, %v", all, err)
	}
	if !all[2].ObservedAt.Equal(at) || all[2].Live.Memory != 2048 || all[2].State != 1 || len(all[2].Drift) != 1 {
		t.Fatalf("round trip: %+v", all[2])
	}
	drifted, err := s.ListDrifted(bg)
	if err != nil || len(drifted) != 2 || drifted[0].Name != "z" || drifted[1].Name != "x" {
		t.Fatalf("ListDrifted = %+v, %v", drifted, err)
	}
	// Replacing clears drift.
	if err := s.PutVMStatus(bg, VMStatus{HostID: "a", Name: "z", Live: cfg("z", 1)}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.ListDrifted(bg); len(d) != 1 {
		t.Fatalf("drift not cleared: %+v", d)
	}
	if a, _ := s.ListVMStatus(bg, "a"); len(a) != 2 || a[1].ObservedAt.IsZero() {
		t.Fatalf("host a: %+v", a)
	}
	if err := s.DeleteVMStatus(bg, "a", "z"); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.ListVMStatus(bg, "a"); len(a) != 1 {
		t.Fatalf("after delete: %+v", a)
	}

	hs := []HostStatus{
		{HostID: "h2", Connected: false, LastError: "dial: refused", LastErrorAt: &at, VMCount: 0},
		{HostID: "h1", Connected: true, LastSyncAt: &at, VMCount: 3},
	}
	for _, h := range hs {
		if err := s.PutHostStatus(bg, h); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListHostStatus(bg)
	if err != nil || len(got) != 2 {
		t.Fatalf("ListHostStatus = %+v, %v", got, err)
	}
	h1, h2 := got[0], got[1]
	if !h1.Connected || h1.VMCount != 3 || h1.LastSyncAt == nil || !h1.LastSyncAt.Equal(at) || h1.LastErrorAt != nil || h1.LastError != "" {
		t.Fatalf("h1 = %+v", h1)
	}
	if h2.Connected || h2.LastError != "dial: refused" || h2.LastErrorAt == nil || h2.LastSyncAt != nil {
		t.Fatalf("h2 = %+v", h2)
	}
}

// Soft-deleting a VM drops its status, so a deleted VM never shows as drifted.
func TestSoftDeleteDropsStatus(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpsertVM(bg, "h", "v", cfg("v", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutVMStatus(bg, VMStatus{HostID: "h", Name: "v", Drift: []vminfo.Drift{{Field: "vcpu"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SoftDeleteVM(bg, "h", "v"); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.ListDrifted(bg); len(d) != 0 {
		t.Fatalf("drift of a deleted VM: %+v", d)
	}
}
