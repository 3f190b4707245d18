package store

import (
	"context"
	"slices"
	"strings"
)

// virtumancerSchema is Virtumancer's DDL exactly as GORM emitted it (see
// `sqlite3 virtumancer.db .schema` on a store Virtumancer created), in
// GORM's order. SQLite keeps this text verbatim in sqlite_master and GORM's
// migrator compares against it, so it must stay byte-for-byte identical.
// Creating virtual_machines (AUTOINCREMENT) also creates sqlite_sequence.
var virtumancerSchema = []schemaObject{
	{"table", "hosts", "CREATE TABLE `hosts` (`id` text,`uri` text,PRIMARY KEY (`id`))"},
	{"table", "virtual_machines", "CREATE TABLE `virtual_machines` (`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,`updated_at` datetime,`deleted_at` datetime,`name` text,`host_id` text,`config_json` text)"},
	{"index", "idx_vm_host_name", "CREATE UNIQUE INDEX `idx_vm_host_name` ON `virtual_machines`(`name`,`host_id`)"},
	{"index", "idx_virtual_machines_deleted_at", "CREATE INDEX `idx_virtual_machines_deleted_at` ON `virtual_machines`(`deleted_at`)"},
}

// vmColumns are the virtual_machines columns this package reads and writes;
// a table without them is not a store we understand.
var vmColumns = []string{"id", "created_at", "updated_at", "deleted_at", "name", "host_id", "config_json"}

// schemaObject is one of Virtumancer's tables or indexes.
type schemaObject struct{ kind, name, sql string }

// migration is one step of our own schema. Migrations are append-only:
// never edit or reorder a released one, add a new version instead. The
// list is one for both dialects; each step has its DDL for each (see
// pgMigrations for PostgreSQL's).
type migration struct {
	version int
	name    string
	stmts   []string // SQLite
}

// Each statement is kept on one line so that `sqlite3 FILE .schema | grep -v
// vmsync_` shows exactly Virtumancer's schema.
var migrations = []migration{
	{1, "sync status tables", []string{
		"CREATE TABLE vmsync_vm_status (host_id TEXT NOT NULL, name TEXT NOT NULL, live_json TEXT, drift_json TEXT, " +
			"drifted INTEGER NOT NULL DEFAULT 0, state INTEGER, observed_at TEXT, PRIMARY KEY (host_id, name))",
		"CREATE INDEX vmsync_vm_status_drifted ON vmsync_vm_status (drifted)",
		"CREATE TABLE vmsync_host_status (host_id TEXT PRIMARY KEY, connected INTEGER NOT NULL DEFAULT 0, " +
			"last_sync_at TEXT, last_error TEXT, last_error_at TEXT, vm_count INTEGER NOT NULL DEFAULT 0)",
	}},
	// Our copy of the recorded configuration, keyed by the virtual_machines
	// row id: Virtumancer rewrites config_json with the live domain whenever
	// its UI lists VMs, so drift is computed against this row instead. No
	// backfill: a row we have not written since falls back to config_json,
	// which is what it was recorded as until now.
	{2, "vmsync_recorded", []string{
		"CREATE TABLE vmsync_recorded (vm_id INTEGER PRIMARY KEY, host_id TEXT NOT NULL, name TEXT NOT NULL, " +
			"config_json TEXT NOT NULL, recorded_at TEXT NOT NULL)",
		"CREATE INDEX vmsync_recorded_host_name ON vmsync_recorded (host_id, name)",
	}},
	// The sync replicas sharing a PostgreSQL store, each with the backend
	// pids of the session holding its host locks and of its write
	// connection, a heartbeat and the hosts it owns (see claims.go). SQLite has one service per file and leaves
	// it empty; the table exists there too so both dialects share one list.
	{3, "vmsync_replicas", []string{
		"CREATE TABLE vmsync_replicas (replica_id TEXT PRIMARY KEY, backend_pid INTEGER, writer_pid INTEGER, started_at TEXT NOT NULL, " +
			"heartbeat_at TEXT NOT NULL, hosts_json TEXT NOT NULL DEFAULT '{}')",
	}},
}

const createMigrationsTable = "CREATE TABLE IF NOT EXISTS vmsync_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"

// schemaState is what migrate needs to know about the file.
type schemaState struct {
	missing []string       // Virtumancer objects absent from the file
	applied map[int]string // our migrations already recorded: version -> name
}

func (st schemaState) pending() bool {
	return len(st.missing) > 0 || !st.hasAll()
}

