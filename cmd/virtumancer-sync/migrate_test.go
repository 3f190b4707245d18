package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest/virtumancer"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// seedMigrateSource is Virtumancer's own store plus what a copy must keep:
// a row we recorded (vmsync_recorded) with its sync status, a host status,
// a soft-deleted row, a row whose config_json someone else corrupted, a
// timestamp with nanoseconds written by a GORM in another time zone, and
// a hard-deleted row above the highest id (the sequence must not fall back).
func seedMigrateSource(t *testing.T) string {
	t.Helper()
	db := storetest.CopyFixture(t, storetest.Fixture(t))
	st := storetest.Open(t, db)
	ctx := context.Background()
	info := vminfo.VMInfo{Name: "mig-recorded", UUID: "6f1c3a52-9d2e-4b7a-8c11-0a1b2c3d4e5f", Memory: 65536, MaxMem: 65536, Vcpu: 1}
	if _, err := st.UpsertVM(ctx, "local", info.Name, info); err != nil {
		t.Fatal(err)
	}
	synced := time.Date(2026, 11, 30, 12, 0, 0, 123456000, time.UTC)
	err := st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.PutVMStatus(store.VMStatus{HostID: "local", Name: info.Name, Live: info, State: 1, ObservedAt: synced}); err != nil {
			return err
		}
		return tx.PutHostStatus(store.HostStatus{HostID: "local", Connected: true, LastSyncAt: &synced, VMCount: 3})
	})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Exec(t, db, "INSERT INTO virtual_machines (created_at, updated_at, deleted_at, name, host_id, config_json) VALUES "+
		"('2026-01-02 03:04:05.123456789+02:00', '2026-01-02 03:04:05.5+02:00', '2026-02-03 04:05:06.25+00:00', 'mig-deleted', 'local', ?)",
		`{"name":"mig-deleted","memory":64}`)
	storetest.Exec(t, db, "INSERT INTO virtual_machines (created_at, updated_at, name, host_id, config_json) VALUES "+
		"('2026-03-04 05:06:07+00:00', '2026-03-04 05:06:07+00:00', 'mig-corrupt', 'local', ?)", `{"name": "mig-corrupt", not json`)
	storetest.Exec(t, db, "INSERT INTO virtual_machines (id, name, host_id, config_json) VALUES (99, 'mig-gone', 'local', 'null')")
	storetest.Exec(t, db, "DELETE FROM virtual_machines WHERE id = 99")
	return db
}

func runMigrateCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"migrate"}, args...), func(string) string { return "" }, &out, &errb)
	return code, out.String(), errb.String()
}

