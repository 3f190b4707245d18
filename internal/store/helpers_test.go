package store

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// fixturePath is Virtumancer's own store, the copy storetest keeps (a test
// of package store cannot import storetest, which imports store).
const fixturePath = "../storetest/testdata/virtumancer-gorm.db"

// copyFixture copies the read-only Virtumancer fixture into a temp dir.
func copyFixture(t testing.TB) string {
	t.Helper()
	src, err := os.Open(fixturePath)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	defer src.Close()
	dst := filepath.Join(t.TempDir(), "virtumancer.db")
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, src); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// openT opens a store and closes it when the test ends.
func openT(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore opens a fresh, empty store file.
func newStore(t testing.TB) *Store {
	t.Helper()
	return openT(t, filepath.Join(t.TempDir(), "virtumancer.db"), Options{})
}

// rawExec runs SQL on its own connection, outside the store, the way
// another program would.
func rawExec(t testing.TB, path, query string, args ...any) {
	t.Helper()
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetBusyTimeout(10e9)
	if err := sqlitex.Execute(conn, query, &sqlitex.ExecOptions{Args: args}); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// rawText returns the first column of the first row of query.
func rawText(t testing.TB, path, query string) string {
	t.Helper()
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetBusyTimeout(10e9)
	out, err := sqlitex.ResultText(conn.Prep(query))
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// virtumancerSchemaText is `sqlite3 path .schema` without our own tables.
func virtumancerSchemaText(t testing.TB, path string) string {
	t.Helper()
	out, err := exec.Command("/usr/bin/sqlite3", path, ".schema").CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 .schema: %v\n%s", err, out)
	}
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, "vmsync_") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

func cfg(name string, memKiB uint64) vminfo.VMInfo {
	return vminfo.VMInfo{
		Name: name, State: vminfo.StateShutoff, MaxMem: memKiB, Memory: memKiB, Vcpu: 1,
		Uptime: -1, Persistent: true, Graphics: vminfo.Graphics{VNC: true},
	}
}

var bg = context.Background()

func mustGet(t testing.TB, s *Store, hostID, name string) VM {
	t.Helper()
	vm, err := s.GetVM(bg, hostID, name)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
