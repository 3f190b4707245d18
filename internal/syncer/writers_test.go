package syncer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// writerEnv makes the test binary a second writer process (see
// writeAsProvider) instead of running tests.
const writerEnv = "VIRTUMANCER_SYNC_TEST_WRITER"

// writerMain, called first by TestMain, records a configuration as the
// provider's apply does (store.Open + UpsertVM) from its own process:
// env = path, host, vm, config_json.
func writerMain() {
	var a struct{ Path, Host, VM, Config string }
	if err := json.Unmarshal([]byte(os.Getenv(writerEnv)), &a); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(3)
	}
	cfg, err := vminfo.Parse([]byte(a.Config))
	if err == nil {
		var st *store.Store
		if st, err = store.Open(a.Path, store.Options{}); err == nil {
			_, err = st.UpsertVM(context.Background(), a.Host, a.VM, cfg)
			err = errors.Join(err, st.Close())
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// writeAsProvider runs the test binary again as a second process that
// records cfg for the VM, and returns when that process has committed.
func writeAsProvider(t *testing.T, path, host, vm string, cfg vminfo.VMInfo) {
	t.Helper()
	js, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	arg, _ := json.Marshal(struct{ Path, Host, VM, Config string }{path, host, vm, string(js)})
	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), writerEnv+"="+string(arg))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("second writer process: %v: %s", err, out)
	}
}

// driftOf is the engine's report entry for one VM (zero: none).
func driftOf(t *testing.T, e *syncer.Engine, host, vm string) observe.Entry {
	t.Helper()
	rep, err := e.Drift(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range rep.VMs {
		if en.Host == host && en.VM == vm {
			return en
		}
	}
	return observe.Entry{}
}

// within1s waits for cond, failing past the one-second promise.
func within1s(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	took := syncertest.Eventually(t, time.Second, what, cond)
	t.Logf("%s after %s", what, took.Round(time.Millisecond))
}

// TestIntegrationOtherWritersReachDriftWithinASecond: a provider process
// that records a new configuration, a person with sqlite3 who puts the
// live one back and then truncates it: each shows in the engine's drift
// report, the drift metric and the vmsync status table within a second,
// with no libvirt event and the resync an hour away. An autostart change
// (no event either) shows within the runtime check interval.
func TestIntegrationOtherWritersReachDriftWithinASecond(t *testing.T) {
	requireDaemon(t)
	// The qemu driver: the test driver is shared with benchmarks that
	// define thousands of domains, whose events would queue ahead of ours.
	st := syncertest.NewSQLiteStore(t, store.Host{ID: "test", URI: qemuURI})
	v := syncertest.DefineVM(t, syncertest.Dial(t, qemuURI), qemuURI, syncertest.Name("writers"), 64)
	e := newEngine(t, st)
	e.CheckInterval = 500 * time.Millisecond
	openEngine(t, e)
	waitReady(t, e, 10*time.Second)
	recorded := syncertest.WaitRow(t, st, "test", v.Name(), "recorded", syncertest.Live)

	applied := recorded.Config
	applied.Memory, applied.MaxMem = 128*1024, 128*1024
	writeAsProvider(t, st.Path(), "test", v.Name(), applied)
	want := observe.Field{Attribute: "memory", Recorded: "128 MiB", Live: "64 MiB", Path: "memory"}
	within1s(t, "provider's write in the drift report, metric and status", func() (bool, string) {
		en := driftOf(t, e, "test", v.Name())
		s, _ := syncertest.Status(t, st, "test", v.Name())
		ok := en.Verdict == observe.Drifted && len(en.Drift) == 2 && en.Drift[1] == want &&
			gauge(t, e.Registry, "virtumancer_sync_drifted_vms", "test") == 1 &&
			syncertest.HasDrift(s.Drift, vminfo.Drift{Field: "memory", Recorded: "131072", Live: "65536"})
		return ok, fmt.Sprintf("entry %+v, status drift %v", en, s.Drift)
	})

	raw := rawConn(t, st.Path())
	// The record is our vmsync_recorded copy (config_json alone is what
	// Virtumancer rewrites as a cache), so a person puts the live config
	// back there.
	exec(t, raw, fmt.Sprintf("UPDATE vmsync_recorded SET config_json = %s WHERE vm_id = %d", quoteSQL(recorded.ConfigJSON), recorded.ID), nil)
	within1s(t, "sqlite3 putting the live config back clears the drift", func() (bool, string) {
		en := driftOf(t, e, "test", v.Name())
		s, ok := syncertest.Status(t, st, "test", v.Name())
		return en.Verdict == "" && ok && len(s.Drift) == 0 && gauge(t, e.Registry, "virtumancer_sync_drifted_vms", "test") == 0,
			fmt.Sprintf("entry %+v, status present %t drift %v", en, ok, s.Drift)
	})

	// Truncated JSON; `null` reads the same once the store parses rows
	// through vminfo's codec (store-codec work).
	exec(t, raw, fmt.Sprintf("UPDATE virtual_machines SET config_json = '{\"memory\": 6' WHERE id = %d", recorded.ID), nil)
	within1s(t, "unreadable config_json is record_unreadable, not drift", func() (bool, string) {
		en := driftOf(t, e, "test", v.Name())
		s, ok := syncertest.Status(t, st, "test", v.Name())
		return en.Verdict == observe.RecordUnreadable && en.RowID == recorded.ID && len(en.Drift) == 0 &&
				ok && len(s.Drift) == 0 && gauge(t, e.Registry, "virtumancer_sync_drifted_vms", "test") == 0,
			fmt.Sprintf("entry %+v, status present %t drift %v", en, ok, s.Drift)
	})
	if r, _ := syncertest.Row(t, st, "test", v.Name()); r.ConfigJSON != `{"memory": 6` || r.DeletedAt != nil {
		t.Errorf("the engine rewrote the unreadable row: %s %q", syncertest.Describe(r, true), r.ConfigJSON)
	}

	exec(t, raw, fmt.Sprintf("UPDATE virtual_machines SET config_json = %s WHERE id = %d", quoteSQL(recorded.ConfigJSON), recorded.ID), nil)
	within1s(t, "readable again, in step", func() (bool, string) {
		en := driftOf(t, e, "test", v.Name())
		return en.Verdict == "", fmt.Sprintf("entry %+v", en)
	})
	// Neither an event nor a store write follows: only the runtime check can see it.
	v.SetAutostart(true)
	took := syncertest.Eventually(t, e.CheckInterval+time.Second, "autostart change (no event) in the drift report", func() (bool, string) {
		en := driftOf(t, e, "test", v.Name())
		s, _ := syncertest.Status(t, st, "test", v.Name())
		ok := en.Verdict == observe.Drifted && len(en.Drift) == 1 && en.Drift[0].Attribute == "autostart" &&
			syncertest.HasDrift(s.Drift, vminfo.Drift{Field: "autostart", Recorded: "false", Live: "true"})
		return ok, fmt.Sprintf("entry %+v, status drift %v", en, s.Drift)
	})
	t.Logf("autostart change seen after %s (check interval %s)", took.Round(time.Millisecond), e.CheckInterval)
}

func quoteSQL(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
