package store

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// gormTime matches what GORM writes: UTC, optional fraction, +00:00.
var gormTime = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})?\+00:00$`)

func TestHostsCRUD(t *testing.T) {
	s := newStore(t)
	if err := s.CreateHost(bg, Host{ID: "b", URI: "test:///default"}); err != nil {
		t.Fatal(err)
	}
	err := s.CreateHost(bg, Host{ID: "b", URI: "qemu:///system"})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("CreateHost twice: %v", err)
	}
	if err := s.PutHost(bg, Host{ID: "a", URI: "qemu:///system"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutHost(bg, Host{ID: "b", URI: "qemu+ssh://root@x/system"}); err != nil {
		t.Fatal(err)
	}
	hosts, err := s.ListHosts(bg)
	if err != nil || len(hosts) != 2 || hosts[0].ID != "a" || hosts[1].URI != "qemu+ssh://root@x/system" {
		t.Fatalf("ListHosts = %v, %v", hosts, err)
	}
	if err := s.CreateHost(bg, Host{}); err == nil {
		t.Fatal("empty host id accepted")
	}
	if _, err := s.DeleteHost(bg, "zzz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeleteHost(missing) = %v", err)
	}
}

func TestUpsertInsertUpdate(t *testing.T) {
	s := newStore(t)
	v1, err := s.UpsertVM(bg, "h", "web", cfg("web", 1024))
	if err != nil {
		t.Fatal(err)
	}
	if v1.ID == 0 || v1.CreatedAt.IsZero() || !v1.CreatedAt.Equal(v1.UpdatedAt) || v1.Config.Memory != 1024 {
		t.Fatalf("inserted = %+v", v1)
	}
	time.Sleep(2 * time.Millisecond)
	v2, err := s.UpsertVM(bg, "h", "web", cfg("web", 2048))
	if err != nil {
		t.Fatal(err)
	}
	if v2.ID != v1.ID || !v2.CreatedAt.Equal(v1.CreatedAt) || !v2.UpdatedAt.After(v1.UpdatedAt) || v2.Config.Memory != 2048 {
		t.Fatalf("updated = %+v (was %+v)", v2, v1)
	}
	got, err := s.GetVM(bg, "h", "web")
	if err != nil || got.ConfigJSON != v2.ConfigJSON || !got.UpdatedAt.Equal(v2.UpdatedAt) {
		t.Fatalf("GetVM = %+v, %v", got, err)
	}
	// Our config_json keeps Virtumancer's field names.
	for _, k := range []string{`"max_mem":2048`, `"memory":2048`, `"uptime":-1`, `"graphics":{"vnc":true,"spice":false}`} {
		if !strings.Contains(got.ConfigJSON, k) {
			t.Errorf("config_json %s lacks %s", got.ConfigJSON, k)
		}
	}
	if _, err := s.GetVM(bg, "h", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetVM(nope) = %v", err)
	}
}

func TestSoftDeleteAndRevive(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	alpha, err := s.GetVM(bg, "local", "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SoftDeleteVM(bg, "local", "alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetVM(bg, "local", "alpha"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("soft-deleted VM still visible: %v", err)
	}
	if err := s.SoftDeleteVM(bg, "local", "alpha"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second SoftDeleteVM = %v", err)
	}
	if vms, _ := s.ListVMs(bg, "local"); len(vms) != 1 {
		t.Fatalf("ListVMs after delete = %+v", vms)
	}
	if n := rawText(t, s.Path(), "SELECT deleted_at FROM virtual_machines WHERE name = 'alpha'"); !gormTime.MatchString(n) {
		t.Fatalf("deleted_at %q not in GORM format", n)
	}
	var all []VM
	if err := s.Read(bg, func(tx *Tx) (err error) { all, err = tx.ListVMsWithDeleted("local"); return }); err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].DeletedAt == nil {
		t.Fatalf("ListVMsWithDeleted = %+v", all)
	}

	revived, err := s.UpsertVM(bg, "local", "alpha", cfg("alpha", 4096))
	if err != nil {
		t.Fatal(err)
	}
	if revived.ID != alpha.ID || !revived.CreatedAt.Equal(alpha.CreatedAt) || revived.DeletedAt != nil ||
		revived.Config.Memory != 4096 || !revived.UpdatedAt.After(alpha.UpdatedAt) {
		t.Fatalf("revived = %+v, was %+v", revived, alpha)
	}
	if n := rawText(t, s.Path(), "SELECT count(*) FROM virtual_machines"); n != "2" {
		t.Fatalf("revive inserted a row: %s rows", n)
	}
}

func TestInsertVMIfAbsent(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	call := func(name string, mem uint64) (ins, rev bool, vm VM) {
		t.Helper()
		err := s.Write(bg, func(tx *Tx) (err error) {
			ins, rev, vm, err = tx.InsertVMIfAbsent("local", name, cfg(name, mem))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	// A live row's recorded config is never overwritten.
	if ins, rev, vm := call("beta", 1); ins || rev || vm.Config.Memory != 65536 || vm.Config.State != 1 {
		t.Fatalf("live: ins=%v rev=%v vm=%+v", ins, rev, vm)
	}
	if ins, rev, vm := call("new", 7); !ins || rev || vm.Config.Memory != 7 {
		t.Fatalf("new: ins=%v rev=%v vm=%+v", ins, rev, vm)
	}
	if err := s.SoftDeleteVM(bg, "local", "beta"); err != nil {
		t.Fatal(err)
	}
	if ins, rev, vm := call("beta", 9); ins || !rev || vm.ID != 2 || vm.Config.Memory != 9 || vm.DeletedAt != nil {
		t.Fatalf("revive: ins=%v rev=%v vm=%+v", ins, rev, vm)
	}
}

func TestDeleteHostSoftDeletesVMs(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	if _, err := s.UpsertVM(bg, "other", "keep", cfg("keep", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.SoftDeleteVM(bg, "local", "alpha"); err != nil {
		t.Fatal(err)
	}
	before := rawText(t, s.Path(), "SELECT deleted_at FROM virtual_machines WHERE name = 'alpha'")
	if err := s.PutVMStatus(bg, VMStatus{HostID: "local", Name: "beta", Live: cfg("beta", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutHostStatus(bg, HostStatus{HostID: "local", Connected: true}); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteHost(bg, "local")
	if err != nil || n != 1 {
		t.Fatalf("DeleteHost = %d, %v; want 1 (alpha was already deleted)", n, err)
	}
	if _, err := s.GetHost(bg, "local"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("host still there: %v", err)
	}
	if vms, _ := s.ListVMs(bg, "local"); len(vms) != 0 {
		t.Fatalf("VMs still live: %+v", vms)
	}
	if rows := rawText(t, s.Path(), "SELECT count(*) FROM virtual_machines WHERE host_id = 'local' AND deleted_at IS NOT NULL"); rows != "2" {
		t.Fatalf("VM rows must be kept, soft-deleted: %s", rows)
	}
	if after := rawText(t, s.Path(), "SELECT deleted_at FROM virtual_machines WHERE name = 'alpha'"); after != before {
		t.Fatalf("an already-deleted row was re-stamped: %s -> %s", before, after)
	}
	if vm, err := s.GetVM(bg, "other", "keep"); err != nil || vm.DeletedAt != nil {
		t.Fatalf("other host's VM touched: %v", err)
	}
	st, _ := s.ListVMStatus(bg, "")
	hs, _ := s.ListHostStatus(bg)
	if len(st) != 0 || len(hs) != 0 {
		t.Fatalf("status rows left: %+v %+v", st, hs)
	}
}

func TestCorruptConfigDoesNotBreakList(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	rawExec(t, s.Path(), "UPDATE virtual_machines SET config_json = '{\"id\": 3, oops' WHERE name = 'beta'")
	if _, err := s.UpsertVM(bg, "local", "gamma", cfg("gamma", 1)); err != nil {
		t.Fatal(err)
	}
	vms, err := s.ListVMs(bg, "local")
	if err != nil || len(vms) != 3 {
		t.Fatalf("ListVMs = %d rows, %v", len(vms), err)
	}
	for _, vm := range vms {
		if (vm.ConfigErr != nil) != (vm.Name == "beta") {
			t.Fatalf("%s: ConfigErr = %v", vm.Name, vm.ConfigErr)
		}
	}
	beta := vms[1]
	msg := beta.ConfigErr.Error()
	for _, want := range []string{s.Path(), "virtual_machines row 2", `host "local"`, `vm "beta"`, "config_json is not a readable VMInfo", "invalid JSON"} {
		if !strings.Contains(msg, want) {
			t.Errorf("ConfigErr %q lacks %q", msg, want)
		}
	}
	if beta.RecordedFrom != RecordedFromConfigJSON || !errors.Is(beta.RecordErr, beta.ConfigErr) {
		t.Errorf("a row we never recorded: RecordedFrom %q, RecordErr %v; want config_json and ConfigErr", beta.RecordedFrom, beta.RecordErr)
	}
	if beta.ConfigJSON != `{"id": 3, oops` || beta.Config.Memory != 0 {
		t.Fatalf("beta = %+v", beta)
	}
	if all, err := s.ListAllVMs(bg); err != nil || len(all) != 3 {
		t.Fatalf("ListAllVMs = %d, %v", len(all), err)
	}
	// Re-importing repairs it.
	if vm, err := s.UpsertVM(bg, "local", "beta", cfg("beta", 5)); err != nil || vm.ConfigErr != nil || vm.ID != 2 {
		t.Fatalf("repair: %+v, %v", vm, err)
	}
}

func TestTimestampsRoundTrip(t *testing.T) {
	s := newStore(t)
	vm, err := s.UpsertVM(bg, "h", "a", cfg("a", 1))
	if err != nil {
		t.Fatal(err)
	}
	raw := rawText(t, s.Path(), "SELECT created_at FROM virtual_machines WHERE id = 1")
	if !gormTime.MatchString(raw) {
		t.Fatalf("created_at %q is not GORM's format", raw)
	}
	if parsed, _ := ParseTime(raw); !parsed.Equal(vm.CreatedAt) || time.Since(parsed) > time.Minute {
		t.Fatalf("created_at %q -> %v, vm says %v", raw, parsed, vm.CreatedAt)
	}

	want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, text := range []any{
		"2026-01-02 03:04:05+00:00",           // GORM, no fraction
		"2026-01-02 05:04:05.000000000+02:00", // GORM, other zone
		"2026-01-02T03:04:05Z",                // RFC 3339
		"2026-01-02T04:04:05+01:00",           // RFC 3339 with offset
		"2026-01-02 03:04:05",                 // SQLite CURRENT_TIMESTAMP
		want.Unix(),                           // integer seconds
	} {
		rawExec(t, s.Path(), "UPDATE virtual_machines SET created_at = ?, updated_at = ? WHERE id = 1", text, text)
		got, err := s.GetVM(bg, "h", "a")
		if err != nil || got.TimeErr != nil {
			t.Fatalf("%v: %v / %v", text, err, got.TimeErr)
		}
		if !got.CreatedAt.Equal(want) || !got.UpdatedAt.Equal(want) {
			t.Errorf("%v read as %v", text, got.CreatedAt)
		}
	}
	frac := time.Date(2026, 11, 26, 23, 4, 59, 437951299, time.UTC)
	if got := FormatTime(frac.In(time.FixedZone("x", 3600))); got != "2026-11-26 23:04:59.437951299+00:00" {
		t.Fatalf("FormatTime = %q", got)
	}
	for _, text := range []string{FormatTime(frac), frac.Format(time.RFC3339Nano)} {
		if got, err := ParseTime(text); err != nil || !got.Equal(frac) {
			t.Errorf("ParseTime(%q) = %v, %v", text, got, err)
		}
	}

	rawExec(t, s.Path(), "UPDATE virtual_machines SET updated_at = 'yesterday' WHERE id = 1")
	got, err := s.GetVM(bg, "h", "a")
	if err != nil || got.TimeErr == nil || !strings.Contains(got.TimeErr.Error(), "updated_at") || got.ConfigErr != nil {
		t.Fatalf("bad timestamp: %v, TimeErr=%v", err, got.TimeErr)
	}
}

func TestTxRules(t *testing.T) {
	s := newStore(t)
	var kept *Tx
	err := s.Read(bg, func(tx *Tx) error {
		kept = tx
		_, err := tx.UpsertVM("h", "a", cfg("a", 1))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "read transaction") {
		t.Fatalf("write in Read: %v", err)
	}
	if _, err := kept.ListHosts(); err == nil {
		t.Fatal("Tx usable after its callback")
	}
	// An error from fn rolls everything back.
	boom := errors.New("boom")
	err = s.Write(bg, func(tx *Tx) error {
		if err := tx.PutHost(Host{ID: "x"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v", err)
	}
	if _, err := s.GetHost(bg, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatal("failed transaction was committed")
	}
	// So does a panic, and the store stays usable.
	func() {
		defer func() { _ = recover() }()
		_ = s.Write(bg, func(tx *Tx) error { _ = tx.PutHost(Host{ID: "p"}); panic("x") })
	}()
	if _, err := s.GetHost(bg, "p"); !errors.Is(err, ErrNotFound) {
		t.Fatal("panicking transaction was committed")
	}
	if err := s.PutHost(bg, Host{ID: "ok"}); err != nil {
		t.Fatal(err)
	}
}
