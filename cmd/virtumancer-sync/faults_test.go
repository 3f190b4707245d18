package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/httpapi"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
)

// TestIntegrationSIGTERMDuringLargeSync stops the service at several
// moments of the first full sync of 1,200 domains. Each time it must exit
// 0 and leave the store consistent: the sync is one transaction, so either
// every row and status is there or none is. A later run converges.
func TestIntegrationSIGTERMDuringLargeSync(t *testing.T) {
	requireDaemon(t)
	const n = 1200
	names := syncertest.DefineMany(t, syncertest.Name("big"), n)
	outcomes := map[string]int{}
	moments := []struct {
		after string // log line
		delay time.Duration
	}{
		{"host connected", 0}, {"host connected", 100 * time.Millisecond}, {"host connected", 400 * time.Millisecond},
		// The write transaction is in flight: it must commit whole.
		{"domains read; writing", 0},
	}
	for _, m := range moments {
		at := fmt.Sprintf("%s after %q", m.delay, m.after)
		st := syncertest.NewStore(t, store.Host{ID: "test", URI: testURI})
		d := startDaemon(t, st.Path(), nil, "--listen", "")
		d.waitLog(m.after, 20*time.Second)
		time.Sleep(m.delay)
		if code := d.stop(sigterm); code != 0 {
			t.Fatalf("SIGTERM %s: exit %d, want 0; logs:\n%s", at, code, d.output())
		}
		rows, statuses := countOurs(t, st, names)
		if (rows != 0 && rows != n) || statuses != rows {
			t.Fatalf("SIGTERM %s: %d of %d rows, %d statuses: a sync was half written", at, rows, n, statuses)
		}
		if m.after == "domains read; writing" && rows != n {
			t.Fatalf("SIGTERM %s: %d rows; the transaction in flight must be finished, not dropped", at, rows)
		}
		outcome := "before the commit"
		if rows == n {
			outcome = "after the commit"
		}
		outcomes[outcome]++
		t.Logf("SIGTERM %s: stopped %s (%d rows), exit 0", at, outcome, rows)

		res := runCLI(t, nil, "--once", "--database", st.Path())
		if rows, statuses = countOurs(t, st, names); res.code != 0 || rows != n || statuses != n {
			t.Fatalf("after restart: exit %d, %d rows, %d statuses; want %d", res.code, rows, statuses, n)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

// countOurs counts the live rows and statuses among names.
func countOurs(t testing.TB, st *store.Store, names []string) (rows, statuses int) {
	t.Helper()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	vms, err := st.ListVMs(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vms {
		rows += b2i(want[v.Name])
	}
	sts, err := st.ListVMStatus(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts {
		statuses += b2i(want[s.Name])
	}
	return rows, statuses
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestIntegrationLibvirtdRestart kills libvirtd under the running service
// and starts it again: the service notices, reconnects with backoff,
// resyncs (the reset test driver's domains are soft-deleted, a domain
// defined after the restart arrives by event), and /api/v1/hosts shows
// the outage and the recovery.
func TestIntegrationLibvirtdRestart(t *testing.T) {
	if os.Getenv(libvirttest.RestartEnv) != "1" {
		t.Skipf("restarts the machine's libvirtd, disturbing anything else using it; set %s=1 to run (.ci/run does)", libvirttest.RestartEnv)
	}
	requireDaemon(t)
	st := syncertest.NewStore(t, store.Host{ID: "test", URI: testURI}, store.Host{ID: "qemu", URI: qemuURI})
	before := syncertest.DefineVM(t, syncertest.Dial(t, testURI), testURI, syncertest.Name("pre"), 64)
	d := startDaemon(t, st.Path(), nil)
	syncertest.Eventually(t, 15*time.Second, "/readyz 200", func() (bool, string) {
		code, body := d.get("/readyz", "")
		return code == http.StatusOK, body
	})
	syncertest.WaitRow(t, st, "test", before.Name(), "recorded", syncertest.Live)

	libvirttest.Restart(t)

	// The test driver came back empty: the resync soft-deletes our domain.
	syncertest.Eventually(t, 60*time.Second, "both hosts reconnected after an outage", func() (bool, string) {
		var hosts httpapi.HostsResponse
		d.getJSON("/api/v1/hosts", &hosts)
		ok := len(hosts.Hosts) == 2
		for _, h := range hosts.Hosts {
			ok = ok && h.Connected && h.Outages >= 1 && h.LastOutage != nil && h.LastError != "" &&
				h.LastSync != nil && h.LastSync.After(*h.LastOutage)
		}
		return ok, fmt.Sprintf("%+v", hosts.Hosts)
	})
	syncertest.WaitRow(t, st, "test", before.Name(), "soft-deleted by the resync after the restart", syncertest.SoftDeleted)
	after := syncertest.DefineVM(t, syncertest.Dial(t, qemuURI), qemuURI, syncertest.Name("post"), 64)
	syncertest.WaitRow(t, st, "qemu", after.Name(), "defined after the restart: event", syncertest.Live)
	if l, ok := d.findLog("host disconnected", func(m map[string]any) bool { return m["host"] == "qemu" }); !ok {
		t.Errorf("no 'host disconnected' log line for qemu")
	} else {
		t.Logf("logged: %v", l)
	}
	if code := d.stop(sigterm); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestIntegrationStoreFileDeletedStopsDaemon: the store file removed under
// the running service is noticed within seconds; the service logs why and
// exits 1 (systemd's Restart=on-failure then starts it on the new file),
// instead of writing on into an unlinked file while reporting ready.
func TestIntegrationStoreFileDeletedStopsDaemon(t *testing.T) {
	requireDaemon(t)
	st := syncertest.NewSQLiteStore(t)
	d := startDaemon(t, st.Path(), nil)
	syncertest.Eventually(t, 10*time.Second, "/readyz 200", func() (bool, string) {
		code, body := d.get("/readyz", "")
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	if err := os.Remove(st.Path()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5s after its store file was deleted; logs:\n%s", d.output())
	}
	if code := d.cmd.ProcessState.ExitCode(); code != exitError {
		t.Errorf("exit code %d, want %d", code, exitError)
	}
	l, ok := d.findLog("virtumancer-sync stopped")
	if !ok || !strings.Contains(fmt.Sprint(l["error"]), "store file gone") || !strings.Contains(fmt.Sprint(l["error"]), st.Path()) ||
		fmt.Sprint(l["try"]) == "" {
		t.Errorf("final log %v: want the error naming the gone file and its path, and a hint; logs:\n%s", l, d.output())
	}
}
