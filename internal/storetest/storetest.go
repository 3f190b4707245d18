// Package storetest helps acceptance tests look at and tamper with a store
// behind the provider's back: exact row snapshots (to assert that a failed
// operation left the store unchanged), out-of-band writes (a host or a
// corrupt config_json row that Terraform did not create), and making the
// file read-only, even for root. Snapshot, Unchanged, Open, Exec and Text
// take either a SQLite path or a postgres:// URL (VIRTUMANCER_TEST_STORE);
// CopyFixture, Fixture and MakeReadOnly are about SQLite files only.
package storetest

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// Absent is the snapshot of a store file that does not exist.
const Absent = "<no store file>"

// snapshotQueries read Virtumancer's tables on either backend.
var snapshotQueries = []string{
	"SELECT 'host', id, uri FROM hosts ORDER BY id",
	"SELECT 'vm', id, created_at, updated_at, deleted_at, name, host_id, config_json FROM virtual_machines ORDER BY id",
}

// Snapshot renders every row of Virtumancer's tables (hosts and
// virtual_machines, soft-deleted rows and timestamps included) as text, so
// two snapshots are equal exactly when those tables are. It opens the file
// read-only and changes nothing.
func Snapshot(t testing.TB, dbPath string) string {
	t.Helper()
	if store.IsPostgresURL(dbPath) {
		return pgSnapshot(t, dbPath)
	}
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return Absent
	}
	conn, err := sqlite.OpenConn(dbPath, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatalf("snapshot of %s: %v", dbPath, err)
	}
	defer conn.Close()
	var b strings.Builder
	for _, q := range snapshotQueries {
		err := sqlitex.ExecuteTransient(conn, q, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			for i := range st.ColumnCount() {
				if i > 0 {
					b.WriteString(" | ")
				}
				if st.ColumnType(i) == sqlite.TypeNull {
					b.WriteString("NULL")
				} else {
					b.WriteString(st.ColumnText(i))
				}
			}
			b.WriteString("\n")
			return nil
		}})
		if err != nil && !strings.Contains(err.Error(), "no such table") {
			t.Fatalf("snapshot of %s: %s: %v", dbPath, q, err)
		}
	}
	return b.String()
}

// Unchanged returns a check that fails the test when the store differs
// from before (a snapshot taken earlier).
func Unchanged(t testing.TB, dbPath, before string) {
	t.Helper()
	if after := Snapshot(t, dbPath); after != before {
		t.Errorf("store %s changed:\nbefore:\n%s\nafter:\n%s", dbPath, before, after)
	}
}

// Open opens the store read-write for out-of-band changes; it is closed
// when the test ends.
func Open(t testing.TB, dbPath string) *store.Store {
	t.Helper()
	st, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// Ctx is a context bounded for one out-of-band store or libvirt call.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Exec runs one SQL statement on the file, for rows the store API refuses
// to write (a corrupt config_json).
func Exec(t testing.TB, dbPath, query string, args ...any) {
	t.Helper()
	if store.IsPostgresURL(dbPath) {
		pgExec(t, dbPath, query, args...)
		return
	}
	conn, err := sqlite.OpenConn(dbPath, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatalf("open %s: %v", dbPath, err)
	}
	defer conn.Close()
	conn.SetBusyTimeout(10 * time.Second)
	if err := sqlitex.ExecuteTransient(conn, query, &sqlitex.ExecOptions{Args: args}); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// Text returns the first column of the first row of query as text (""
// when there is no row), read on its own read-only connection.
func Text(t testing.TB, dbPath, query string, args ...any) string {
	t.Helper()
	if store.IsPostgresURL(dbPath) {
		return pgText1(t, dbPath, query, args...)
	}
	conn, err := sqlite.OpenConn(dbPath, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatalf("open %s: %v", dbPath, err)
	}
	defer conn.Close()
	conn.SetBusyTimeout(10 * time.Second)
	var out string
	err = sqlitex.ExecuteTransient(conn, query, &sqlitex.ExecOptions{Args: args, ResultFunc: func(st *sqlite.Stmt) error {
		out = st.ColumnText(0)
		return nil
	}})
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// CopyFixture copies a store file (and nothing else) into a fresh temp dir
// and returns the copy's path; the original is never opened for writing.
func CopyFixture(t testing.TB, src string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), "virtumancer.db")
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatalf("fixture copy: %v", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatalf("fixture copy: %v", err)
	}
	if err := out.Close(); err != nil {
		t.Fatalf("fixture copy: %v", err)
	}
	return dst
}

// MakeReadOnly makes an existing store file unwritable until the test ends.
// Root ignores permission bits, so as root the file is made immutable
// (chattr +i); otherwise its mode becomes 0400. The store must have been
// opened (migrated) once and closed before.
func MakeReadOnly(t testing.TB, dbPath string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dbPath, 0o400); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dbPath, 0o600) })
		return
	}
	if out, err := exec.CommandContext(Ctx(t), "chattr", "+i", dbPath).CombinedOutput(); err != nil {
		t.Fatalf("chattr +i %s: %v: %s (needs a filesystem with immutable files, e.g. ext4)", dbPath, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.CommandContext(context.Background(), "chattr", "-i", dbPath).CombinedOutput(); err != nil {
			t.Errorf("chattr -i %s: %v: %s", dbPath, err, out)
		}
	})
}

// FixtureEnv overrides where Fixture finds Virtumancer's own store.
const FixtureEnv = "VIRTUMANCER_FIXTURE"

// Fixture returns the path of the store written by Virtumancer itself: a
// byte-for-byte copy of ../shared/fixtures/virtumancer-gorm.db kept in this
// package's testdata, so a fresh clone tests against it with nothing beside
// it ($VIRTUMANCER_FIXTURE overrides). Never write it: copy it with CopyFixture.
func Fixture(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(FixtureEnv); p != "" {
		return p
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("storetest: cannot locate its own source file to find testdata/")
	}
	p := filepath.Join(filepath.Dir(file), "testdata", "virtumancer-gorm.db")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the Virtumancer fixture store is missing: %v; set %s to its path", err, FixtureEnv)
	}
	return p
}
