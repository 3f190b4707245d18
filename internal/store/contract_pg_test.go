package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest/contract"
)

// TestIntegrationContractPostgres runs the store's contract on PostgreSQL,
// each case on a database of its own (internal/pgtest).
func TestIntegrationContractPostgres(t *testing.T) {
	pgtest.Require(t)
	contract.Run(t, &pgBackend{})
}

// pgBackend remembers each store's URL: Path is redacted, and a test
// cluster may well have a password.
type pgBackend struct{ urls sync.Map } // *store.Store -> string

func (b *pgBackend) Open(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	return b.open(t, pgtest.NewDatabase(t, "store"), opts)
}

func (b *pgBackend) OpenAgain(t testing.TB, s *store.Store, opts store.Options) *store.Store {
	t.Helper()
	return b.open(t, b.url(t, s), opts)
}

func (b *pgBackend) open(t testing.TB, u string, opts store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(u, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	b.urls.Store(s, u)
	return s
}

func (b *pgBackend) url(t testing.TB, s *store.Store) string {
	t.Helper()
	u, ok := b.urls.Load(s)
	if !ok {
		t.Fatal("store not opened by this backend")
	}
	return u.(string)
}

// HoldWriteLock takes the store's advisory write lock from a connection of
// its own, inside a transaction that writes host "holder", as another
// client's write transaction would.
func (b *pgBackend) HoldWriteLock(t testing.TB, s *store.Store, d time.Duration) <-chan struct{} {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.url(t, s))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", store.PostgresWriteLockKey)
	}
	if err == nil {
		_, err = tx.Exec(ctx, "INSERT INTO hosts (id, uri) VALUES ('holder', 'x')")
	}
	if err != nil {
		_ = conn.Close(ctx)
		t.Fatalf("hold the write lock: %v", err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		defer conn.Close(ctx)
		time.Sleep(d)
		if err := tx.Commit(ctx); err != nil {
			t.Error(err)
		}
	}()
	return released
}
