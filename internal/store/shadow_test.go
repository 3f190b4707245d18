package store

import (
	"slices"
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
