package store

import "testing"

// HostRows stand in for a listing inside a write only while nothing at all
// was committed since they were read: not by this store, not by another
// connection, and not to a file opened again.
func TestHostRowsCurrentUntilAnyCommit(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpsertVM(bg, "local", "a", cfg("a", 1)); err != nil {
		t.Fatal(err)
	}
	current := func(rows HostRows) bool {
		t.Helper()
		var ok bool
		err := s.Write(bg, func(tx *Tx) error {
			var err error
			ok, err = tx.Current(rows)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	read := func() HostRows {
		t.Helper()
		rows, err := s.ReadHostRows(bg, "local")
		if err != nil || len(rows.VMs) == 0 || rows.VMs[0].Name != "a" {
			t.Fatalf("ReadHostRows: %d rows, %v; want row a first", len(rows.VMs), err)
		}
		return rows
	}
	rows := read()
	for range 2 { // a write that only checked commits nothing
		if !current(rows) {
			t.Fatal("rows read with nothing committed since are not current")
		}
	}
	if _, err := s.UpsertVM(bg, "local", "b", cfg("b", 1)); err != nil {
		t.Fatal(err)
	}
	if current(rows) {
		t.Error("rows are current after this store committed a row")
	}
	rows = read()
	rawExec(t, s.Path(), "UPDATE virtual_machines SET updated_at = '2020-01-01 00:00:00+00:00' WHERE name = 'a'")
	if current(rows) {
		t.Error("rows are current after another connection committed")
	}
	rows = read()
	if err := s.Reopen(bg); err != nil {
		t.Fatal(err)
	}
	if current(rows) {
		t.Error("rows read before a Reopen are current")
	}
	if current(HostRows{}) {
		t.Error("rows never read are current")
	}
	err := s.Read(bg, func(tx *Tx) error {
		if _, err := tx.Current(read()); err == nil {
			t.Error("Current answered inside a read transaction, which cannot keep writers out")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
