package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// TestIntegrationPostgresRestartRetried: on a private cluster, writes and
// reads ride out a restart of PostgreSQL and a stop shorter than
// BusyTimeout; a statement whose session is terminated mid-transaction
// reruns the whole transaction, which commits once; a server down for
// longer than BusyTimeout fails with a message about the server, not
// about a write lock, and without ErrBusy. Afterwards the change feed
// tells this store's writes from another client's again.
func TestIntegrationPostgresRestartRetried(t *testing.T) {
	c := pgtest.StartCluster(t)
	ctx := context.Background()
	st, err := store.Open(c.URL(), store.Options{BusyTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	host := func(i int) store.Host { return store.Host{ID: fmt.Sprintf("pgf-%d", i), URI: "test:///default"} }
	if err := st.CreateHost(ctx, host(0)); err != nil {
		t.Fatal(err)
	}

	c.Restart()
	if err := st.CreateHost(ctx, host(1)); err != nil {
		t.Fatalf("write after a restart: %v", err)
	}
	if _, err := st.ListHosts(ctx); err != nil {
		t.Fatalf("read after a restart: %v", err)
	}

	c.Stop()
	go func() { time.Sleep(time.Second); c.Start() }()
	if err := st.CreateHost(ctx, host(2)); err != nil {
		t.Fatalf("write while the server was down for 1s: %v", err)
	}

	// The session dies between two statements of one transaction.
	admin, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	attempts := 0
	err = st.Write(ctx, func(tx *store.Tx) error {
		attempts++
		if err := tx.CreateHost(host(3)); err != nil {
			return err
		}
		if attempts == 1 {
			if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "+
				"WHERE state = 'idle in transaction' AND pid <> pg_backend_pid()"); err != nil {
				return err
			}
			time.Sleep(100 * time.Millisecond) // the FATAL reaches the client
		}
		_, err := tx.GetHost(host(3).ID)
		return err
	})
	if err != nil || attempts != 2 {
		t.Fatalf("transaction whose session was terminated: %v after %d attempts; want success on the 2nd", err, attempts)
	}
	hosts, err := st.ListHosts(ctx)
	if err != nil || len(hosts) != 4 {
		t.Fatalf("hosts after the faults: %v, %v; want pgf-0..3, each once", hosts, err)
	}

	c.Stop()
	start := time.Now()
	err = st.CreateHost(ctx, host(4))
	took := time.Since(start)
	c.Start()
	msg := fmt.Sprint(err)
	switch {
	case err == nil:
		t.Fatal("a write succeeded while PostgreSQL was down")
	case errors.Is(err, store.ErrBusy) || strings.Contains(msg, "write lock"):
		t.Errorf("server down: the error blames a lock: %v", err)
	case !strings.Contains(msg, "PostgreSQL did not take the transaction") || !strings.Contains(msg, "check that the server runs"):
		t.Errorf("server down: the error does not say the server could not be reached: %v", err)
	case took < 3*time.Second || took > 10*time.Second:
		t.Errorf("server down: gave up after %s; want about BusyTimeout (3s)", took)
	}
	t.Logf("server down: gave up after %s: %v", took.Round(10*time.Millisecond), err)
	feedAfterRestart(t, st, c.URL())
}

// feedAfterRestart: once the change feed has redialled, this store's own
// writes (on a redialled write connection) still count as its own, and
// another client's write as foreign.
func feedAfterRestart(t *testing.T, st *store.Store, u string) {
	ctx := context.Background()
	if err := st.CreateHost(ctx, store.Host{ID: "pgf-own", URI: "test:///default"}); err != nil {
		t.Fatalf("write after the server came back: %v", err)
	}
	var v int64
	for stable, deadline := 0, time.Now().Add(10*time.Second); stable < 10; time.Sleep(100 * time.Millisecond) {
		n, err := st.ForeignDataVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == v {
			stable++
		} else {
			v, stable = n, 0
		}
		if time.Now().After(deadline) {
			t.Fatal("the foreign change counter kept moving for 10s after the server came back")
		}
	}
	if err := st.CreateHost(ctx, store.Host{ID: "pgf-own2", URI: "test:///default"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // a notification arrives within milliseconds
	if n, _ := st.ForeignDataVersion(ctx); n != v {
		t.Errorf("this store's own write after the restart moved the foreign counter %d -> %d", v, n)
	}
	other, err := store.Open(u, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.CreateHost(ctx, store.Host{ID: "pgf-foreign", URI: "test:///default"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if n, _ := st.ForeignDataVersion(ctx); n > v {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("another client's write after the restart never moved the foreign counter")
		}
	}
}
