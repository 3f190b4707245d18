package store

import (
	"errors"
	"path/filepath"
	"testing"
)

func versionOf(t testing.TB, s *Store) int64 {
	t.Helper()
	v, err := s.DataVersion(bg)
	if err != nil {
		t.Fatalf("DataVersion: %v", err)
	}
	return v
}

// Every committed change moves the version, whoever makes it; reads and
// rolled-back writes do not.
func TestDataVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "virtumancer.db")
	s := openT(t, path, Options{})
	v := versionOf(t, s)
	same := func(what string) {
		t.Helper()
		if got := versionOf(t, s); got != v {
			t.Fatalf("%s changed the data version %d -> %d", what, v, got)
		}
	}
	changed := func(what string) {
		t.Helper()
		got := versionOf(t, s)
		if got == v {
			t.Fatalf("%s left the data version at %d", what, v)
		}
		v = got
	}
	same("nothing")
	if _, err := s.ListVMs(bg, "h"); err != nil {
		t.Fatal(err)
	}
	same("a read through the store")
	rawText(t, path, "SELECT count(*) FROM virtual_machines")
	same("a read through a raw sqlite connection")
	boom := errors.New("boom")
	err := s.Write(bg, func(tx *Tx) error {
		if err := tx.PutHost(Host{ID: "rolled-back"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	same("a rolled-back write")

	if _, err := s.UpsertVM(bg, "h", "v", cfg("v", 1)); err != nil {
		t.Fatal(err)
	}
	changed("a write through the store's own pool")
	other := openT(t, path, Options{})
	if err := other.PutHost(bg, Host{ID: "h2"}); err != nil {
		t.Fatal(err)
	}
	changed("a write through a second store.Open")
	rawExec(t, path, "UPDATE hosts SET uri = 'test:///default' WHERE id = 'h2'")
	changed("a write through a raw sqlite connection")
	same("nothing after the writes")
}

// The sync service polls DataVersion every 100-200 ms; a call must cost
// microseconds (go test -bench DataVersion ./internal/store/).
// ForeignDataVersion moves for every writer but the store itself, so the
// sync service's watch of other writers never wakes for its own commits.
func TestForeignDataVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "virtumancer.db")
	s := openT(t, path, Options{})
	version := func() int64 {
		t.Helper()
		v, err := s.ForeignDataVersion(bg)
		if err != nil {
			t.Fatalf("ForeignDataVersion: %v", err)
		}
		return v
	}
	v := version()
	check := func(what string, moved bool) {
		t.Helper()
		got := version()
		if (got != v) != moved {
			t.Fatalf("%s: foreign data version %d -> %d, want moved=%v", what, v, got, moved)
		}
		v = got
	}
	for i := range 3 {
		if _, err := s.UpsertVM(bg, "h", "v", cfg("v", uint64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	check("the store's own writes", false)
	if _, err := s.ListVMs(bg, "h"); err != nil {
		t.Fatal(err)
	}
	check("the store's own read", false)
	other := openT(t, path, Options{})
	if err := other.PutHost(bg, Host{ID: "h2"}); err != nil {
		t.Fatal(err)
	}
	check("a write through a second store.Open", true)
	rawExec(t, path, "UPDATE hosts SET uri = 'test:///default' WHERE id = 'h2'")
	check("a write through a raw sqlite connection", true)
	if err := s.PutHost(bg, Host{ID: "h3"}); err != nil {
		t.Fatal(err)
	}
	rawExec(t, path, "UPDATE hosts SET uri = 'qemu:///system' WHERE id = 'h3'")
	check("a raw write just after an own write", true)
	check("nothing", false)

	ro := openT(t, path, Options{ReadOnly: true})
	before, err := ro.ForeignDataVersion(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertVM(bg, "h", "v", cfg("v", 9)); err != nil {
		t.Fatal(err)
	}
	if after, err := ro.ForeignDataVersion(bg); err != nil || after == before {
		t.Fatalf("read-only store: %d -> %d, %v; want another store's write to move it", before, after, err)
	}
}

func BenchmarkDataVersion(b *testing.B) {
	s := newStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.DataVersion(bg); err != nil {
			b.Fatal(err)
		}
	}
}

// The same with another connection committing all the while, so each call
// sees a changed WAL index.
func BenchmarkDataVersionWithWriter(b *testing.B) {
	path := filepath.Join(b.TempDir(), "virtumancer.db")
	s := openT(b, path, Options{})
	w := openT(b, path, Options{})
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			if _, err := w.UpsertVM(bg, "h", "v", cfg("v", uint64(i))); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for b.Loop() {
		if _, err := s.DataVersion(bg); err != nil {
			b.Fatal(err)
		}
	}
	close(done)
	<-stopped
}
