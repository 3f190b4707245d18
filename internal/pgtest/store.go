package pgtest

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvStore chooses the backend of the stores the test harnesses make
// (StoreLocation): "sqlite" (the default) or "postgres". `make testpg`
// sets it to run the integration and acceptance suites on PostgreSQL.
const EnvStore = "VIRTUMANCER_TEST_STORE"

// The values EnvStore takes.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// Backend is the backend EnvStore chooses. Any other value fails the test:
// a typo must not quietly run the suite on SQLite again.
func Backend(t testing.TB) string {
	t.Helper()
	switch v := os.Getenv(EnvStore); v {
	case "", BackendSQLite:
		return BackendSQLite
	case BackendPostgres:
		return BackendPostgres
	default:
		t.Fatalf("pgtest: %s=%q; use %q (the default) or %q", EnvStore, v, BackendSQLite, BackendPostgres)
		return ""
	}
}

// OnPostgres tells whether the harnesses' stores are on PostgreSQL.
func OnPostgres(t testing.TB) bool {
	t.Helper()
	return Backend(t) == BackendPostgres
}

// StoreLocation is where a test's fresh store lives, on the backend
// EnvStore chooses: a new SQLite path in the test's temp dir (nothing
// created yet), or the URL of a new, empty PostgreSQL database named
// prefix_<random>, dropped when the test ends. Tests about SQLite itself
// (its file, mode, WAL, Virtumancer's fixture) make a path of their own
// instead; this is the one place the switch is read.
func StoreLocation(t testing.TB, prefix string) string {
	t.Helper()
	if OnPostgres(t) {
		return NewDatabase(t, prefix)
	}
	return filepath.Join(t.TempDir(), "virtumancer.db")
}
