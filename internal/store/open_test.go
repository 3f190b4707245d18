package store

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

const noStoreAdvice = "the first apply of a virtumancer_host creates it"

// fileSum is the SHA-256 of a file's bytes, to prove a read wrote nothing.
func fileSum(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func vmsyncTables(t testing.TB, path string) string {
	t.Helper()
	return rawText(t, path, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'vmsync%'")
}

// Every read of a missing file says where and what to do, and leaves no
// file (nor -wal, -shm, -journal) behind.
func TestCreateOnWriteMissingFileReads(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s := openT(t, "virtumancer.db", Options{CreateOnWrite: true})
	abs := filepath.Join(dir, "virtumancer.db")
	reads := map[string]func() error{
		"ListHosts":      func() error { _, err := s.ListHosts(bg); return err },
		"ListVMs":        func() error { _, err := s.ListVMs(bg, "h"); return err },
		"GetVM":          func() error { _, err := s.GetVM(bg, "h", "v"); return err },
		"ListVMStatus":   func() error { _, err := s.ListVMStatus(bg, ""); return err },
		"ListHostStatus": func() error { _, err := s.ListHostStatus(bg); return err },
		"ListDrifted":    func() error { _, err := s.ListDrifted(bg); return err },
		"DataVersion":    func() error { _, err := s.DataVersion(bg); return err },
	}
	for name, read := range reads {
		err := read()
		if !errors.Is(err, ErrNoStore) {
			t.Errorf("%s: err = %v, want ErrNoStore", name, err)
			continue
		}
		for _, want := range []string{abs, noStoreAdvice} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q lacks %q", name, err, want)
			}
		}
	}
	if err := s.CheckFile(); err != nil {
		t.Errorf("CheckFile with no file open: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("reads left files behind: %v", left)
	}
	t.Log(reads["ListHosts"]())
}

// A store Virtumancer made reads as "nothing recorded yet" and is not
// changed by byte: no vmsync_ tables, no WAL switch.
func TestCreateOnWriteFixtureReadsNothingRecorded(t *testing.T) {
	path := copyFixture(t)
	before := fileSum(t, path)
	s := openT(t, path, Options{CreateOnWrite: true})
	hosts, err := s.ListHosts(bg)
	if err != nil || !slices.Equal(hosts, []Host{{ID: "local", URI: "qemu:///system"}}) {
		t.Fatalf("ListHosts = %v, %v", hosts, err)
	}
	if vms, err := s.ListVMs(bg, "local"); err != nil || len(vms) != 2 {
		t.Fatalf("ListVMs = %v, %v", vms, err)
	}
	if st, err := s.ListVMStatus(bg, ""); err != nil || len(st) != 0 {
		t.Fatalf("ListVMStatus = %v, %v", st, err)
	}
	if st, err := s.ListHostStatus(bg); err != nil || len(st) != 0 {
		t.Fatalf("ListHostStatus = %v, %v", st, err)
	}
	if st, err := s.ListDrifted(bg); err != nil || len(st) != 0 {
		t.Fatalf("ListDrifted = %v, %v", st, err)
	}
	// Any query sees our tables, joins included (a row of Virtumancer's
	// with no status of ours).
	var joined string
	err = s.Read(bg, func(tx *Tx) error {
		return tx.query("join", "SELECT count(*) || ':' || count(st.name) FROM virtual_machines v "+
			"LEFT JOIN vmsync_vm_status st ON st.host_id = v.host_id AND st.name = v.name WHERE v.deleted_at IS NULL",
			func(r row) error { joined = r.Text(0); return nil })
	})
	if err != nil || joined != "2:0" {
		t.Fatalf("join = %q, %v", joined, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fileSum(t, path) != before {
		t.Fatal("reads changed the file")
	}
	if n := vmsyncTables(t, path); n != "0" {
		t.Fatalf("%s vmsync_ objects created by reads", n)
	}
	if mode := rawText(t, path, "PRAGMA journal_mode"); mode != "delete" {
		t.Fatalf("journal_mode = %q; reads must not switch it", mode)
	}
}

// The first write creates the file: mode 0600, Virtumancer's DDL, our
// migrations, WAL; reads then use the real tables.
func TestCreateOnWriteFirstWriteCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "virtumancer.db")
	s := openT(t, path, Options{CreateOnWrite: true})
	if _, err := s.ListHosts(bg); !errors.Is(err, ErrNoStore) {
		t.Fatalf("ListHosts before the first write = %v", err)
	}
	if err := s.PutHost(bg, Host{ID: "h", URI: "test:///default"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file: %v, %v; want mode 0600", fi, err)
	}
	if got, want := virtumancerSchemaText(t, path), virtumancerSchemaText(t, copyFixture(t)); got != want {
		t.Fatalf("schema:\n%s\nwant:\n%s", got, want)
	}
	if n := rawText(t, path, "SELECT count(*) FROM vmsync_migrations"); n != strconv.Itoa(len(migrations)) {
		t.Fatalf("%s migrations recorded, want %d", n, len(migrations))
	}
	if mode := rawText(t, path, "PRAGMA journal_mode"); mode != "wal" {
		t.Fatalf("journal_mode = %q", mode)
	}
	if err := s.PutVMStatus(bg, VMStatus{HostID: "h", Name: "v"}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.ListVMStatus(bg, "h"); err != nil || len(st) != 1 {
		t.Fatalf("ListVMStatus = %v, %v", st, err)
	}
	if err := s.CheckFile(); err != nil {
		t.Fatalf("CheckFile: %v", err)
	}
}

// The first write migrates a Virtumancer file; a connection that served
// reads before (with temp copies) must then see the real tables. One
// connection makes sure it is the same one.
func TestCreateOnWriteFirstWriteMigratesFixture(t *testing.T) {
	path := copyFixture(t)
	want := virtumancerSchemaText(t, path)
	s := openT(t, path, Options{CreateOnWrite: true, PoolSize: 1})
	if st, err := s.ListVMStatus(bg, ""); err != nil || len(st) != 0 {
		t.Fatalf("ListVMStatus = %v, %v", st, err)
	}
	if _, err := s.UpsertVM(bg, "local", "gamma", cfg("gamma", 1024)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutVMStatus(bg, VMStatus{HostID: "local", Name: "gamma"}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.ListVMStatus(bg, ""); err != nil || len(st) != 1 {
		t.Fatalf("after the first write, ListVMStatus = %v, %v; temp copies must be gone", st, err)
	}
	if n := rawText(t, path, "SELECT count(*) FROM vmsync_vm_status"); n != "1" {
		t.Fatalf("the file holds %s status rows, want 1: the write went to a temp copy", n)
	}
	if n := vmsyncTables(t, path); n == "0" {
		t.Fatal("first write did not migrate")
	}
	if got := virtumancerSchemaText(t, path); got != want {
		t.Fatalf("Virtumancer's schema changed:\n%s\nwant:\n%s", got, want)
	}
}

// Another process migrating the file while we read through temp copies:
// our next reads see its rows, on every pooled connection.
func TestShadowFollowsAnotherMigrator(t *testing.T) {
	path := copyFixture(t)
	a := openT(t, path, Options{CreateOnWrite: true, PoolSize: 2})
	for range 4 {
		if st, err := a.ListVMStatus(bg, ""); err != nil || len(st) != 0 {
			t.Fatalf("ListVMStatus = %v, %v", st, err)
		}
	}
	b := openT(t, path, Options{})
	if err := b.PutVMStatus(bg, VMStatus{HostID: "local", Name: "alpha"}); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if st, err := a.ListVMStatus(bg, ""); err != nil || len(st) != 1 {
			t.Fatalf("read %d after b migrated: ListVMStatus = %v, %v", i, st, err)
		}
	}
}

// An empty file (touch) is no store: reads say so and do not change it;
// the first write makes it one.
func TestCreateOnWriteEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "virtumancer.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openT(t, path, Options{CreateOnWrite: true})
	_, err := s.ListHosts(bg)
	if !errors.Is(err, ErrNoStore) || !strings.Contains(err.Error(), "missing table hosts") || !strings.Contains(err.Error(), path) {
		t.Fatalf("ListHosts = %v", err)
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Fatalf("read wrote %d bytes", fi.Size())
	}
	if err := s.PutHost(bg, Host{ID: "h"}); err != nil {
		t.Fatal(err)
	}
	if hosts, err := s.ListHosts(bg); err != nil || len(hosts) != 1 {
		t.Fatalf("ListHosts = %v, %v", hosts, err)
	}
}

// A file created by someone else after Open is picked up by the next read.
func TestCreateOnWriteFileAppearsLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "virtumancer.db")
	s := openT(t, path, Options{CreateOnWrite: true})
	if _, err := s.ListHosts(bg); !errors.Is(err, ErrNoStore) {
		t.Fatalf("ListHosts = %v", err)
	}
	other := openT(t, path, Options{})
	if err := other.PutHost(bg, Host{ID: "later"}); err != nil {
		t.Fatal(err)
	}
	if hosts, err := s.ListHosts(bg); err != nil || len(hosts) != 1 || hosts[0].ID != "later" {
		t.Fatalf("ListHosts = %v, %v", hosts, err)
	}
}

func TestOpenOptionsExclusive(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "x.db"), Options{ReadOnly: true, CreateOnWrite: true})
	if err == nil || !strings.Contains(err.Error(), "exclude each other") {
		t.Fatalf("err = %v", err)
	}
}

func TestReadOnlyMissingFileIsNoStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.db")
	_, err := Open(path, Options{ReadOnly: true})
	if !errors.Is(err, ErrNoStore) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
}

func TestClosedStore(t *testing.T) {
	s := newStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListHosts(bg); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("ListHosts after Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// An unwritable Virtumancer file: reads work and record nothing; the first
// write says what to fix, and reads keep working after it.
func TestCreateOnWriteReadOnlyFile(t *testing.T) {
	path := copyFixture(t)
	chattrImmutable(t, path)
	s := openT(t, path, Options{CreateOnWrite: true})
	if st, err := s.ListDrifted(bg); err != nil || len(st) != 0 {
		t.Fatalf("ListDrifted = %v, %v", st, err)
	}
	_, err := s.UpsertVM(bg, "local", "x", cfg("x", 1))
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "fix the permissions") {
		t.Fatalf("UpsertVM = %v, want ErrReadOnly with advice", err)
	}
	t.Log(err)
	if vms, err := s.ListVMs(bg, "local"); err != nil || len(vms) != 2 {
		t.Fatalf("ListVMs after the failed write = %v, %v", vms, err)
	}
}

// A write lock held elsewhere for longer than the retries: the first write
// reports ErrBusy in words, never "database is locked"; once the lock is
// gone the next write creates our tables.
func TestCreateOnWriteLockedFile(t *testing.T) {
	path := copyFixture(t)
	s := openT(t, path, Options{CreateOnWrite: true, BusyTimeout: 50 * time.Millisecond, MaxRetries: 1})
	holder, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := sqlitex.ExecuteTransient(holder, "BEGIN EXCLUSIVE", nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpsertVM(bg, "local", "x", cfg("x", 1))
	if !errors.Is(err, ErrBusy) || strings.Contains(err.Error(), "database is locked") || !strings.Contains(err.Error(), path) {
		t.Fatalf("UpsertVM under a held lock = %v, want ErrBusy in words", err)
	}
	t.Log(err)
	if err := sqlitex.ExecuteTransient(holder, "ROLLBACK", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertVM(bg, "local", "x", cfg("x", 1)); err != nil {
		t.Fatalf("UpsertVM after the lock was released: %v", err)
	}
	if n := vmsyncTables(t, path); n == "0" {
		t.Fatal("the write did not migrate")
	}
}
