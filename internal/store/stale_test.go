package store

import (
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

// TestChangedSinceOnStoredRows: the guard a sync applies to rows it read
// (VM.ChangedSince against its listing's time) compares instants, whatever
// format or zone a writer left in the row; the same instant counts as
// changed, and unreadable text counts as old.
func TestChangedSinceOnStoredRows(t *testing.T) {
	cases := []struct {
		name                      string
		created, updated, deleted any
		want                      bool
	}{
		{"written before the listing", at(-time.Hour), at(-time.Second), nil, false},
		{"updated after the listing", at(-time.Hour), at(time.Second), nil, true},
		{"created after the listing", at(time.Nanosecond), at(time.Nanosecond), nil, true},
		{"updated at the listing's instant", at(-time.Hour), at(0), nil, true},
		{"updated after, in another zone and RFC 3339", at(-time.Hour),
			listedAt.Add(time.Millisecond).In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano), nil, true},
		{"before, in another zone", at(-time.Hour), listedAt.Add(-time.Millisecond).In(time.FixedZone("", -5*3600)).Format(TimeFormat), nil, false},
		{"unreadable updated_at counts as old", at(-time.Hour), "yesterday", nil, false},
		{"soft-deleted before the listing", at(-time.Hour), at(-time.Hour), at(-time.Second), false},
		{"soft-deleted after the listing", at(-time.Hour), at(-time.Hour), at(time.Second), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openT(t, copyFixture(t), Options{})
			stamp(t, s, "alpha", c.created, c.updated, c.deleted)
			var rows []VM
			if err := s.Read(bg, func(tx *Tx) (err error) { rows, err = tx.ListVMsWithDeleted("local"); return err }); err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if r.Name == "alpha" {
					if got := r.ChangedSince(listedAt); got != c.want {
						t.Fatalf("ChangedSince = %v, want %v (row %+v)", got, c.want, r)
					}
					return
				}
			}
			t.Fatal("row alpha not listed")
		})
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
