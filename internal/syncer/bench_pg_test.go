package syncer_test

import (
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
)

// BenchmarkFullSyncPostgres times a full sync of 5,000 test-driver domains
// into PostgreSQL against the same sync into SQLite, first (empty store)
// and resync (in step), in one run: the rounds alternate the backends so a
// busy moment of the machine hits both alike, and each time is the best of
// the rounds. "ratio" is PostgreSQL/SQLite (target <= 1.2).
func BenchmarkFullSyncPostgres(b *testing.B) {
	requireDaemon(b)
	pgtest.Require(b)
	const n = 5000
	syncertest.DefineMany(b, syncertest.Name("benchpg"), n)
	pool := hypervisor.NewPool(hypervisor.Options{})
	b.Cleanup(func() { _ = pool.Close() })
	for _, phase := range []string{"first", "resync"} {
		b.Run(phase, func(b *testing.B) {
			best := map[string]time.Duration{"sqlite": 1 << 62, "postgres": 1 << 62}
			round := func() {
				for _, backend := range []string{"sqlite", "postgres"} {
					best[backend] = min(best[backend], timeSync(b, pool, backend, n, phase == "resync"))
				}
			}
			round() // warm-up, so even b.N = 1 has two samples
			b.ResetTimer()
			for range b.N {
				round()
			}
			b.ReportMetric(ms(best["sqlite"]), "sqlite-ms")
			b.ReportMetric(ms(best["postgres"]), "postgres-ms")
			b.ReportMetric(float64(best["postgres"])/float64(best["sqlite"]), "ratio")
		})
	}
}

// timeSync is one full sync into a fresh store of backend (synced once
// first for a resync); only the sync itself runs with the timer on. The
// store is closed at once: a run of many rounds would otherwise hold a
// PostgreSQL connection set per round until the server refuses more.
func timeSync(b *testing.B, pool *hypervisor.Pool, backend string, n int, resync bool) time.Duration {
	b.Helper()
	b.StopTimer()
	h := store.Host{ID: "test", URI: testURI}
	var st *store.Store
	if backend == "postgres" {
		st, _ = syncertest.NewPostgresStore(b, h)
	} else {
		st = syncertest.NewSQLiteStore(b, h)
	}
	defer st.Close()
	e := syncer.NewEngine(st, pool)
	if resync {
		mustSync(b, e, n)
	}
	b.StartTimer()
	start := time.Now()
	mustSync(b, e, n)
	took := time.Since(start)
	b.StopTimer()
	return took
}
