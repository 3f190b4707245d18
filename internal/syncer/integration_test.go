package syncer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// TestIntegrationEventsReachStore drives one domain on each driver through
// its lifecycle with the engine running and checks that every change is
// in the store within a second, by events alone (the periodic resync is
// an hour away).
func TestIntegrationEventsReachStore(t *testing.T) {
	requireDaemon(t)
	st := syncertest.NewStore(t, store.Host{ID: "test", URI: testURI}, store.Host{ID: "qemu", URI: qemuURI})
	e := openEngine(t, newEngine(t, st))
	waitReady(t, e, 10*time.Second)

	t.Run("test driver", func(t *testing.T) { lifecycle(t, st, "test", testURI, true) })
	t.Run("qemu driver", func(t *testing.T) { lifecycle(t, st, "qemu", qemuURI, false) })

	for _, h := range e.Hosts() {
		if !h.Connected || !h.Synced || h.Outages != 0 {
			t.Errorf("host %s: want connected, synced, no outage; got %+v", h.ID, h)
		}
	}
}

// lifecycle: define, start, (suspend, resume,) stop, redefine with a
// change, undefine, define again.
func lifecycle(t *testing.T, st *store.Store, host, uri string, suspend bool) {
	l := syncertest.Dial(t, uri)
	name := syncertest.Name(host)
	v := syncertest.DefineVM(t, l, uri, name, 64)
	row := syncertest.WaitRow(t, st, host, name, "defined -> row with config recorded", syncertest.Live)
	if row.Config.Memory != 64*1024 || row.Config.Name != name || row.Config.State != vminfo.StateShutoff {
		t.Errorf("recorded config = %+v, want memory 65536 KiB, state shut off", row.Config)
	}
	if s, ok := syncertest.Status(t, st, host, name); !ok || len(s.Drift) != 0 {
		t.Errorf("status of a new row: present=%t drift=%v, want present without drift", ok, s.Drift)
	}

	v.Start()
	syncertest.WaitState(t, st, host, name, vminfo.StateRunning)
	if suspend {
		v.Suspend()
		syncertest.WaitState(t, st, host, name, vminfo.StatePaused)
		v.Resume()
		syncertest.WaitState(t, st, host, name, vminfo.StateRunning)
	}
	v.Destroy()
	syncertest.WaitState(t, st, host, name, vminfo.StateShutoff)

	// A redefinition changes the live definition, never the recorded one.
	v.SetMemory(96)
	syncertest.Drifted(t, st, host, name, vminfo.Drift{Field: "memory", Recorded: "65536", Live: "98304"})
	if after, _ := syncertest.Row(t, st, host, name); after.ConfigJSON != row.ConfigJSON {
		t.Errorf("config_json was overwritten:\n before %s\n after  %s", row.ConfigJSON, after.ConfigJSON)
	}

	v.Undefine()
	gone := syncertest.WaitRow(t, st, host, name, "undefined -> soft-deleted", syncertest.SoftDeleted)
	if _, ok := syncertest.Status(t, st, host, name); ok {
		t.Errorf("a soft-deleted VM kept its status")
	}

	v.Redefine(128)
	back := syncertest.WaitRow(t, st, host, name, "defined again -> row revived", syncertest.Live)
	if back.ID != gone.ID || back.Config.Memory != 128*1024 {
		t.Errorf("revived row: id %d (want %d), memory %d (want %d): a revival keeps the row and records the new config",
			back.ID, gone.ID, back.Config.Memory, 128*1024)
	}
}

// TestIntegrationRestartConverges: changes made while the engine is down
// are in the store after it starts again (the full sync on connect).
func TestIntegrationRestartConverges(t *testing.T) {
	requireDaemon(t)
	st := syncertest.NewStore(t, store.Host{ID: "test", URI: testURI})
	l := syncertest.Dial(t, testURI)
	keep := syncertest.DefineVM(t, l, testURI, syncertest.Name("keep"), 64)
	drop := syncertest.DefineVM(t, l, testURI, syncertest.Name("drop"), 64)

	e := openEngine(t, newEngine(t, st))
	waitReady(t, e, 10*time.Second)
	syncertest.WaitRow(t, st, "test", keep.Name(), "recorded", syncertest.Live)
	syncertest.WaitRow(t, st, "test", drop.Name(), "recorded", syncertest.Live)
	closeEngine(t, e)

	added := syncertest.DefineVM(t, l, testURI, syncertest.Name("added"), 64)
	drop.Undefine()
	keep.SetMemory(80)

	e2 := openEngine(t, newEngine(t, st))
	waitReady(t, e2, 10*time.Second)
	if r, ok := syncertest.Row(t, st, "test", added.Name()); !syncertest.Live(r, ok) {
		t.Errorf("domain defined while down: %s, want a live row", syncertest.Describe(r, ok))
	}
	if r, ok := syncertest.Row(t, st, "test", drop.Name()); !ok || r.DeletedAt == nil {
		t.Errorf("domain undefined while down: %s, want soft-deleted", syncertest.Describe(r, ok))
	}
	if s, _ := syncertest.Status(t, st, "test", keep.Name()); !syncertest.HasDrift(s.Drift, vminfo.Drift{Field: "memory", Recorded: "65536", Live: "81920"}) {
		t.Errorf("domain changed while down: drift %v, want memory 65536 -> 81920", s.Drift)
	}
}

