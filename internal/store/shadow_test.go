package store

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestShadowStmts(t *testing.T) {
	m := migration{9, "future", []string{
		"CREATE TABLE vmsync_a (x TEXT, PRIMARY KEY (x))",
		"create table if not exists `vmsync_b`(y INTEGER)",
		"CREATE UNIQUE INDEX vmsync_a_x ON vmsync_a (x)",
		"INSERT INTO vmsync_a (x) SELECT name FROM virtual_machines",
		"ALTER TABLE vmsync_b ADD COLUMN z TEXT",
	}}
	got, err := shadowStmts(m, map[string]bool{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CREATE TEMP TABLE vmsync_a (x TEXT, PRIMARY KEY (x))",
		"CREATE TEMP TABLE if not exists `vmsync_b`(y INTEGER)",
		"INSERT INTO vmsync_a (x) SELECT name FROM virtual_machines",
		"ALTER TABLE temp.vmsync_b ADD COLUMN z TEXT",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	// Statements that would write the file itself cannot be stood in for.
	for _, stmt := range []string{
		"UPDATE virtual_machines SET config_json = NULL",
		"ALTER TABLE vmsync_vm_status ADD COLUMN z TEXT",
		"INSERT INTO vmsync_vm_status (host_id, name) VALUES ('h', 'v')",
		"DROP TABLE vmsync_vm_status",
	} {
		_, err := shadowStmts(migration{10, "bad", []string{stmt}}, map[string]bool{})
		if err == nil || !strings.Contains(err.Error(), `migration 10 (bad) is not applied`) {
			t.Errorf("%s: err = %v", stmt, err)
		}
	}
}

// Every migration of this build must be one a read can stand in for, or
// reads of a file that lacks it fail until the first write. A new
// migration that fails here needs a statement shadowStmts understands.
func TestEveryMigrationCanBeStoodIn(t *testing.T) {
	created := map[string]bool{}
	for _, m := range migrations {
		if _, err := shadowStmts(m, created); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// withExtraMigration appends a migration for one test, as the next release
// of this package would.
func withExtraMigration(t *testing.T, stmts ...string) migration {
	t.Helper()
	saved := migrations
	m := migration{len(saved) + 1, "test extra", stmts}
	migrations = append(slices.Clip(saved), m)
	t.Cleanup(func() { migrations = saved })
	return m
}

// A file migrated by an older build (the upgrade case): reads see the
// real tables it has and an empty copy of the new one, without writing;
// the first write applies only the new migration.
func TestShadowPartialMigration(t *testing.T) {
	path := copyFixture(t)
	old := openT(t, path, Options{})
	if err := old.PutVMStatus(bg, VMStatus{HostID: "local", Name: "alpha"}); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	withExtraMigration(t,
		"CREATE TABLE vmsync_extra (vm_id INTEGER PRIMARY KEY, note TEXT)",
		"CREATE INDEX vmsync_extra_note ON vmsync_extra (note)")
	before := fileSum(t, path)
	s := openT(t, path, Options{CreateOnWrite: true})
	join := func() string {
		t.Helper()
		var got string
		err := s.Read(bg, func(tx *Tx) error {
			return tx.query("join", "SELECT count(*) || ':' || count(e.vm_id) FROM virtual_machines v "+
				"LEFT JOIN vmsync_extra e ON e.vm_id = v.id WHERE v.deleted_at IS NULL",
				func(r row) error { got = r.Text(0); return nil })
		})
		if err != nil {
			t.Fatalf("join: %v", err)
		}
		return got
	}
	if got := join(); got != "2:0" {
		t.Fatalf("join = %q, want 2:0", got)
	}
	if st, err := s.ListVMStatus(bg, ""); err != nil || len(st) != 1 {
		t.Fatalf("ListVMStatus = %v, %v; the applied tables must not be hidden", st, err)
	}
	if fileSum(t, path) != before {
		t.Fatal("reads changed the file")
	}
	err := s.Write(bg, func(tx *Tx) error {
		return tx.exec("note", "INSERT INTO vmsync_extra (vm_id, note) VALUES (1, 'x')")
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := join(); got != "2:1" {
		t.Fatalf("after the first write join = %q, want 2:1", got)
	}
	if n := rawText(t, path, "SELECT count(*) FROM vmsync_extra"); n != "1" {
		t.Fatalf("vmsync_extra in the file holds %s rows, want 1", n)
	}
	if n := rawText(t, path, "SELECT group_concat(version) FROM vmsync_migrations"); !strings.HasSuffix(n, strconv.Itoa(len(migrations))) {
		t.Fatalf("migrations recorded: %s", n)
	}
}
