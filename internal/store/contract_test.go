package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest/contract"
)

// TestContractSQLite runs the store's contract (internal/storetest/contract)
// on SQLite files. The tests beside this file keep what only SQLite has:
// the file, GORM's DDL and timestamp text, WAL, modes and permissions.
func TestContractSQLite(t *testing.T) {
	contract.Run(t, sqliteBackend{})
}

type sqliteBackend struct{}

func (sqliteBackend) Open(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	return openSQLite(t, filepath.Join(t.TempDir(), "virtumancer.db"), opts)
}

func (sqliteBackend) OpenAgain(t testing.TB, s *store.Store, opts store.Options) *store.Store {
	t.Helper()
	return openSQLite(t, s.Path(), opts)
}

// HoldWriteLock takes SQLite's write lock from a connection of its own, as
// another program would.
func (sqliteBackend) HoldWriteLock(t testing.TB, s *store.Store, d time.Duration) <-chan struct{} {
	t.Helper()
	conn, err := sqlite.OpenConn(s.Path(), sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"BEGIN IMMEDIATE", "INSERT INTO hosts (id, uri) VALUES ('holder', 'x')"} {
		if err := sqlitex.ExecuteTransient(conn, q, nil); err != nil {
			conn.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		defer conn.Close()
		time.Sleep(d)
		if err := sqlitex.ExecuteTransient(conn, "COMMIT", nil); err != nil {
			t.Error(err)
		}
	}()
	return released
}

func openSQLite(t testing.TB, path string, opts store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
