package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestCheckFileDeletedThenReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "virtumancer.db")
	s := openT(t, path, Options{})
	if _, err := s.UpsertVM(bg, "h", "old", cfg("old", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckFile(); err != nil {
		t.Fatalf("CheckFile = %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	err := s.CheckFile()
	if !errors.Is(err, ErrFileGone) || errors.Is(err, ErrFileReplaced) {
		t.Fatalf("CheckFile after delete = %v, want ErrFileGone", err)
	}
	for _, want := range []string{path, "must be reopened"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	t.Log(err)
	if err := s.Reopen(bg); err != nil {
		t.Fatalf("Reopen = %v", err)
	}
	if err := s.CheckFile(); err != nil {
		t.Fatalf("CheckFile after Reopen = %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("reopened file: %v, %v", fi, err)
	}
	if vms, err := s.ListVMs(bg, "h"); err != nil || len(vms) != 0 {
		t.Fatalf("new file ListVMs = %v, %v", vms, err)
	}
	if _, err := s.UpsertVM(bg, "h", "new", cfg("new", 1)); err != nil {
		t.Fatal(err)
	}
	if n := rawText(t, path, "SELECT group_concat(name) FROM virtual_machines"); n != "new" {
		t.Fatalf("file at the path holds %q, want the write made after Reopen", n)
	}
}

func TestCheckFileReplacedThenReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "virtumancer.db")
	s := openT(t, path, Options{})
	if err := s.PutHost(bg, Host{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.db")
	o := openT(t, other, Options{})
	if err := o.PutHost(bg, Host{ID: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	err := s.CheckFile()
	if !errors.Is(err, ErrFileReplaced) || errors.Is(err, ErrFileGone) {
		t.Fatalf("CheckFile after replace = %v, want ErrFileReplaced", err)
	}
	for _, want := range []string{path, "must be reopened"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	t.Log(err)
	if err := s.Reopen(bg); err != nil {
		t.Fatalf("Reopen = %v", err)
	}
	if hosts, err := s.ListHosts(bg); err != nil || len(hosts) != 1 || hosts[0].ID != "b" {
		t.Fatalf("after Reopen ListHosts = %v, %v; want the replacing file's host b", hosts, err)
	}
	// Our old WAL frames must not have leaked into the new file for anyone.
	if got := rawText(t, path, "SELECT group_concat(id) FROM hosts"); got != "b" {
		t.Fatalf("another connection reads hosts %q from the replacing file, want b", got)
	}
	if err := s.CheckFile(); err != nil {
		t.Fatalf("CheckFile after Reopen = %v", err)
	}
}

// Reopen waits for transactions in flight and swaps the pool under none:
// readers and writers running throughout see no error.
func TestReopenUnderLoad(t *testing.T) {
	s := newStore(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if w%2 == 0 {
					_, err = s.ListVMs(bg, "h")
				} else {
					_, err = s.UpsertVM(bg, "h", "v", cfg("v", uint64(i)))
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		}()
	}
	for range 5 {
		if err := s.Reopen(bg); err != nil {
			t.Errorf("Reopen: %v", err)
		}
		if _, err := s.DataVersion(bg); err != nil {
			t.Errorf("DataVersion: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	if vms, err := s.ListVMs(bg, "h"); err != nil || len(vms) != 1 {
		t.Fatalf("ListVMs = %v, %v", vms, err)
	}
}

// A CreateOnWrite store forgets a deleted file on Reopen: reads say there
// is no store instead of creating one.
func TestReopenCreateOnWriteDeleted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "virtumancer.db")
	s := openT(t, path, Options{CreateOnWrite: true})
	if err := s.PutHost(bg, Host{ID: "h"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckFile(); !errors.Is(err, ErrFileGone) {
		t.Fatalf("CheckFile = %v", err)
	}
	if err := s.Reopen(bg); err != nil {
		t.Fatalf("Reopen = %v", err)
	}
	if _, err := s.ListHosts(bg); !errors.Is(err, ErrNoStore) {
		t.Fatalf("ListHosts = %v, want ErrNoStore", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Reopen created the file: %v", err)
	}
}
