package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/httpapi"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

const (
	testURI = syncertest.TestURI
	qemuURI = syncertest.QemuURI
)

// TestIntegrationDaemonHTTPAndDrift runs the built service on two hosts:
// probes, hosts API, metrics, then a memory change that /api/v1/drift,
// the drifted-VMs metric and `virtumancer-sync drift` all report, with the
// recorded config untouched; SIGTERM exits 0 and marks hosts disconnected.
func TestIntegrationDaemonHTTPAndDrift(t *testing.T) {
	requireDaemon(t)
	st := syncertest.NewStore(t, store.Host{ID: "test", URI: testURI}, store.Host{ID: "qemu", URI: qemuURI})
	l := syncertest.Dial(t, testURI)
	v := syncertest.DefineVM(t, l, testURI, syncertest.Name("cli"), 64)
	d := startDaemon(t, st.Path(), nil)

	if code, body := d.get("/healthz", ""); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	syncertest.Eventually(t, 15*time.Second, "/readyz 200", func() (bool, string) {
		code, body := d.get("/readyz", "")
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	var hosts httpapi.HostsResponse
	d.getJSON("/api/v1/hosts", &hosts)
	if len(hosts.Hosts) != 2 {
		t.Fatalf("/api/v1/hosts = %+v, want 2 hosts", hosts)
	}
	for _, h := range hosts.Hosts {
		if !h.Connected || !h.Synced || h.LastSync == nil || h.LastError != "" {
			t.Errorf("host %s = %+v, want connected and synced without error", h.ID, h)
		}
		if h.ID == "test" && h.VMCount < 2 { // ours and the driver's own "test"
			t.Errorf("host test vm_count = %d, want >= 2", h.VMCount)
		}
	}

	recorded := syncertest.WaitRow(t, st, "test", v.Name(), "recorded", syncertest.Live)
	v.SetMemory(96)
	want := observe.Field{Attribute: "memory", Recorded: "64 MiB", Live: "96 MiB", Path: "memory"}
	var api observe.Report
	took := syncertest.Eventually(t, syncertest.EventDeadline, "/api/v1/drift lists the change", func() (bool, string) {
		api = observe.Report{}
		d.getJSON("/api/v1/drift", &api)
		return hasVMDrift(api, "test", v.Name(), want), fmt.Sprintf("%+v", api)
	})
	t.Logf("memory change in /api/v1/drift after %s", took)

	code, body := d.get("/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for series, atLeast := range map[string]float64{
		`virtumancer_sync_drifted_vms{host="test"}`:                  1,
		`virtumancer_sync_host_connected{host="test"}`:               1,
		`virtumancer_sync_host_connected{host="qemu"}`:               1,
		`virtumancer_sync_vms{host="test"}`:                          2,
		`virtumancer_sync_events_total{host="test",type="defined"}`:  1,
		`virtumancer_sync_duration_seconds_count{host="qemu"}`:       1,
		`virtumancer_sync_last_error_timestamp_seconds{host="test"}`: 0,
	} {
		if got, ok := metric(body, series); !ok || got < atLeast {
			t.Errorf("metric %s = %v (present %t), want >= %v", series, got, ok, atLeast)
		}
	}

	res := runCLI(t, nil, "drift", "--database", st.Path(), "--host", "test")
	if res.code != exitDrift || !strings.Contains(res.stdout, fmt.Sprintf("host \"test\" vm %q: drifted: max_memory 64 MiB -> 96 MiB (config_json max_mem); memory 64 MiB -> 96 MiB", v.Name())) {
		t.Errorf("drift: exit %d (want 2), stdout %q", res.code, res.stdout)
	}
	res = runCLI(t, nil, "drift", "--json", "--database", st.Path(), "--host", "test")
	var rep observe.Report
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || res.code != exitDrift || !hasVMDrift(rep, "test", v.Name(), want) {
		t.Errorf("drift --json: exit %d, err %v, report %+v", res.code, err, rep)
	}
	// One schema: the CLI's entry and the API's say the same of this VM.
	if cli, srv := entry(rep, "test", v.Name()), entry(api, "test", v.Name()); cli.State != "shut off" || cli.StateCode != vminfo.StateShutoff ||
		cli.State != srv.State || cli.RowID != srv.RowID || cli.RowID == 0 || fmt.Sprint(cli.Drift) != fmt.Sprint(srv.Drift) {
		t.Errorf("CLI and API disagree on %s:\n cli %+v\n api %+v", v.Name(), cli, srv)
	}

	if after, _ := syncertest.Row(t, st, "test", v.Name()); after.ConfigJSON != recorded.ConfigJSON {
		t.Errorf("recorded config_json changed:\n before %s\n after  %s", recorded.ConfigJSON, after.ConfigJSON)
	}

	if code := d.stop(sigterm); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0; logs:\n%s", code, d.output())
	}
	d.waitLog("virtumancer-sync stopped", time.Second)
	hs, err := st.ListHostStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Connected {
			t.Errorf("host %s still marked connected after shutdown", h.HostID)
		}
	}
}

