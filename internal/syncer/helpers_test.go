package syncer_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
)

// Test* tests need nothing; TestIntegration* and the benchmarks need the
// real libvirtd (scripts/testenv.sh) and fail, never skip, without it.

const (
	testURI = syncertest.TestURI
	qemuURI = syncertest.QemuURI
)

// TestMain closes the test:///default holder that the first test needing
// libvirtd opened (the daemon's test driver resets when its last
// connection closes); plain Test… tests never open it. Run with writerEnv
// set, the binary is a second writer process and runs no tests.
func TestMain(m *testing.M) {
	if os.Getenv(writerEnv) != "" {
		writerMain()
	}
	libvirttest.Main(m)
}

func requireDaemon(t testing.TB) {
	t.Helper()
	libvirttest.Require(t)
}

// newEngine returns an engine with fast loops for tests. The periodic
// resync is pushed out of reach, so that what the tests see between syncs
// is the work of events alone.
func newEngine(t testing.TB, st *store.Store) *syncer.Engine {
	t.Helper()
	pool := hypervisor.NewPool(hypervisor.Options{DialTimeout: 3 * time.Second, CallTimeout: 10 * time.Second})
	t.Cleanup(func() { _ = pool.Close() })
	e := syncer.NewEngine(st, pool)
	e.Logger = hclog.New(&hclog.LoggerOptions{Name: "engine", Level: hclog.Info, Output: testWriter{t}})
	e.HostPollInterval = 100 * time.Millisecond
	e.ResyncInterval = time.Hour
	e.BackoffMin, e.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
	return e
}

// openEngine opens e and closes it at the end of the test.
func openEngine(t testing.TB, e *syncer.Engine) *syncer.Engine {
	t.Helper()
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeEngine(t, e) })
	return e
}

func closeEngine(t testing.TB, e *syncer.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Errorf("close engine: %v", err)
	}
}

// testWriter sends engine logs to t.Log so they show with failures only.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

func waitReady(t testing.TB, e *syncer.Engine, within time.Duration) {
	t.Helper()
	syncertest.Eventually(t, within, "engine ready", func() (bool, string) {
		return e.Ready()
	})
}

// gauge reads one per-host gauge from the engine's registry; -1 if absent.
func gauge(t testing.TB, reg prometheus.Gatherer, name, host string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "host" && lp.GetValue() == host {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}