// TestIntegrationHostsAddedAndRemoved: host rows are picked up and dropped
// at run time, and a removed host's domains no longer reach the store.
func TestIntegrationHostsAddedAndRemoved(t *testing.T) {
	requireDaemon(t)
	ctx := context.Background()
	st := syncertest.NewStore(t)
	e := openEngine(t, newEngine(t, st))
	waitReady(t, e, 5*time.Second) // no hosts: ready at once

	l := syncertest.Dial(t, testURI)
	before := syncertest.DefineVM(t, l, testURI, syncertest.Name("pre"), 64)
	if err := st.CreateHost(ctx, store.Host{ID: "late", URI: testURI}); err != nil {
		t.Fatal(err)
	}
	took := syncertest.Eventually(t, 5*time.Second, "added host synced", func() (bool, string) {
		r, ok := syncertest.Row(t, st, "late", before.Name())
		return syncertest.Live(r, ok), syncertest.Describe(r, ok)
	})
	t.Logf("host added -> its domains in the store after %s", took)
	if hs := e.Hosts(); len(hs) != 1 || hs[0].ID != "late" || !hs[0].Connected {
		t.Errorf("hosts = %+v, want late, connected", hs)
	}

	if _, err := st.DeleteHost(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	syncertest.Eventually(t, 5*time.Second, "removed host dropped", func() (bool, string) {
		return len(e.Hosts()) == 0, fmt.Sprintf("hosts %+v", e.Hosts())
	})
	after := syncertest.DefineVM(t, l, testURI, syncertest.Name("post"), 64)
	time.Sleep(2 * syncertest.EventDeadline)
	if r, ok := syncertest.Row(t, st, "late", after.Name()); ok {
		t.Errorf("a domain of a removed host reached the store: %s", syncertest.Describe(r, ok))
	}
	if st, err := st.ListHostStatus(ctx); err != nil || len(st) != 0 {
		t.Errorf("host status rows after removal = %+v, %v; want none", st, err)
	}
}

// TestIntegrationFixtureInterop syncs a copy of a store written by
// Virtumancer itself: its rows for domains that do not exist are
// soft-deleted the GORM way, live domains get rows Virtumancer can read,
// and its tables are left exactly as they were.
func TestIntegrationFixtureInterop(t *testing.T) {
	requireDaemon(t)
	path := copyFixture(t)
	schemaBefore := schema(t, path)
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	q := syncertest.DefineVM(t, syncertest.Dial(t, qemuURI), qemuURI, syncertest.Name("fx"), 64)

	res, err := newEngine(t, st).SyncOnce(context.Background())
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("SyncOnce = %+v, %v", res, err)
	}
	for _, name := range []string{"alpha", "beta"} {
		r, ok := syncertest.Row(t, st, "local", name)
		if !ok || r.DeletedAt == nil {
			t.Errorf("%s (absent live): %s, want soft-deleted", name, syncertest.Describe(r, ok))
		}
		if ok && r.ConfigErr != nil {
			t.Errorf("%s: recorded config no longer parses: %v", name, r.ConfigErr)
		}
	}
	r := syncertest.WaitRow(t, st, "local", q.Name(), "recorded", syncertest.Live)
	var fields map[string]any
	if err := json.Unmarshal([]byte(r.ConfigJSON), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "name", "state", "max_mem", "memory", "vcpu", "cpu_time", "uptime", "persistent", "autostart", "graphics"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("config_json lacks Virtumancer's field %q: %s", k, r.ConfigJSON)
		}
	}
	if fields["memory"] != float64(65536) || fields["uptime"] != float64(-1) {
		t.Errorf("config_json units: memory %v (want 65536 KiB), uptime %v (want -1): %s", fields["memory"], fields["uptime"], r.ConfigJSON)
	}
	assertGormTimes(t, path)
	if after := schema(t, path); !slices.Equal(schemaBefore, after) {
		t.Errorf("Virtumancer's tables changed:\n before %q\n after  %q", schemaBefore, after)
	}
}