func dumpOf(t *testing.T, location string) store.Dump {
	t.Helper()
	st, err := store.Open(location, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var d store.Dump
	if err := st.Read(context.Background(), func(tx *store.Tx) (err error) { d, err = tx.Dump(); return err }); err != nil {
		t.Fatal(err)
	}
	return d
}

// sameDump compares two dumps row by row (times as instants at the
// microsecond, config_json byte for byte, ids and the id sequence).
func sameDump(t *testing.T, what string, want, got store.Dump) {
	t.Helper()
	if want.VMSeq != got.VMSeq {
		t.Errorf("%s: id sequence %d, want %d", what, got.VMSeq, want.VMSeq)
	}
	for i, name := range store.TableNames() {
		if len(want.Tables[i]) != len(got.Tables[i]) {
			t.Errorf("%s: %s has %d rows, want %d", what, name, len(got.Tables[i]), len(want.Tables[i]))
			continue
		}
		for r := range want.Tables[i] {
			if w, g := store.Comparable(want.Tables[i][r]), store.Comparable(got.Tables[i][r]); !reflect.DeepEqual(w, g) {
				t.Errorf("%s: %s row %d\n got  %v\n want %v", what, name, r+1, g, w)
			}
		}
	}
}

const wantCounts = "copied 1 hosts, 5 virtual_machines (1 soft-deleted), 1 vmsync_recorded, 1 vmsync_vm_status, 1 vmsync_host_status"

// TestMigrateSQLiteToSQLite: a copy keeps every row, id, soft delete,
// config_json byte and timestamp; a non-empty destination is refused unless
// --replace; the source is never written; Virtumancer's GORM reads the copy
// and its next row gets an id above the source's highest ever.
func TestMigrateSQLiteToSQLite(t *testing.T) {
	src := seedMigrateSource(t)
	before := storetest.Snapshot(t, src)
	dst := filepath.Join(t.TempDir(), "copy.db")

	code, out, errs := runMigrateCmd(t, "--from", src, "--to", dst)
	if code != exitOK || !strings.HasPrefix(out, wantCounts+" from "+src+" to "+dst) {
		t.Fatalf("migrate: exit %d\nstdout %q\nstderr %q\nwant stdout starting %q", code, out, errs, wantCounts)
	}
	storetest.Unchanged(t, src, before)
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("copy: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	want := dumpOf(t, src)
	sameDump(t, "sqlite copy", want, dumpOf(t, dst))
	if want.VMSeq != 99 || want.SoftDeletedVMs() != 1 {
		t.Fatalf("seed: sequence %d, soft-deleted %d; want 99 and 1", want.VMSeq, want.SoftDeletedVMs())
	}

	code, _, errs = runMigrateCmd(t, "--from", src, "--to", dst)
	if code != exitError || !strings.Contains(errs, "the destination store is not empty: hosts (1 rows)") || !strings.Contains(errs, "Try: ") ||
		!strings.Contains(errs, "--replace") {
		t.Errorf("migrate into a non-empty store: exit %d, stderr %q; want a refusal pointing at --replace", code, errs)
	}
	if code, out, errs = runMigrateCmd(t, "--from", src, "--to", dst, "--replace"); code != exitOK || !strings.HasPrefix(out, wantCounts) {
		t.Errorf("migrate --replace: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	sameDump(t, "sqlite copy after --replace", want, dumpOf(t, dst))
	gormReadsCopy(t, dst, want)
}

// gormReadsCopy opens the copy as Virtumancer does (AutoMigrate must leave
// it alone), reads every row through GORM and lets it insert one more.
func gormReadsCopy(t *testing.T, path string, want store.Dump) {
	t.Helper()
	g, err := virtumancer.Open(path, virtumancer.Options{})
	if err != nil {
		t.Fatalf("Virtumancer's GORM on the copy: %v", err)
	}
	defer g.Close()
	var vms []virtumancer.VirtualMachine
	if err := g.Gorm().Unscoped().Order("id").Find(&vms).Error; err != nil {
		t.Fatal(err)
	}
	if len(vms) != want.Rows("virtual_machines") {
		t.Fatalf("GORM reads %d rows, want %d", len(vms), want.Rows("virtual_machines"))
	}
	byName := map[string]virtumancer.VirtualMachine{}
	for _, v := range vms {
		byName[v.Name] = v
	}
	if c := byName["mig-corrupt"].ConfigJSON; c != `{"name": "mig-corrupt", not json` {
		t.Errorf("corrupt config_json through GORM: %q", c)
	}
	if d := byName["mig-deleted"]; !d.DeletedAt.Valid || !d.CreatedAt.Equal(time.Date(2026, 1, 2, 1, 4, 5, 123456789, time.UTC).Truncate(time.Microsecond)) &&
		!d.CreatedAt.Equal(time.Date(2026, 1, 2, 1, 4, 5, 123456789, time.UTC)) {
		t.Errorf("soft-deleted row through GORM: deleted_at %v, created_at %v", d.DeletedAt, d.CreatedAt)
	}
	res := g.SyncAndList("local", []vminfo.VMInfo{{Name: "mig-after", UUID: "0d8b1b5e-2c4a-4e0b-9f55-7a6b5c4d3e2f"}})
	if res.Synced != 1 {
		t.Fatalf("GORM write on the copy: %+v", res)
	}
	var after virtumancer.VirtualMachine
	if err := g.Gorm().Where("name = ?", "mig-after").First(&after).Error; err != nil || after.ID <= 99 {
		t.Errorf("GORM's next row on the copy: id %d, %v; want an id above 99 (never reused)", after.ID, err)
	}
}

// TestIntegrationMigratePostgres: SQLite -> PostgreSQL -> SQLite keeps
// every row as it was, a non-empty PostgreSQL is refused, the PostgreSQL
// copy hands out ids above the source's highest, and Virtumancer's GORM
// reads the SQLite file that came back.
func TestIntegrationMigratePostgres(t *testing.T) {
	src := seedMigrateSource(t)
	pg := pgtest.NewDatabase(t, "migrate")
	back := filepath.Join(t.TempDir(), "back.db")

	code, out, errs := runMigrateCmd(t, "--from", src, "--to", pg)
	if code != exitOK || !strings.HasPrefix(out, wantCounts) {
		t.Fatalf("sqlite -> postgres: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	want := dumpOf(t, src)
	sameDump(t, "postgres copy", want, dumpOf(t, pg))
	if code, _, errs = runMigrateCmd(t, "--from", src, "--to", pg); code != exitError || !strings.Contains(errs, "not empty") {
		t.Errorf("into a non-empty PostgreSQL: exit %d, stderr %q", code, errs)
	}
	if code, out, errs = runMigrateCmd(t, "--from", pg, "--to", back); code != exitOK || !strings.HasPrefix(out, wantCounts) {
		t.Fatalf("postgres -> sqlite: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	sameDump(t, "sqlite after the round trip", want, dumpOf(t, back))
	gormReadsCopy(t, back, want)

	st, err := store.Open(pg, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	vm, err := st.UpsertVM(context.Background(), "local", "mig-next", vminfo.VMInfo{Name: "mig-next", UUID: "1e2d3c4b-5a69-4788-9aab-bccddeeff001", Memory: 65536, MaxMem: 65536, Vcpu: 1})
	if err != nil || vm.ID <= 99 {
		t.Errorf("next row in the PostgreSQL copy: id %d, %v; want above 99", vm.ID, err)
	}
}

// TestMigrateVirtumancerOnlyStore: a store Virtumancer made, which we never
// opened (no vmsync_* tables), copies with its two rows and is left as it was.
func TestMigrateVirtumancerOnlyStore(t *testing.T) {
	src := storetest.CopyFixture(t, storetest.Fixture(t))
	before := storetest.Snapshot(t, src)
	dst := filepath.Join(t.TempDir(), "copy.db")
	code, out, errs := runMigrateCmd(t, "--from", src, "--to", dst)
	want := "copied 1 hosts, 2 virtual_machines (0 soft-deleted), 0 vmsync_recorded, 0 vmsync_vm_status, 0 vmsync_host_status"
	if code != exitOK || !strings.HasPrefix(out, want) {
		t.Fatalf("migrate: exit %d, stdout %q, stderr %q; want %q", code, out, errs, want)
	}
	storetest.Unchanged(t, src, before)
	sameDump(t, "copy of Virtumancer's store", dumpOf(t, src), dumpOf(t, dst))
}

// TestParseMigrateRejects: what migrate refuses before opening anything.
func TestParseMigrateRejects(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "migrate needs both --from and --to"},
		{[]string{"--from", "a.db"}, "migrate needs both --from and --to"},
		{[]string{"--from", "a.db", "--to", "a.db"}, "--from and --to are the same store a.db"},
		{[]string{"--from", "/nonexistent/x.db", "--to", "b.db"}, "store /nonexistent/x.db does not exist"},
		{[]string{"--from", "a.db", "--to", "b.db", "extra"}, `unexpected argument "extra"`},
	} {
		code, _, errs := runMigrateCmd(t, c.args...)
		if code != exitError || !strings.Contains(errs, c.want) {
			t.Errorf("migrate %v: exit %d, stderr %q; want %q", c.args, code, errs, c.want)
		}
	}
}
