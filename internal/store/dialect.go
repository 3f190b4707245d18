package store

// dialect is what the schema code needs to know of a backend: Virtumancer's
// DDL as GORM writes it there, how to list what exists, and our
// migrations' DDL.
type dialect struct {
	postgres        bool
	virtumancer     []schemaObject
	migrationsTable string
	// schemaQuery lists the names of every table and index; columnsQuery
	// the columns of virtual_machines.
	schemaQuery, columnsQuery string
}

var sqliteDialect = &dialect{
	virtumancer:     virtumancerSchema,
	migrationsTable: createMigrationsTable,
	schemaQuery:     "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')",
	columnsQuery:    "SELECT name FROM pragma_table_info('virtual_machines')",
}

var postgresDialect = &dialect{
	postgres:        true,
	virtumancer:     pgVirtumancerSchema,
	migrationsTable: "CREATE TABLE IF NOT EXISTS vmsync_migrations (version integer PRIMARY KEY, name text, applied_at timestamptz)",
	schemaQuery: "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema() " +
		"UNION ALL SELECT indexname FROM pg_catalog.pg_indexes WHERE schemaname = current_schema()",
	columnsQuery: "SELECT column_name FROM information_schema.columns " +
		"WHERE table_schema = current_schema() AND table_name = 'virtual_machines'",
}

func (s *Store) dialect() *dialect {
	if s.pg != nil {
		return postgresDialect
	}
	return sqliteDialect
}

// ddl is m's statements in this dialect.
func (d *dialect) ddl(m migration) []string {
	if d.postgres {
		return pgMigrations[m.version]
	}
	return m.stmts
}

// pgVirtumancerSchema is Virtumancer's two models as gorm.io/driver/postgres
// creates them (AutoMigrate), in GORM's order: same table, column and index
// names as on SQLite, PostgreSQL's types (bigserial id, timestamptz).
// TestIntegrationPostgresSchemaIsGORMs compares it with GORM's own.
var pgVirtumancerSchema = []schemaObject{
	{"table", "hosts", `CREATE TABLE "hosts" ("id" text,"uri" text,PRIMARY KEY ("id"))`},
	{"table", "virtual_machines", `CREATE TABLE "virtual_machines" ("id" bigserial,"created_at" timestamptz,` +
		`"updated_at" timestamptz,"deleted_at" timestamptz,"name" text,"host_id" text,"config_json" text,PRIMARY KEY ("id"))`},
	{"index", "idx_vm_host_name", `CREATE UNIQUE INDEX IF NOT EXISTS "idx_vm_host_name" ON "virtual_machines" ("name","host_id")`},
	{"index", "idx_virtual_machines_deleted_at", `CREATE INDEX IF NOT EXISTS "idx_virtual_machines_deleted_at" ON "virtual_machines" ("deleted_at")`},
}

// pgNotifyChannel is where every committed change to the store's tables is
// announced, with the table's name as the payload (see pgfeed.go).
const pgNotifyChannel = "virtumancer_store"

// pgNotifyTrigger makes every statement that changes table announce it.
// Per statement, not per row, and PostgreSQL folds equal notifications of
// one transaction into one, so a full sync costs a notification per table.
func pgNotifyTrigger(table string) string {
	return "CREATE TRIGGER vmsync_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON " + table +
		" FOR EACH STATEMENT EXECUTE FUNCTION vmsync_notify()"
}

// pgMigrations is the PostgreSQL DDL of each migration (by version): the
// same tables, columns and indexes as SQLite's, with PostgreSQL's types
// (timestamptz for times, boolean for flags), plus the change feed's
// triggers, which SQLite does without (PRAGMA data_version).
var pgMigrations = map[int][]string{
	1: {
		"CREATE TABLE vmsync_vm_status (host_id text NOT NULL, name text NOT NULL, live_json text, drift_json text, " +
			"drifted boolean NOT NULL DEFAULT false, state integer, observed_at timestamptz, PRIMARY KEY (host_id, name))",
		"CREATE INDEX vmsync_vm_status_drifted ON vmsync_vm_status (drifted)",
		"CREATE TABLE vmsync_host_status (host_id text PRIMARY KEY, connected boolean NOT NULL DEFAULT false, " +
			"last_sync_at timestamptz, last_error text, last_error_at timestamptz, vm_count integer NOT NULL DEFAULT 0)",
		"CREATE FUNCTION vmsync_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " +
			"PERFORM pg_notify('" + pgNotifyChannel + "', TG_TABLE_NAME); RETURN NULL; END $$",
		pgNotifyTrigger("hosts"),
		pgNotifyTrigger("virtual_machines"),
		pgNotifyTrigger("vmsync_vm_status"),
		pgNotifyTrigger("vmsync_host_status"),
	},
	2: {
		"CREATE TABLE vmsync_recorded (vm_id bigint PRIMARY KEY, host_id text NOT NULL, name text NOT NULL, " +
			"config_json text NOT NULL, recorded_at timestamptz NOT NULL)",
		"CREATE INDEX vmsync_recorded_host_name ON vmsync_recorded (host_id, name)",
		pgNotifyTrigger("vmsync_recorded"),
	},
	// No change-feed trigger on vmsync_replicas: every replica rewrites its
	// row each second, which is no change to the store anyone must re-check.
	// vmsync_changes counts the statements that changed the store, in the
	// changing transaction itself, so a snapshot's count says exactly which
	// commits it holds (Tx.Current; the notifications arrive too late).
	3: {
		"CREATE TABLE vmsync_replicas (replica_id text PRIMARY KEY, backend_pid integer, writer_pid integer, started_at timestamptz NOT NULL, " +
			"heartbeat_at timestamptz NOT NULL, hosts_json text NOT NULL DEFAULT '{}')",
		"CREATE TABLE vmsync_changes (n bigint NOT NULL)",
		"INSERT INTO vmsync_changes (n) VALUES (0)",
		"CREATE OR REPLACE FUNCTION vmsync_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " +
			"UPDATE vmsync_changes SET n = n + 1; PERFORM pg_notify('" + pgNotifyChannel + "', TG_TABLE_NAME); RETURN NULL; END $$",
	},
}
