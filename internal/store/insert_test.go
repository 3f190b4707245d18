package store

import (
	"reflect"
	"testing"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// The row InsertVMIfAbsent builds for a new VM (instead of reading it
// back) is exactly what reading it back gives, lists nil or empty alike.
func TestInsertVMIfAbsentReturnsTheStoredRow(t *testing.T) {
	s := newStore(t)
	full := cfg("full", 5)
	full.Disks = []vminfo.Disk{{Device: "disk", Path: "/a"}}
	full.Interfaces = []vminfo.Interface{}
	bad := cfg("bad", 4)
	bad.Disks = []vminfo.Disk{{Path: "/a\xff"}} // Marshal replaces invalid UTF-8
	esc := cfg("esc", 4)
	esc.UUID = `a\ufffd<&>"` // looks like the replacement: read back
	empty := cfg("empty", 6)
	empty.Disks, empty.Interfaces = []vminfo.Disk{}, nil
	for _, c := range []vminfo.VMInfo{cfg("plain", 3), full, bad, esc, empty} {
		err := s.Write(bg, func(tx *Tx) error {
			ins, _, got, err := tx.InsertVMIfAbsent("local", c.Name, c)
			if err != nil || !ins {
				t.Fatalf("insert %s: inserted=%v, %v", c.Name, ins, err)
			}
			want, err := tx.vmByID("read back", got.ID)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("inserted row differs from its read-back:\n got %#v\nwant %#v", got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A row whose record is config_json's own text is parsed once: Recorded
// still equals a parse of its text and shares no list with Config.
func TestListedRecordParsedOnceSharesNothing(t *testing.T) {
	s := newStore(t)
	c := cfg("one", 5)
	c.Disks = []vminfo.Disk{{Device: "disk", Path: "/a"}}
	if _, err := s.UpsertVM(bg, "local", "one", c); err != nil {
		t.Fatal(err)
	}
	vm, err := s.GetVM(bg, "local", "one")
	if err != nil {
		t.Fatal(err)
	}
	want, err := vminfo.Parse([]byte(vm.RecordedJSON))
	if err != nil || vm.RecordedJSON != vm.ConfigJSON || !reflect.DeepEqual(vm.Recorded, want) {
		t.Fatalf("recorded %#v, want %#v (%v)", vm.Recorded, want, err)
	}
	vm.Recorded.Disks[0].Path = "/changed"
	if vm.Config.Disks[0].Path != "/a" {
		t.Fatal("Recorded and Config share their disks")
	}
}

// InsertListedVMIfAbsent acts on the row the caller listed as
// InsertVMIfAbsent acts on the row it looks up: none inserts, a live one
// is returned untouched, a soft-deleted one is revived with cfg.
func TestInsertListedVMIfAbsentActsOnTheListedRow(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpsertVM(bg, "local", "live", cfg("live", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertVM(bg, "local", "gone", cfg("gone", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.SoftDeleteVM(bg, "local", "gone"); err != nil {
		t.Fatal(err)
	}
	err := s.Write(bg, func(tx *Tx) error {
		rows, err := tx.ListVMsWithDeleted("local")
		if err != nil || len(rows) != 2 {
			t.Fatalf("listed %d rows, %v", len(rows), err)
		}
		byName := map[string]*VM{"gone": &rows[0], "live": &rows[1]}
		for _, c := range []struct {
			name         string
			ins, rev     bool
			wantMemoryKB uint64
		}{{"new", true, false, 7}, {"live", false, false, 1}, {"gone", false, true, 7}} {
			ins, rev, vm, err := tx.InsertListedVMIfAbsent("local", c.name, cfg(c.name, 7), byName[c.name])
			if err != nil || ins != c.ins || rev != c.rev || vm.Recorded.Memory != c.wantMemoryKB || vm.DeletedAt != nil {
				t.Errorf("%s: inserted=%v revived=%v memory=%d deleted=%v, %v; want %v %v %d live",
					c.name, ins, rev, vm.Recorded.Memory, vm.DeletedAt, err, c.ins, c.rev, c.wantMemoryKB)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint64{"new": 7, "live": 1, "gone": 7} {
		if got := mustGet(t, s, "local", name); got.Recorded.Memory != want || got.Config.Memory != want {
			t.Errorf("%s stored memory %d/%d, want %d", name, got.Recorded.Memory, got.Config.Memory, want)
		}
	}
}
