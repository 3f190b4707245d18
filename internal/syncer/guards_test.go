package syncer_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// TestIntegrationSyncLeavesRowsNewerThanItsListing: rows the provider
// writes after a full sync listed libvirt but before it writes are newer
// than what it saw, and survive it exactly as written: a row recorded
// before its domain is defined, a re-applied row whose domain the listing
// lacked, and a row soft-deleted before its domain is undefined.
func TestIntegrationSyncLeavesRowsNewerThanItsListing(t *testing.T) {
	requireDaemon(t)
	ctx := context.Background()
	st := syncertest.NewStore(t, store.Host{ID: "q", URI: qemuURI})
	l := syncertest.Dial(t, qemuURI)
	doomed := syncertest.DefineVM(t, l, qemuURI, syncertest.Name("doomed"), 64)
	cfg := vminfo.VMInfo{Name: "x", Memory: 65536, MaxMem: 65536, Vcpu: 1, Persistent: true, State: vminfo.StateShutoff, Uptime: -1}
	fresh, reapplied := syncertest.Name("fresh"), syncertest.Name("reapplied")
	for _, n := range []string{reapplied, doomed.Name()} {
		if _, err := st.UpsertVM(ctx, "q", n, cfg); err != nil {
			t.Fatal(err)
		}
	}

	e := newEngine(t, st)
	e.OnFetched = func(string, int) {
		// As the provider does: record before define, delete before undefine.
		if _, err := st.UpsertVM(ctx, "q", fresh, cfg); err != nil {
			t.Error(err)
		}
		if _, err := st.UpsertVM(ctx, "q", reapplied, cfg); err != nil {
			t.Error(err)
		}
		if err := st.SoftDeleteVM(ctx, "q", doomed.Name()); err != nil {
			t.Error(err)
		}
	}
	res, err := e.SyncOnce(ctx)
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("SyncOnce = %+v, %v", res, err)
	}
	after := map[string]store.VM{}
	for _, n := range []string{fresh, reapplied, doomed.Name()} {
		after[n], _ = syncertest.Row(t, st, "q", n)
	}
	if res[0].Newer != 3 {
		t.Errorf("sync result %+v: want 3 rows newer than the listing", res[0])
	}
	for _, n := range []string{fresh, reapplied} {
		if r := after[n]; r.DeletedAt != nil || r.Config.Memory != 65536 {
			t.Errorf("%s, written after the listing: %s, want live and as written", n, syncertest.Describe(r, true))
		}
	}
	if r := after[doomed.Name()]; r.DeletedAt == nil {
		t.Errorf("%s, deleted after the listing: %s, want it left soft-deleted", doomed.Name(), syncertest.Describe(r, true))
	}
	// A later sync sees the same rows as older than its listing: now the
	// rows of absent domains go and the present domain is revived.
	e.OnFetched = nil
	if res, err = e.SyncOnce(ctx); err != nil || res[0].Err != nil || res[0].Deleted < 2 || res[0].Revived < 1 {
		t.Errorf("second SyncOnce = %+v, %v; want the two domainless rows soft-deleted and %s revived", res, err, doomed.Name())
	}
}

// TestStoreFileGoneStopsEngine: a store file deleted or replaced under a
// running engine stops it within a poll or two, and Ready says why.
func TestStoreFileGoneStopsEngine(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		do         func(t *testing.T, path string)
	}{
		{"deleted", "store file gone", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
		{"replaced", "store file replaced", func(t *testing.T, path string) {
			other := filepath.Join(t.TempDir(), "restored.db")
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := syncertest.NewSQLiteStore(t)
			e := newEngine(t, st)
			openEngine(t, e)
			waitReady(t, e, time.Second)
			tc.do(t, st.Path())
			select {
			case <-e.Fatal():
			case <-time.After(2 * time.Second):
				t.Fatal("engine still running 2s after the store file changed")
			}
			ready, reason := e.Ready()
			if ready || !strings.Contains(reason, tc.want) || !strings.Contains(reason, st.Path()) || e.Err() == nil {
				t.Errorf("Ready() = %t, %q; Err %v: want not ready, naming %q and the path", ready, reason, e.Err(), tc.want)
			}
		})
	}
}
