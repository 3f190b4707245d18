package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// listedAt is the instant a sync took its libvirt listing in these tests.
var listedAt = time.Date(2026, 3, 4, 10, 0, 0, 500, time.UTC)

// stamp sets a row's timestamps to explicit text (NULL for nil).
func stamp(t *testing.T, s *Store, name string, created, updated, deleted any) {
	t.Helper()
	rawExec(t, s.Path(), "UPDATE virtual_machines SET created_at = ?, updated_at = ?, deleted_at = ? WHERE name = ?",
		created, updated, deleted, name)
}

func at(d time.Duration) string { return FormatTime(listedAt.Add(d)) }

func TestSoftDeleteVMIfUnchangedSince(t *testing.T) {
	cases := []struct {
		name             string
		created, updated any
		wantDeleted      bool
	}{
		{"written before the listing", at(-time.Hour), at(-time.Second), true},
		{"updated after the listing", at(-time.Hour), at(time.Second), false},
		{"created after the listing", at(time.Nanosecond), at(time.Nanosecond), false},
		{"updated at the listing's instant", at(-time.Hour), at(0), false},
		{"updated after, in another zone and RFC 3339", at(-time.Hour),
			listedAt.Add(time.Millisecond).In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano), false},
		{"before, in another zone", at(-time.Hour), listedAt.Add(-time.Millisecond).In(time.FixedZone("", -5*3600)).Format(TimeFormat), true},
		{"unreadable updated_at counts as old", at(-time.Hour), "yesterday", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openT(t, copyFixture(t), Options{})
			stamp(t, s, "alpha", c.created, c.updated, nil)
			if err := s.PutVMStatus(bg, VMStatus{HostID: "local", Name: "alpha", Live: cfg("alpha", 1)}); err != nil {
				t.Fatal(err)
			}
			var deleted bool
			err := s.Write(bg, func(tx *Tx) (err error) {
				deleted, err = tx.SoftDeleteVMIfUnchangedSince("local", "alpha", listedAt)
				return err
			})
			if err != nil || deleted != c.wantDeleted {
				t.Fatalf("deleted = %v, %v; want %v", deleted, err, c.wantDeleted)
			}
			_, getErr := s.GetVM(bg, "local", "alpha")
			st, _ := s.ListVMStatus(bg, "local")
			if c.wantDeleted {
				if !errors.Is(getErr, ErrNotFound) || len(st) != 0 {
					t.Fatalf("row still live (%v) or status kept (%d)", getErr, len(st))
				}
				if d := rawText(t, s.Path(), "SELECT deleted_at FROM virtual_machines WHERE name = 'alpha'"); !gormTime.MatchString(d) {
					t.Fatalf("deleted_at %q not in GORM format", d)
				}
				return
			}
			if getErr != nil || len(st) != 1 {
				t.Fatalf("a row written after the listing was touched: %v, %d statuses", getErr, len(st))
			}
		})
	}
}

func TestSoftDeleteVMIfUnchangedSinceRefuses(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	err := s.Write(bg, func(tx *Tx) error {
		_, err := tx.SoftDeleteVMIfUnchangedSince("local", "nope", listedAt)
		return err
	})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("no row: %v; want ErrNotFound", err)
	}
	err = s.Write(bg, func(tx *Tx) error {
		_, err := tx.SoftDeleteVMIfUnchangedSince("local", "alpha", time.Time{})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "listedAt is zero") {
		t.Fatalf("zero listedAt: %v", err)
	}
	if _, err := s.GetVM(bg, "local", "alpha"); err != nil {
		t.Fatalf("refused call deleted the row: %v", err)
	}
}

func TestInsertVMIfAbsentUnchangedSince(t *testing.T) {
	cases := []struct {
		name                 string
		deleted              any // alpha's deleted_at; nil = live row
		wantIns, wantRevived bool
		wantMem              uint64 // alpha's recorded memory afterwards
	}{
		{"soft-deleted before the listing: revived", at(-time.Second), false, true, 9},
		{"soft-deleted after the listing: left deleted", at(time.Second), false, false, 65536},
		{"soft-deleted at the listing's instant: left deleted", at(0), false, false, 65536},
		{"live row: left as recorded", nil, false, false, 65536},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openT(t, copyFixture(t), Options{})
			stamp(t, s, "alpha", at(-time.Hour), at(-time.Hour), c.deleted)
			before := rawText(t, s.Path(), "SELECT updated_at || ifnull(deleted_at, '-') || config_json FROM virtual_machines WHERE name = 'alpha'")
			var ins, rev bool
			var vm VM
			err := s.Write(bg, func(tx *Tx) (err error) {
				ins, rev, vm, err = tx.InsertVMIfAbsentUnchangedSince("local", "alpha", cfg("alpha", 9), listedAt)
				return err
			})
			if err != nil || ins != c.wantIns || rev != c.wantRevived || vm.Recorded.Memory != c.wantMem {
				t.Fatalf("ins=%v rev=%v memory=%d, %v; want %v %v %d", ins, rev, vm.Recorded.Memory, err, c.wantIns, c.wantRevived, c.wantMem)
			}
			after := rawText(t, s.Path(), "SELECT updated_at || ifnull(deleted_at, '-') || config_json FROM virtual_machines WHERE name = 'alpha'")
			if !rev && after != before {
				t.Fatalf("row changed without a revive:\n%s\n%s", before, after)
			}
			if (vm.DeletedAt != nil) != (c.deleted != nil && !rev) {
				t.Fatalf("returned DeletedAt = %v", vm.DeletedAt)
			}
		})
	}
}

func TestInsertVMIfAbsentUnchangedSinceInserts(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	var ins bool
	var vm VM
	err := s.Write(bg, func(tx *Tx) (err error) {
		ins, _, vm, err = tx.InsertVMIfAbsentUnchangedSince("local", "new", cfg("new", 3), listedAt)
		return err
	})
	if err != nil || !ins || vm.RecordedFrom != RecordedFromTable || vm.Recorded.Memory != 3 {
		t.Fatalf("absent row: ins=%v %+v, %v", ins, vm, err)
	}
	err = s.Write(bg, func(tx *Tx) error {
		_, _, _, err := tx.InsertVMIfAbsentUnchangedSince("local", "other", cfg("other", 3), time.Time{})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "listedAt is zero") {
		t.Fatalf("zero listedAt: %v", err)
	}
}

func TestChangedSince(t *testing.T) {
	old := listedAt.Add(-time.Minute)
	del := listedAt.Add(time.Minute)
	for _, c := range []struct {
		name string
		vm   VM
		want bool
	}{
		{"all before", VM{CreatedAt: old, UpdatedAt: old}, false},
		{"zero (unreadable) times", VM{}, false},
		{"deleted after", VM{CreatedAt: old, UpdatedAt: old, DeletedAt: &del}, true},
		{"recorded after", VM{CreatedAt: old, UpdatedAt: old, RecordedAt: del}, true},
		{"updated at the instant", VM{CreatedAt: old, UpdatedAt: listedAt}, true},
	} {
		if got := c.vm.ChangedSince(listedAt); got != c.want {
			t.Errorf("%s: ChangedSince = %v, want %v", c.name, got, c.want)
		}
	}
}