func hasVMDrift(rep observe.Report, host, name string, want observe.Field) bool {
	return slices.Contains(entry(rep, host, name).Drift, want)
}

// entry is the report's entry for one VM; zero when it has none.
func entry(rep observe.Report, host, name string) observe.Entry {
	for _, e := range rep.VMs {
		if e.Host == host && e.VM == name {
			return e
		}
	}
	return observe.Entry{}
}

// TestTokenAndListen: a token guards the API and metrics but not the
// probes; a non-loopback address without a token is refused. A store with
// no hosts never dials libvirtd, so this needs nothing but the Go toolchain.
func TestTokenAndListen(t *testing.T) {
	st := syncertest.NewSQLiteStore(t)
	d := startDaemon(t, st.Path(), []string{envToken + "=s3cret"})
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 401, "/api/v1/hosts": 401, "/api/v1/drift": 401} {
		if code, body := d.get(path, ""); code != want {
			t.Errorf("GET %s without token = %d %s, want %d", path, code, body, want)
		}
	}
	if code, _ := d.get("/api/v1/hosts", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	for _, path := range []string{"/metrics", "/api/v1/hosts", "/api/v1/drift"} {
		if code, body := d.get(path, "s3cret"); code != http.StatusOK {
			t.Errorf("GET %s with token = %d %s", path, code, body)
		}
	}
	if code, _ := d.get("/nope", "s3cret"); code != http.StatusNotFound {
		t.Errorf("unknown path: %d, want 404", code)
	}
	if code := d.stop(sigterm); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}

	res := runCLI(t, nil, "--database", st.Path(), "--listen", "0.0.0.0:9464")
	if res.code != exitError || !strings.Contains(res.stderr, "refusing to listen on 0.0.0.0") || !strings.Contains(res.stderr, "Try: ") {
		t.Errorf("public listen without token: exit %d, stderr %q", res.code, res.stderr)
	}
}

// TestIntegrationOnce: --once syncs every host, prints one line per host,
// and fails when one host fails, after syncing the others.
func TestIntegrationOnce(t *testing.T) {
	requireDaemon(t)
	st := syncertest.NewStore(t, store.Host{ID: "test", URI: testURI}, store.Host{ID: "qemu", URI: qemuURI})
	v := syncertest.DefineVM(t, syncertest.Dial(t, qemuURI), qemuURI, syncertest.Name("once"), 64)

	res := runCLI(t, nil, "--once", "--database", st.Path())
	if res.code != exitOK || !strings.Contains(res.stdout, "host qemu (qemu:///system): ") || !strings.Contains(res.stdout, "2 of 2 hosts synced") {
		t.Errorf("--once: exit %d, stdout %q", res.code, res.stdout)
	}
	if r, ok := syncertest.Row(t, st, "qemu", v.Name()); !syncertest.Live(r, ok) {
		t.Errorf("after --once: %s", syncertest.Describe(r, ok))
	}

	if err := st.CreateHost(context.Background(), store.Host{ID: "dead", URI: "qemu+tcp://127.0.0.1:1/system"}); err != nil {
		t.Fatal(err)
	}
	res = runCLI(t, nil, "--once", "--database", st.Path())
	if res.code != exitError || !strings.Contains(res.stdout, "host dead (qemu+tcp://127.0.0.1:1/system): FAILED") ||
		!strings.Contains(res.stdout, "2 of 3 hosts synced") {
		t.Errorf("--once with a dead host: exit %d, stdout %q", res.code, res.stdout)
	}
	res = runCLI(t, nil, "--once", "--database", st.Path(), "--host", "test")
	if res.code != exitOK || strings.Contains(res.stdout, "dead") {
		t.Errorf("--once --host test: exit %d, stdout %q", res.code, res.stdout)
	}
	res = runCLI(t, nil, "--once", "--database", st.Path(), "--host", "typo")
	if res.code != exitError || !strings.Contains(res.stderr, `host \"typo\" is not in the store`) {
		t.Errorf("--once --host typo: exit %d, stderr %q", res.code, res.stderr)
	}
}

