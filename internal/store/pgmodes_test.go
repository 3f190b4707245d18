package store_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest/contract"
)

const secret = "s3cret-pw"

// withPassword is u with a password the trust cluster ignores, so that
// every message can be checked for it.
func withPassword(t *testing.T, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	pu.User = url.UserPassword(pu.User.Username(), secret)
	return pu.String()
}

func noSecret(t *testing.T, what, text string) {
	t.Helper()
	if strings.Contains(text, secret) {
		t.Fatalf("%s shows the password: %s", what, text)
	}
}

func rawExec(t *testing.T, u string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func tableCount(t *testing.T, u string) string {
	t.Helper()
	return queryStrings(t, u, "SELECT count(*)::text FROM pg_tables WHERE schemaname = current_schema()")[0]
}

// TestIntegrationPostgresModes: what each mode creates or changes on
// PostgreSQL (never the database itself), and that the URL's password never
// shows in Path or an error.
func TestIntegrationPostgresModes(t *testing.T) {
	pgtest.Require(t)
	t.Run("database must exist", func(t *testing.T) {
		u, err := pgtest.WithDatabase(pgtest.AdminURL(), "virtumancer_no_such_db")
		if err != nil {
			t.Fatal(err)
		}
		_, err = store.Open(withPassword(t, u), store.Options{})
		if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "createdb") {
			t.Fatalf("Open of a missing database = %v; want it to say so and how to create it", err)
		}
		noSecret(t, "the error", err.Error())
		t.Log(err)
	})
	t.Run("path redacted", func(t *testing.T) {
		s := openPG(t, withPassword(t, pgtest.NewDatabase(t, "store")), store.Options{})
		noSecret(t, "Path", s.Path())
		if !strings.Contains(s.Path(), "xxxxx") || !s.IsPostgres() {
			t.Fatalf("Path = %q, want the URL with the password as xxxxx", s.Path())
		}
		if err := s.CheckFile(); err != nil {
			t.Fatalf("CheckFile on PostgreSQL = %v, want nil", err)
		}
		if err := s.Reopen(context.Background()); err != nil {
			t.Fatalf("Reopen: %v", err)
		}
		if err := s.PutHost(context.Background(), store.Host{ID: "after-reopen"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("create on write", func(t *testing.T) {
		u := pgtest.NewDatabase(t, "store")
		s := openPG(t, u, store.Options{CreateOnWrite: true})
		_, err := s.ListHosts(context.Background())
		if !errors.Is(err, store.ErrNoStore) || !strings.Contains(err.Error(), s.Path()) ||
			!strings.Contains(err.Error(), "first apply of a virtumancer_host") {
			t.Fatalf("read of an empty database = %v; want ErrNoStore naming %s and the first apply", err, s.Path())
		}
		t.Log(err)
		if n := tableCount(t, u); n != "0" {
			t.Fatalf("a read created %s tables", n)
		}
		if err := s.PutHost(context.Background(), store.Host{ID: "h", URI: "test:///default"}); err != nil {
			t.Fatal(err)
		}
		if hosts, err := s.ListHosts(context.Background()); err != nil || len(hosts) != 1 {
			t.Fatalf("after the first write: %v, %v", hosts, err)
		}
	})
	t.Run("read only", func(t *testing.T) {
		u := pgtest.NewDatabase(t, "store")
		if _, err := store.Open(u, store.Options{ReadOnly: true}); !errors.Is(err, store.ErrReadOnly) {
			t.Fatalf("read-only Open of an empty database = %v, want ErrReadOnly", err)
		}
		w := openPG(t, u, store.Options{})
		if _, err := w.UpsertVM(context.Background(), "h", "a", contract.Cfg("a", 1)); err != nil {
			t.Fatal(err)
		}
		r := openPG(t, u, store.Options{ReadOnly: true})
		if vms, err := r.ListVMs(context.Background(), "h"); err != nil || len(vms) != 1 {
			t.Fatalf("read-only read = %v, %v", vms, err)
		}
		if err := r.PutHost(context.Background(), store.Host{ID: "x"}); !errors.Is(err, store.ErrReadOnly) {
			t.Fatalf("read-only write = %v, want ErrReadOnly", err)
		}
	})
	t.Run("older migrations", func(t *testing.T) {
		u := pgtest.NewDatabase(t, "store")
		openPG(t, u, store.Options{}).Close()
		rawExec(t, u, "DROP TABLE vmsync_recorded", "DELETE FROM vmsync_migrations WHERE version = 2")
		for _, opts := range []store.Options{{ReadOnly: true}, {CreateOnWrite: true}} {
			s := openPG(t, u, opts)
			_, err := s.ListVMs(context.Background(), "h")
			if err == nil || !strings.Contains(err.Error(), "lacks migrations") || !strings.Contains(err.Error(), "2 vmsync_recorded") {
				t.Fatalf("read of a database lacking migration 2 (%+v) = %v", opts, err)
			}
			t.Log(err)
		}
		if got := queryStrings(t, u, "SELECT count(*)::text FROM vmsync_migrations"); got[0] != "2" { // 1 and 3
			t.Fatalf("a read migrated the database: %v migrations", got)
		}
		s := openPG(t, u, store.Options{CreateOnWrite: true})
		if _, err := s.UpsertVM(context.Background(), "h", "a", contract.Cfg("a", 1)); err != nil {
			t.Fatalf("first write: %v", err)
		}
		if vms, err := s.ListVMs(context.Background(), "h"); err != nil || len(vms) != 1 || vms[0].RecordedFrom != store.RecordedFromTable {
			t.Fatalf("after the migrating write: %+v, %v", vms, err)
		}
	})
}

func openPG(t *testing.T, u string, opts store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(u, opts)
	if err != nil {
		noSecret(t, "the error", err.Error())
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestIntegrationPostgresSessionsLost: every session of the store ended
// by the server (as a restart or pg_terminate_backend ends them): the next
// write and read succeed on new connections with no error shown, and the
// change feed listens again (another client's write still moves
// ForeignDataVersion).
func TestIntegrationPostgresSessionsLost(t *testing.T) {
	u := pgtest.NewDatabase(t, "store")
	ctx := context.Background()
	s := openPG(t, u, store.Options{})
	other := openPG(t, u, store.Options{})
	if err := s.PutHost(ctx, store.Host{ID: "before"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListHosts(ctx); err != nil {
		t.Fatal(err)
	}
	killed := queryStrings(t, u, "SELECT count(pg_terminate_backend(pid))::text FROM pg_stat_activity "+
		"WHERE datname = current_database() AND pid <> pg_backend_pid()")
	if killed[0] == "0" {
		t.Fatal("no session to end")
	}
	if err := s.PutHost(ctx, store.Host{ID: "after"}); err != nil {
		t.Fatalf("write after the sessions ended: %v", err)
	}
	if hosts, err := s.ListHosts(ctx); err != nil || len(hosts) != 2 {
		t.Fatalf("read after the sessions ended: %v, %v", hosts, err)
	}
	time.Sleep(1500 * time.Millisecond) // the feed redials within its backoff
	v, err := s.ForeignDataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.PutHost(ctx, store.Host{ID: "foreign"}); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if now, _ := s.ForeignDataVersion(ctx); now != v {
			break
		}
		if time.Since(start) > 2*time.Second {
			t.Fatal("the change feed did not come back: another client's write went unseen")
		}
	}
}
