package main

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/httpapi"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
)

// replicaHosts are ten host ids on the test driver: every domain event
// reaches each of them, so each must land once per host id.
func replicaHosts() []store.Host {
	var hs []store.Host
	for i := range 10 {
		hs = append(hs, store.Host{ID: fmt.Sprintf("r%d", i), URI: testURI})
	}
	return hs
}

// owned lists the hosts d says it owns, and whether d is ready.
func owned(d *service) (ids []string, owners map[string]string) {
	var resp httpapi.HostsResponse
	d.getJSON("/api/v1/hosts", &resp)
	owners = map[string]string{}
	for _, h := range resp.Hosts {
		owners[h.ID] = h.Owner
		if h.Owned {
			ids = append(ids, h.ID)
		}
	}
	slices.Sort(ids)
	return ids, owners
}

func waitOwnsAll(t *testing.T, d *service, n int, within time.Duration, what string) time.Duration {
	t.Helper()
	return syncertest.Eventually(t, within, what, func() (bool, string) {
		ids, _ := owned(d)
		return len(ids) == n, fmt.Sprintf("owns %v", ids)
	})
}

// rowsPerHost counts name's live rows by host id.
func rowsPerHost(t *testing.T, st *store.Store, hosts []store.Host, name string) (live, total int) {
	t.Helper()
	for _, h := range hosts {
		if r, ok := syncertest.Row(t, st, h.ID, name); ok {
			total++
			if r.DeletedAt == nil {
				live++
			}
		}
	}
	return live, total
}

// TestIntegrationReplicas: two virtumancer-sync replicas on one PostgreSQL
// share ten host ids, each synced by exactly one; a domain event lands
// once per host id; kill -9 of the owner hands every host to the other
// within 5 s, SIGSTOP of the owner within 15 s, and the stopped replica,
// woken, writes nothing for them and reports them owned by the other.
func TestIntegrationReplicas(t *testing.T) {
	requireDaemon(t)
	pgtest.Require(t)
	hosts := replicaHosts()
	st, u := syncertest.NewPostgresStore(t, hosts...)
	l := syncertest.Dial(t, testURI)

	a := startDaemon(t, u, nil, "--replica", "a")
	waitOwnsAll(t, a, 10, 15*time.Second, "replica a owns every host")
	b := startDaemon(t, u, nil, "--replica", "b")
	syncertest.Eventually(t, 15*time.Second, "both replicas ready, each host owned once", func() (bool, string) {
		ca, _ := a.get("/readyz", "")
		cb, body := b.get("/readyz", "")
		ida, _ := owned(a)
		idb, ownersB := owned(b)
		return ca == 200 && cb == 200 && len(ida)+len(idb) == 10 && len(idb) == 0 && ownersB["r3"] == "a",
			fmt.Sprintf("a %d owns %v; b %d (%s) owns %v, owners %v", ca, ida, cb, body, idb, ownersB)
	})

	v := syncertest.DefineVM(t, l, testURI, syncertest.Name("replicas"), 64)
	syncertest.Eventually(t, 5*time.Second, "the new domain's row on every host id", func() (bool, string) {
		live, total := rowsPerHost(t, st, hosts, v.Name())
		return live == 10 && total == 10, fmt.Sprintf("%d live of %d rows", live, total)
	})

	_ = a.cmd.Process.Kill()
	<-a.done
	took := waitOwnsAll(t, b, 10, 5*time.Second, "replica b owns every host after kill -9 of a")
	t.Logf("kill -9: hosts owned again after %s", took.Round(10*time.Millisecond))
	b2 := v.Name() + "-2"
	v2 := syncertest.DefineVM(t, l, testURI, b2, 64)
	syncertest.Eventually(t, 5*time.Second, "an event after the takeover lands on every host id", func() (bool, string) {
		live, total := rowsPerHost(t, st, hosts, v2.Name())
		return live == 10 && total == 10, fmt.Sprintf("%d live of %d rows", live, total)
	})

	a2 := startDaemon(t, u, nil, "--replica", "a")
	syncertest.Eventually(t, 10*time.Second, "the restarted a sees b own every host", func() (bool, string) {
		ids, owners := owned(a2)
		return len(ids) == 0 && owners["r0"] == "b", fmt.Sprintf("a owns %v, owners %v", ids, owners)
	})
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	took = waitOwnsAll(t, a2, 10, 15*time.Second, "replica a owns every host after SIGSTOP of b")
	t.Logf("SIGSTOP: hosts owned again after %s", took.Round(10*time.Millisecond))
	v.Undefine()
	syncertest.Eventually(t, 5*time.Second, "the undefine soft-deletes the row on every host id", func() (bool, string) {
		live, total := rowsPerHost(t, st, hosts, v.Name())
		return live == 0 && total == 10, fmt.Sprintf("%d live of %d rows", live, total)
	})

	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	b.waitLog("lost the lock session; its hosts are free for other replicas", 10*time.Second)
	syncertest.Eventually(t, 10*time.Second, "the woken b owns nothing and names a as the owner", func() (bool, string) {
		ids, owners := owned(b)
		ida, _ := owned(a2)
		return len(ids) == 0 && owners["r5"] == "a" && len(ida) == 10, fmt.Sprintf("b owns %v, owners %v; a owns %v", ids, owners, ida)
	})
	if l, ok := b.findLog("store write failed; resyncing after a pause"); ok {
		t.Errorf("the woken replica tried a write it no longer owned: %v", l)
	}
	live, total := rowsPerHost(t, st, hosts, v2.Name())
	if live != 10 || total != 10 {
		t.Errorf("after the failovers: %d live of %d rows of %s, want 10 of 10", live, total, v2.Name())
	}
	// A host added reaches both replicas at once (LISTEN/NOTIFY), and one
	// of them owns it; removed, it leaves both.
	if err := st.CreateHost(context.Background(), store.Host{ID: "r10", URI: testURI}); err != nil {
		t.Fatal(err)
	}
	took = syncertest.Eventually(t, 3*time.Second, "the added host listed by both replicas, owned by one", func() (bool, string) {
		ida, ownersA := owned(a2)
		idb, ownersB := owned(b)
		n := 0
		for _, ids := range [][]string{ida, idb} {
			if slices.Contains(ids, "r10") {
				n++
			}
		}
		return n == 1 && ownersA["r10"] != "" && ownersA["r10"] == ownersB["r10"], fmt.Sprintf("a owns %v, b owns %v, owners %q/%q", ida, idb, ownersA["r10"], ownersB["r10"])
	})
	t.Logf("a host added: owned after %s", took.Round(10*time.Millisecond))
	if _, err := st.DeleteHost(context.Background(), "r10"); err != nil {
		t.Fatal(err)
	}
	syncertest.Eventually(t, 3*time.Second, "the removed host gone from both replicas", func() (bool, string) {
		_, ownersA := owned(a2)
		_, ownersB := owned(b)
		_, inA := ownersA["r10"]
		_, inB := ownersB["r10"]
		return !inA && !inB, fmt.Sprintf("listed by a %v, by b %v", inA, inB)
	})
	for _, d := range []*service{b, a2} {
		if code := d.stop(syscall.SIGTERM); code != 0 {
			t.Errorf("replica exit %d: %s", code, tail(d.output()))
		}
	}
	if left := storetest.Text(t, u, "SELECT count(*) FROM vmsync_replicas"); left != "0" {
		t.Errorf("vmsync_replicas after both stopped: %s rows; want none (a replica removes its row)", left)
	}
}

// tail is the end of a replica's log, for a failure message.
func tail(s string) string { return s[max(0, len(s)-2000):] }