// TestIntegrationDriftCommand: exit 0 without drift, 2 with drift (a
// changed or a vanished domain), 1 when a host cannot be checked; the
// check is read-only.
func TestIntegrationDriftCommand(t *testing.T) {
	requireDaemon(t)
	ctx := context.Background()
	st := syncertest.NewStore(t, store.Host{ID: "test", URI: testURI})
	l := syncertest.Dial(t, testURI)
	v := syncertest.DefineVM(t, l, testURI, syncertest.Name("drift"), 64)
	recorded := recordLive(t, st, "test", l, v.Name())
	env := []string{envDatabase + "=" + st.Path()}

	res := runCLI(t, env, "drift")
	if res.code != exitOK || res.stdout != "0 of 1 recorded VMs need attention; 0 host(s) not checked\n" {
		t.Errorf("no drift: exit %d, stdout %q", res.code, res.stdout)
	}

	v.SetMemory(128)
	res = runCLI(t, env, "drift")
	want := fmt.Sprintf("host %q vm %q: drifted: max_memory 64 MiB -> 128 MiB (config_json max_mem); memory 64 MiB -> 128 MiB\n"+
		"1 of 1 recorded VMs need attention; 0 host(s) not checked\n", "test", v.Name())
	if res.code != exitDrift || res.stdout != want {
		t.Errorf("memory drift: exit %d\n got  %q\n want %q", res.code, res.stdout, want)
	}

	v.Undefine()
	res = runCLI(t, env, "drift", "--json")
	var rep observe.Report
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || res.code != exitDrift || rep.InStep ||
		entry(rep, "test", v.Name()).Verdict != observe.Missing || entry(rep, "test", v.Name()).State != "" {
		t.Errorf("vanished domain: exit %d, err %v, report %+v; want verdict missing, no state", res.code, err, rep)
	}

	if err := st.CreateHost(ctx, store.Host{ID: "dead", URI: "qemu+tcp://127.0.0.1:1/system"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertVM(ctx, "dead", "sync-ghost", recorded.Config); err != nil {
		t.Fatal(err)
	}
	res = runCLI(t, env, "drift")
	if res.code != exitError || !strings.Contains(res.stderr, "host dead (qemu+tcp://127.0.0.1:1/system) not checked") {
		t.Errorf("unreachable host: exit %d, stderr %q", res.code, res.stderr)
	}
	res = runCLI(t, env, "drift", "--host", "nope")
	if res.code != exitError || !strings.Contains(res.stderr, `host "nope" is not in the store`) || !strings.Contains(res.stderr, "Try: ") {
		t.Errorf("unknown host: exit %d, stderr %q", res.code, res.stderr)
	}

	if after, _ := syncertest.Row(t, st, "test", v.Name()); after.ConfigJSON != recorded.ConfigJSON || after.DeletedAt != nil {
		t.Errorf("drift wrote to the store: %s", syncertest.Describe(after, true))
	}
	if statuses, err := st.ListVMStatus(ctx, ""); err != nil || len(statuses) != 0 {
		t.Errorf("drift wrote statuses: %+v, %v", statuses, err)
	}
}

// TestIntegrationOneSyncerPerSQLiteStore: while a daemon syncs a SQLite
// store, a second daemon and --once on the same file refuse to start,
// naming the holder; `drift` only reads and still runs. Once the daemon
// stops, --once runs.
func TestIntegrationOneSyncerPerSQLiteStore(t *testing.T) {
	requireDaemon(t)
	st := syncertest.NewSQLiteStore(t, store.Host{ID: "test", URI: testURI})
	d := startDaemon(t, st.Path(), nil)

	for _, args := range [][]string{{"--database", st.Path(), "--listen", "127.0.0.1:0"}, {"--once", "--database", st.Path()}} {
		res := runCLI(t, nil, args...)
		if res.code != exitError || !strings.Contains(res.stderr, "another virtumancer-sync already syncs this store") ||
			!strings.Contains(res.stderr, fmt.Sprintf("pid %d", d.cmd.Process.Pid)) {
			t.Errorf("%v beside a running daemon: exit %d, stderr %q; want a refusal naming pid %d", args, res.code, res.stderr, d.cmd.Process.Pid)
		}
	}
	res := runCLI(t, []string{envDatabase + "=" + st.Path()}, "drift")
	if res.code != exitOK {
		t.Errorf("drift beside a running daemon: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}

	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("daemon exit %d: %s", code, d.output())
	}
	res = runCLI(t, nil, "--once", "--database", st.Path())
	if res.code != exitOK || !strings.Contains(res.stdout, "1 of 1 hosts synced") {
		t.Errorf("--once after the daemon stopped: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
}