func (st schemaState) hasAll() bool {
	for _, m := range migrations {
		if _, ok := st.applied[m.version]; !ok {
			return false
		}
	}
	return true
}

// migrate brings the schema of h's file up to date. It looks first in a
// read transaction so that an up-to-date file (the common case) takes no
// write lock at all.
func (s *Store) migrate(ctx context.Context, h *handle) error {
	st, err := s.schemaOn(ctx, h)
	if err != nil || !st.pending() {
		return err
	}
	return s.writeOn(ctx, h, func(tx *Tx) error {
		st, err := tx.schemaState() // again: another process may have migrated meanwhile
		if err != nil {
			return err
		}
		return tx.applySchema(st)
	})
}

// readOnlySchema accepts a file that lacks only our tables (they then read
// as empty, see shadow.go) and refuses one that is not a Virtumancer store.
func (s *Store) readOnlySchema(st schemaState) error {
	if len(st.missing) > 0 {
		return s.errf("%w: missing %s; this is not a Virtumancer store yet: open it read-write once to create the tables",
			ErrReadOnly, strings.Join(st.missing, ", "))
	}
	return nil
}

func (tx *Tx) schemaState() (schemaState, error) {
	st := schemaState{applied: map[int]string{}}
	present := map[string]bool{}
	err := tx.query("read schema", tx.s.dialect().schemaQuery,
		func(r row) error { present[r.Text(0)] = true; return nil })
	if err != nil {
		return st, err
	}
	for _, o := range tx.s.dialect().virtumancer {
		if !present[o.name] {
			st.missing = append(st.missing, o.kind+" "+o.name)
		}
	}
	if present["virtual_machines"] {
		if err := tx.checkVMColumns(); err != nil {
			return st, err
		}
	}
	if !present["vmsync_migrations"] {
		return st, nil
	}
	err = tx.query("read vmsync_migrations", "SELECT version, name FROM vmsync_migrations",
		func(r row) error { st.applied[r.Int(0)] = r.Text(1); return nil })
	if err != nil {
		return st, err
	}
	return st, tx.checkHistory(st)
}

// checkHistory refuses a file whose recorded migrations disagree with ours:
// a recorded version under another name means this build and the file have
// different histories, so we stop rather than guess. Versions we do not
// know (a newer build migrated the file) are fine: migrations only add.
func (tx *Tx) checkHistory(st schemaState) error {
	for _, m := range migrations {
		if name, ok := st.applied[m.version]; ok && name != m.name {
			return tx.s.errf("migration %d is recorded as %q but this build calls it %q; the file was migrated by an incompatible build",
				m.version, name, m.name)
		}
	}
	return nil
}

// checkVMColumns refuses a virtual_machines table we would misread, rather
// than failing later on every query.
func (tx *Tx) checkVMColumns() error {
	have := map[string]bool{}
	err := tx.query("read virtual_machines columns", tx.s.dialect().columnsQuery,
		func(r row) error { have[r.Text(0)] = true; return nil })
	if err != nil {
		return err
	}
	for _, c := range vmColumns {
		if !have[c] {
			return tx.s.errf("table virtual_machines has no column %q; this file is not a Virtumancer store this version understands: check the database path", c)
		}
	}
	return nil
}

// applySchema creates missing Virtumancer objects with GORM's exact DDL,
// then applies our migrations in order, recording each.
func (tx *Tx) applySchema(st schemaState) error {
	d := tx.s.dialect()
	for _, o := range d.virtumancer {
		if !slices.Contains(st.missing, o.kind+" "+o.name) {
			continue
		}
		if err := tx.execDDL("create "+o.kind+" "+o.name, o.sql); err != nil {
			return err
		}
	}
	if err := tx.execDDL("create vmsync_migrations", d.migrationsTable); err != nil {
		return err
	}
	for _, m := range migrations {
		if err := tx.applyMigration(st, m); err != nil {
			return err
		}
	}
	return nil
}

// applyMigration runs m unless it is recorded (checkHistory vetted names).
func (tx *Tx) applyMigration(st schemaState, m migration) error {
	if _, ok := st.applied[m.version]; ok {
		return nil
	}
	op := "apply migration " + m.name
	for _, stmt := range tx.s.dialect().ddl(m) {
		if err := tx.execDDL(op, stmt); err != nil {
			return err
		}
	}
	return tx.exec(op, "INSERT INTO vmsync_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, tx.now())
}
