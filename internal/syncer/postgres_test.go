package syncer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// TestIntegrationPostgresEventsReachStore is TestIntegrationEventsReachStore
// with the store on PostgreSQL: a full sync, then each lifecycle event of a
// test-driver domain lands as a row within a second.
func TestIntegrationPostgresEventsReachStore(t *testing.T) {
	requireDaemon(t)
	pgtest.Require(t)
	st, _ := syncertest.NewPostgresStore(t, store.Host{ID: "test", URI: testURI})
	e := openEngine(t, newEngine(t, st))
	waitReady(t, e, 10*time.Second)
	lifecycle(t, st, "test", testURI, true)
	for _, h := range e.Hosts() {
		if !h.Connected || !h.Synced || h.Outages != 0 {
			t.Errorf("host %s: want connected, synced, no outage; got %+v", h.ID, h)
		}
	}
}

// TestIntegrationPostgresOtherWritersReachDriftWithinASecond mirrors
// TestIntegrationOtherWritersReachDriftWithinASecond on PostgreSQL: another
// client recording a configuration, and a person with psql putting the
// live one back, each reach the engine's drift report within a second
// through the change feed (LISTEN/NOTIFY), with the resync an hour away.
func TestIntegrationPostgresOtherWritersReachDriftWithinASecond(t *testing.T) {
	requireDaemon(t)
	pgtest.Require(t)
	st, u := syncertest.NewPostgresStore(t, store.Host{ID: "test", URI: qemuURI})
	v := syncertest.DefineVM(t, syncertest.Dial(t, qemuURI), qemuURI, syncertest.Name("pgwriters"), 64)
	e := newEngine(t, st)
	e.CheckInterval = 500 * time.Millisecond
	openEngine(t, e)
	waitReady(t, e, 10*time.Second)
	recorded := syncertest.WaitRow(t, st, "test", v.Name(), "recorded", syncertest.Live)

	other, err := store.Open(u, store.Options{CreateOnWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	applied := recorded.Config
	applied.Memory, applied.MaxMem = 128*1024, 128*1024
	if _, err := other.UpsertVM(context.Background(), "test", v.Name(), applied); err != nil {
		t.Fatal(err)
	}
	want := observe.Field{Attribute: "memory", Recorded: "128 MiB", Live: "64 MiB", Path: "memory"}
	within1s(t, "another client's write in the drift report, metric and status", func() (bool, string) {
		en := driftOf(t, e, "test", v.Name())
		s, _ := syncertest.Status(t, st, "test", v.Name())
		ok := en.Verdict == observe.Drifted && len(en.Drift) == 2 && en.Drift[1] == want &&
			gauge(t, e.Registry, "virtumancer_sync_drifted_vms", "test") == 1 &&
			syncertest.HasDrift(s.Drift, vminfo.Drift{Field: "memory", Recorded: "131072", Live: "65536"})
		return ok, fmt.Sprintf("entry %+v, status drift %v", en, s.Drift)
	})

	ctx := context.Background()
	raw, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	if _, err := raw.Exec(ctx, "UPDATE vmsync_recorded SET config_json = $1 WHERE vm_id = $2", recorded.ConfigJSON, recorded.ID); err != nil {
		t.Fatal(err)
	}
	within1s(t, "psql putting the live config back clears the drift", func() (bool, string) {
		en := driftOf(t, e, "test", v.Name())
		s, ok := syncertest.Status(t, st, "test", v.Name())
		return en.Verdict == "" && ok && len(s.Drift) == 0 && gauge(t, e.Registry, "virtumancer_sync_drifted_vms", "test") == 0,
			fmt.Sprintf("entry %+v, status present %t drift %v", en, ok, s.Drift)
	})
}
