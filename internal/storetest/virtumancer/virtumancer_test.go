package virtumancer_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest/virtumancer"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

func info(name string, memKiB uint64, vcpu uint) vminfo.VMInfo {
	return vminfo.VMInfo{Name: name, State: vminfo.StateShutoff, MaxMem: memKiB, Memory: memKiB, Vcpu: vcpu,
		Uptime: -1, Persistent: true, Graphics: vminfo.Graphics{VNC: true}}
}

func openV(t *testing.T, path string, opts virtumancer.Options) *virtumancer.DB {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	db, err := virtumancer.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func get(t *testing.T, st *store.Store, host, name string) store.VM {
	t.Helper()
	vm, err := st.GetVM(storetest.Ctx(t), host, name)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// schema is every object of the file as SQLite keeps its DDL.
func schema(t *testing.T, path string) string {
	t.Helper()
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out string
	err = sqlitex.ExecuteTransient(conn, "SELECT type, name, ifnull(sql, '') FROM sqlite_master ORDER BY type, name",
		&sqlitex.ExecOptions{ResultFunc: func(s *sqlite.Stmt) error {
			out += s.ColumnText(0) + " " + s.ColumnText(1) + ": " + s.ColumnText(2) + "\n"
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Virtumancer's AutoMigrate must accept a store we created and leave it
// exactly as it was, our tables included.
func TestAutoMigrateLeavesOurStoreUnchanged(t *testing.T) {
	for name, path := range map[string]string{
		"new store":     filepath.Join(t.TempDir(), "virtumancer.db"),
		"fixture store": storetest.CopyFixture(t, storetest.Fixture(t)),
	} {
		t.Run(name, func(t *testing.T) {
			st := storetest.Open(t, path)
			if _, err := st.UpsertVM(storetest.Ctx(t), "h", "store-a", info("store-a", 1024, 1)); err != nil {
				t.Fatal(err)
			}
			before := schema(t, path)
			openV(t, path, virtumancer.Options{})
			if after := schema(t, path); after != before {
				t.Fatalf("AutoMigrate changed the schema:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// The scenario of issue 7 point 8: Virtumancer lists the host after we
// applied a VM. config_json then holds its live cache, but Recorded still
// holds what UpsertVM recorded; a row only Virtumancer created falls back
// to its config_json; a domain it no longer sees is soft-deleted, and it
// cannot revive that row itself.
func TestSyncAndListBesideStore(t *testing.T) {
	path := storetest.CopyFixture(t, storetest.Fixture(t))
	st := storetest.Open(t, path)
	ctx := storetest.Ctx(t)
	applied, err := st.UpsertVM(ctx, "local", "alpha", info("alpha", 4096, 2))
	if err != nil {
		t.Fatal(err)
	}
	v := openV(t, path, virtumancer.Options{})
	res := v.SyncAndList("local", []vminfo.VMInfo{info("alpha", 8192, 4), info("store-gamma", 2048, 1)})
	if res.Synced != 2 || res.Pruned != 1 || len(res.Warnings) != 0 {
		t.Fatalf("SyncAndList = %+v; want 2 synced, beta pruned, no warnings", res)
	}

	alpha := get(t, st, "local", "alpha")
	if alpha.ID != applied.ID || alpha.Config.Memory != 8192 || alpha.Config.Vcpu != 4 {
		t.Errorf("config_json = %s; want Virtumancer's rewrite (8192 KiB, 4 vcpu) in row %d", alpha.ConfigJSON, applied.ID)
	}
	if alpha.RecordedFrom != store.RecordedFromTable || alpha.Recorded.Memory != 4096 || alpha.Recorded.Vcpu != 2 || alpha.RecordErr != nil {
		t.Errorf("Recorded = %+v from %q (%v); want what UpsertVM recorded (4096 KiB, 2 vcpu)", alpha.Recorded, alpha.RecordedFrom, alpha.RecordErr)
	}
	if d := vminfo.Compare(alpha.Recorded, info("alpha", 8192, 4)); len(d) == 0 {
		t.Error("drift against the recorded configuration vanished after Virtumancer's listing")
	}
	gamma := get(t, st, "local", "store-gamma")
	if gamma.RecordedFrom != store.RecordedFromConfigJSON || gamma.Recorded.Memory != 2048 || gamma.RecordErr != nil || gamma.TimeErr != nil {
		t.Errorf("row only GORM created: Recorded %+v from %q (%v, %v); want its config_json", gamma.Recorded, gamma.RecordedFrom, gamma.RecordErr, gamma.TimeErr)
	}
	if _, err := st.GetVM(ctx, "local", "beta"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("beta, not in Virtumancer's listing, is still live: %v", err)
	}

	// Its FirstOrCreate does not see the soft-deleted row and fails on the
	// unique index: logged, counted, that row untouched (the others get a
	// new updated_at: Assign writes even an unchanged config_json).
	const betaRow = "SELECT updated_at || deleted_at || config_json FROM virtual_machines WHERE name = 'beta'"
	before := storetest.Text(t, path, betaRow)
	res = v.SyncAndList("local", []vminfo.VMInfo{info("alpha", 8192, 4), info("store-gamma", 2048, 1), info("beta", 1, 1)})
	if res.UniqueFailures != 1 || res.Synced != 2 || len(res.Warnings) != 1 {
		t.Errorf("listing a soft-deleted VM: %+v; want 1 UNIQUE failure", res)
	}
	if after := storetest.Text(t, path, betaRow); after != before {
		t.Errorf("the failed create changed beta's row:\n%s\n%s", before, after)
	}
	if n := storetest.Text(t, path, "SELECT count(*) FROM virtual_machines"); n != "3" {
		t.Errorf("%s rows; want 3 (no duplicate)", n)
	}

	// Our revive overwrites our row; Virtumancer's next listing only
	// rewrites config_json.
	if _, err := st.UpsertVM(ctx, "local", "beta", info("beta", 512, 1)); err != nil {
		t.Fatal(err)
	}
	v.SyncAndList("local", []vminfo.VMInfo{info("alpha", 8192, 4), info("store-gamma", 2048, 1), info("beta", 1024, 1)})
	if beta := get(t, st, "local", "beta"); beta.Recorded.Memory != 512 || beta.Config.Memory != 1024 {
		t.Errorf("beta: Recorded %d KiB, config_json %d KiB; want 512 and 1024", beta.Recorded.Memory, beta.Config.Memory)
	}
}

// gormText matches GORM's DATETIME text in any zone.
var gormText = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})?[+-]\d\d:\d\d$`)

// Timestamps cross both ways: the store reads what GORM writes (in any
// zone), and GORM reads what the store writes.
func TestTimestampsBetweenGORMAndStore(t *testing.T) {
	path := storetest.CopyFixture(t, storetest.Fixture(t))
	st := storetest.Open(t, path)
	ctx := storetest.Ctx(t)
	// A Virtumancer whose clock is in UTC+2.
	when := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("EET", 2*3600))
	v := openV(t, path, virtumancer.Options{NowFunc: func() time.Time { return when }})
	v.SyncAndList("local", []vminfo.VMInfo{info("alpha", 1, 1), info("beta", 1, 1), info("store-new", 1, 1)})
	raw := storetest.Text(t, path, "SELECT created_at FROM virtual_machines WHERE name = 'store-new'")
	if raw != "2026-05-06 07:08:09.123456789+02:00" {
		t.Fatalf("GORM wrote created_at %q; this test expects its DATETIME format with the +02:00 offset", raw)
	}
	vm := get(t, st, "local", "store-new")
	if vm.TimeErr != nil || !vm.CreatedAt.Equal(when) || !vm.UpdatedAt.Equal(when) {
		t.Fatalf("store read %v / %v (%v); want %v", vm.CreatedAt, vm.UpdatedAt, vm.TimeErr, when)
	}
	if !vm.ChangedSince(when) || vm.ChangedSince(when.Add(time.Nanosecond)) {
		t.Errorf("ChangedSince compares text, not instants")
	}
	// The default clock writes the same format.
	v2 := openV(t, path, virtumancer.Options{})
	v2.SyncAndList("other", []vminfo.VMInfo{info("store-now", 1, 1)})
	if raw := storetest.Text(t, path, "SELECT updated_at FROM virtual_machines WHERE name = 'store-now'"); !gormText.MatchString(raw) {
		t.Errorf("GORM's default clock wrote %q", raw)
	}
	if vm := get(t, st, "other", "store-now"); vm.TimeErr != nil || time.Since(vm.UpdatedAt).Abs() > time.Minute {
		t.Errorf("store read GORM's now as %v (%v)", vm.UpdatedAt, vm.TimeErr)
	}

	ours, err := st.UpsertVM(ctx, "h", "store-ours", info("store-ours", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SoftDeleteVM(ctx, "h", "store-ours"); err != nil {
		t.Fatal(err)
	}
	var gv virtumancer.VirtualMachine
	if err := v.Gorm().Unscoped().Where("name = ?", "store-ours").First(&gv).Error; err != nil {
		t.Fatal(err)
	}
	if int64(gv.ID) != ours.ID || !gv.CreatedAt.Equal(ours.CreatedAt) || !gv.DeletedAt.Valid {
		t.Fatalf("GORM read our row as id %d created %v deleted %v; want id %d created %v, deleted", gv.ID, gv.CreatedAt, gv.DeletedAt, ours.ID, ours.CreatedAt)
	}
	if err := v.Gorm().Where("name = ?", "store-ours").First(&virtumancer.VirtualMachine{}).Error; err == nil {
		t.Error("GORM's default scope sees our soft-deleted row")
	}
}

// Both writers at once in one process (one SQLite engine): the provider
// keeps applying while Virtumancer keeps listing. Nothing is locked out,
// no row is duplicated, and the last applied configuration is what
// Recorded holds.
func TestConcurrentWriters(t *testing.T) {
	path := storetest.CopyFixture(t, storetest.Fixture(t))
	st := storetest.Open(t, path)
	v := openV(t, path, virtumancer.Options{})
	const n, rounds = 10, 15
	names := make([]string, n)
	var live []vminfo.VMInfo
	for i := range names {
		names[i] = fmt.Sprintf("store-c%02d", i)
		live = append(live, info(names[i], 64*1024, 1))
		if _, err := st.UpsertVM(storetest.Ctx(t), "c", names[i], info(names[i], 1024, 1)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(storetest.Ctx(t))
	var wg sync.WaitGroup
	var results []virtumancer.Result
	wg.Go(func() {
		for ctx.Err() == nil {
			results = append(results, v.SyncAndList("c", live))
		}
	})
	for r := 1; r <= rounds; r++ {
		for _, name := range names {
			if _, err := st.UpsertVM(ctx, "c", name, info(name, uint64(1024*r), 1)); err != nil {
				t.Error(err)
			}
		}
	}
	cancel()
	wg.Wait()
	for _, res := range results {
		if len(res.Warnings) != 0 {
			t.Fatalf("Virtumancer warned: %v", res.Warnings)
		}
	}
	vms, err := st.ListVMs(storetest.Ctx(t), "c")
	if err != nil || len(vms) != n {
		t.Fatalf("ListVMs = %d rows, %v; want %d", len(vms), err, n)
	}
	for _, vm := range vms {
		if vm.Recorded.Memory != 1024*rounds || vm.RecordedFrom != store.RecordedFromTable {
			t.Errorf("%s: Recorded %d KiB from %q; want the last apply, %d", vm.Name, vm.Recorded.Memory, vm.RecordedFrom, 1024*rounds)
		}
	}
	if c := storetest.Text(t, path, "SELECT count(*) FROM virtual_machines WHERE host_id = 'c'"); c != fmt.Sprint(n) {
		t.Errorf("%s rows for host c; want %d", c, n)
	}
	t.Logf("%d Virtumancer listings ran beside %d applies", len(results), n*rounds)
}
