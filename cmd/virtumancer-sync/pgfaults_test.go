package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
)

// TestIntegrationReplicaSurvivesPostgresRestart: a replica on a private
// PostgreSQL cluster keeps working through a restart of the server and
// through the server being down for 5 s, without a restart of its own:
// its lock session reopens, it claims every host again, /readyz turns
// ready, an event after the outage lands on every host id, every row
// written before is still there, and it never panics.
func TestIntegrationReplicaSurvivesPostgresRestart(t *testing.T) {
	requireDaemon(t)
	c := pgtest.StartCluster(t)
	var hosts []store.Host
	for i := range 4 {
		hosts = append(hosts, store.Host{ID: fmt.Sprintf("pgf-h%d", i), URI: testURI})
	}
	st := syncertest.OpenStore(t, c.URL(), hosts)
	l := syncertest.Dial(t, testURI)

	d := startDaemon(t, c.URL(), nil, "--replica", "pgf-a")
	waitOwnsAll(t, d, len(hosts), 15*time.Second, "the replica owns every host")
	waitReady(t, d, 15*time.Second, "ready before any outage")
	var names []string
	define := func(what string) {
		t.Helper()
		v := syncertest.DefineVM(t, l, testURI, fmt.Sprintf("pgf-%s-%d", what, os.Getpid()), 64)
		names = append(names, v.Name())
		syncertest.Eventually(t, 10*time.Second, what+": the domain's row on every host id", func() (bool, string) {
			live, total := rowsPerHost(t, st, hosts, v.Name())
			return live == len(hosts) && total == len(hosts), fmt.Sprintf("%d live of %d rows", live, total)
		})
	}
	define("before")
	var during string

	outages := []struct {
		name string
		do   func()
	}{
		{"restart", c.Restart},
		{"down for 5s", func() {
			c.Stop()
			// A domain defined while the store is down must land too: the
			// full sync after the claims are back reads it.
			during = syncertest.DefineVM(t, l, testURI, fmt.Sprintf("pgf-during-%d", os.Getpid()), 64).Name()
			names = append(names, during)
			syncertest.Eventually(t, 5*time.Second, "not ready while PostgreSQL is down", func() (bool, string) {
				code, body := d.get("/readyz", "")
				return code != 200, fmt.Sprintf("/readyz %d %s", code, body)
			})
			time.Sleep(5 * time.Second)
			c.Start()
		}},
	}
	for i, o := range outages {
		o.do()
		back := time.Now() // PostgreSQL answers again
		// Each outage reopens the lock session once more.
		syncertest.Eventually(t, 20*time.Second, o.name+": the lock session reopened", func() (bool, string) {
			n := countLog(d, "lock session reopened")
			return n >= i+1, fmt.Sprintf("%d reopenings", n)
		})
		waitOwnsAll(t, d, len(hosts), 20*time.Second, o.name+": the replica owns every host again")
		waitReady(t, d, 20*time.Second, o.name+": ready again")
		t.Logf("%s: every host owned and ready again %s after PostgreSQL was back", o.name, time.Since(back).Round(10*time.Millisecond))
		define(fmt.Sprintf("after%d", i))
		for _, n := range names {
			if live, total := rowsPerHost(t, st, hosts, n); live != len(hosts) || total != len(hosts) {
				t.Errorf("%s: %s has %d live of %d rows, want %d of %d: a row written before was lost",
					o.name, n, live, total, len(hosts), len(hosts))
			}
		}
	}
	if during == "" {
		t.Fatal("the outage that defines a domain did not run")
	}
	if out := d.output(); strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
		t.Errorf("the replica panicked:\n%s", tail(out))
	}
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("replica exit %d: %s", code, tail(d.output()))
	}
}

func waitReady(t *testing.T, d *service, within time.Duration, what string) time.Duration {
	t.Helper()
	return syncertest.Eventually(t, within, what, func() (bool, string) {
		code, body := d.get("/readyz", "")
		return code == 200, fmt.Sprintf("/readyz %d %s", code, body)
	})
}

// countLog is how many times d logged msg.
func countLog(d *service, msg string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, l := range d.logs {
		if l["@message"] == msg {
			n++
		}
	}
	return n
}
