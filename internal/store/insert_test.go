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
