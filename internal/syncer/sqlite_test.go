package syncer_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// fixture is Virtumancer's own store, the copy storetest keeps.
const fixture = "../storetest/testdata/virtumancer-gorm.db"

// copyFixture copies Virtumancer's own store into the test's temp dir.
func copyFixture(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatalf("read the fixture store: %v", err)
	}
	path := filepath.Join(t.TempDir(), "virtumancer.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// rawConn opens the store file directly, as another process would.
func rawConn(t testing.TB, path string) *sqlite.Conn {
	t.Helper()
	c, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func exec(t testing.TB, c *sqlite.Conn, query string, row func(*sqlite.Stmt)) {
	t.Helper()
	err := sqlitex.ExecuteTransient(c, query, &sqlitex.ExecOptions{ResultFunc: func(s *sqlite.Stmt) error {
		if row != nil {
			row(s)
		}
		return nil
	}})
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// schema is the DDL of Virtumancer's own tables and indexes.
func schema(t testing.TB, path string) []string {
	t.Helper()
	var out []string
	exec(t, rawConn(t, path), `SELECT sql FROM sqlite_master WHERE tbl_name IN ('hosts', 'virtual_machines') ORDER BY name`,
		func(s *sqlite.Stmt) { out = append(out, s.ColumnText(0)) })
	return out
}

var gormTime = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})?[+-]\d\d:\d\d$`)

// assertGormTimes checks every timestamp in virtual_machines is written the
// way GORM writes it, so Virtumancer reads rows we touched.
func assertGormTimes(t testing.TB, path string) {
	t.Helper()
	exec(t, rawConn(t, path), `SELECT name, created_at, updated_at, deleted_at FROM virtual_machines`, func(s *sqlite.Stmt) {
		for col := 1; col <= 3; col++ {
			v := s.ColumnText(col)
			if v != "" && !gormTime.MatchString(v) {
				t.Errorf("vm %s: column %s = %q, not GORM's format", s.ColumnText(0), s.ColumnName(col), v)
			}
		}
	})
}
