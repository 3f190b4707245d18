package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A config_json of null (or nothing) used to decode as an all-zero VMInfo
// and show as drift "memory recorded 0"; through vminfo.Parse it is an
// unreadable record naming the row.
func TestNullConfigIsConfigErr(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	for _, bad := range []any{"null", "", "  ", nil} {
		rawExec(t, s.Path(), "UPDATE virtual_machines SET config_json = ? WHERE name = 'beta'", bad)
		vm, err := s.GetVM(bg, "local", "beta")
		if err != nil {
			t.Fatal(err)
		}
		if vm.ConfigErr == nil || vm.Config.Memory != 0 || vm.Config.Name != "" {
			t.Fatalf("config_json %q: ConfigErr %v, Config %+v; want an error and no config", bad, vm.ConfigErr, vm.Config)
		}
		msg := vm.ConfigErr.Error()
		for _, want := range []string{s.Path(), "virtual_machines row 2", `host "local"`, `vm "beta"`, "config_json"} {
			if !strings.Contains(msg, want) {
				t.Errorf("config_json %q: ConfigErr %q lacks %q", bad, msg, want)
			}
		}
		if !errors.Is(vm.RecordErr, vm.ConfigErr) || vm.RecordedFrom != RecordedFromConfigJSON {
			t.Errorf("config_json %q: RecordErr %v from %q; want ConfigErr from config_json", bad, vm.RecordErr, vm.RecordedFrom)
		}
	}
	if msg := mustGet(t, s, "local", "beta").ConfigErr.Error(); !strings.Contains(msg, "empty") {
		t.Errorf("NULL config_json: %q does not say it is empty", msg)
	}
}

// Virtumancer rewrites config_json whenever it lists VMs; what we recorded
// stays in vmsync_recorded and is what Recorded returns.
func TestRecordedSurvivesConfigJSONRewrite(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	up, err := s.UpsertVM(bg, "local", "alpha", cfg("alpha", 4096))
	if err != nil {
		t.Fatal(err)
	}
	if up.RecordedFrom != RecordedFromTable || up.Recorded.Memory != 4096 || !up.RecordedAt.Equal(up.UpdatedAt) {
		t.Fatalf("after upsert: from %q, memory %d, recorded_at %v (updated_at %v)", up.RecordedFrom, up.Recorded.Memory, up.RecordedAt, up.UpdatedAt)
	}
	if up.RecordedJSON != up.ConfigJSON {
		t.Fatalf("both copies must hold the same JSON: %s vs %s", up.RecordedJSON, up.ConfigJSON)
	}
	rawExec(t, s.Path(), `UPDATE virtual_machines SET config_json = '{"name":"alpha","max_mem":8192,"memory":8192,"vcpu":2}' WHERE name = 'alpha'`)
	vm := mustGet(t, s, "local", "alpha")
	if vm.Config.Memory != 8192 || vm.ConfigErr != nil {
		t.Errorf("Config = %+v, %v; want config_json as rewritten (8192)", vm.Config, vm.ConfigErr)
	}
	if vm.Recorded.Memory != 4096 || vm.Recorded.Vcpu != 1 || vm.RecordErr != nil || vm.RecordedFrom != RecordedFromTable {
		t.Errorf("Recorded = %+v from %q (%v); want what UpsertVM recorded (4096 KiB, 1 vcpu)", vm.Recorded, vm.RecordedFrom, vm.RecordErr)
	}
	beta := mustGet(t, s, "local", "beta") // created by Virtumancer, never recorded by us
	if beta.RecordedFrom != RecordedFromConfigJSON || beta.RecordedJSON != beta.ConfigJSON || beta.Recorded.Memory != 65536 || !beta.RecordedAt.IsZero() {
		t.Errorf("beta: Recorded %+v from %q; want its config_json", beta.Recorded, beta.RecordedFrom)
	}
	all, err := s.ListAllVMs(bg)
	if err != nil || len(all) != 2 || all[0].Recorded.Memory != 4096 || all[1].RecordedFrom != RecordedFromConfigJSON {
		t.Fatalf("ListAllVMs = %+v, %v", all, err)
	}
}

// A corrupt row of ours makes the record unreadable even though config_json
// is fine: we do not silently fall back to what Virtumancer last cached.
func TestCorruptRecordedRowIsRecordErr(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	up, err := s.UpsertVM(bg, "local", "alpha", cfg("alpha", 4096))
	if err != nil {
		t.Fatal(err)
	}
	rawExec(t, s.Path(), "UPDATE vmsync_recorded SET config_json = 'null' WHERE vm_id = ?", up.ID)
	vm := mustGet(t, s, "local", "alpha")
	if vm.ConfigErr != nil || vm.Config.Memory != 4096 {
		t.Fatalf("config_json is fine: %+v, %v", vm.Config, vm.ConfigErr)
	}
	if vm.RecordErr == nil || vm.Recorded.Memory != 0 || vm.RecordedFrom != RecordedFromTable {
		t.Fatalf("RecordErr %v, Recorded %+v from %q; want an error from our row", vm.RecordErr, vm.Recorded, vm.RecordedFrom)
	}
	msg := vm.RecordErr.Error()
	for _, want := range []string{"vmsync_recorded row 1", `host "local"`, `vm "alpha"`, "null"} {
		if !strings.Contains(msg, want) {
			t.Errorf("RecordErr %q lacks %q", msg, want)
		}
	}
	// The remedy works: the next apply records it again.
	if vm, err := s.UpsertVM(bg, "local", "alpha", cfg("alpha", 2048)); err != nil || vm.RecordErr != nil || vm.Recorded.Memory != 2048 {
		t.Fatalf("re-record: %+v, %v", vm, err)
	}
}

// Our row is joined only to the row with the same id, host and name.
func TestRecordedJoinNeedsSameHostAndName(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	up, err := s.UpsertVM(bg, "local", "alpha", cfg("alpha", 4096))
	if err != nil {
		t.Fatal(err)
	}
	rawExec(t, s.Path(), "UPDATE vmsync_recorded SET name = 'renamed' WHERE vm_id = ?", up.ID)
	if vm := mustGet(t, s, "local", "alpha"); vm.RecordedFrom != RecordedFromConfigJSON || vm.Recorded.Memory != 4096 {
		t.Errorf("name mismatch: Recorded from %q; want config_json", vm.RecordedFrom)
	}
	rawExec(t, s.Path(), "UPDATE vmsync_recorded SET name = 'alpha', host_id = 'elsewhere' WHERE vm_id = ?", up.ID)
	if vm := mustGet(t, s, "local", "alpha"); vm.RecordedFrom != RecordedFromConfigJSON {
		t.Errorf("host mismatch: Recorded from %q; want config_json", vm.RecordedFrom)
	}
}

// Soft delete keeps our row; a revive (provider or sync) overwrites it.
func TestRecordedSoftDeleteAndRevive(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	up, err := s.UpsertVM(bg, "local", "alpha", cfg("alpha", 4096))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SoftDeleteVM(bg, "local", "alpha"); err != nil {
		t.Fatal(err)
	}
	if n := rawText(t, s.Path(), "SELECT count(*) FROM vmsync_recorded"); n != "1" {
		t.Fatalf("soft delete dropped our row: %s rows", n)
	}
	var gone VM
	err = s.Write(bg, func(tx *Tx) error {
		rows, err := tx.ListVMsWithDeleted("local")
		gone = rows[0]
		return err
	})
	if err != nil || gone.DeletedAt == nil || gone.Recorded.Memory != 4096 || gone.RecordedFrom != RecordedFromTable {
		t.Fatalf("soft-deleted row: %+v, %v", gone, err)
	}
	var rev VM
	var revived bool
	err = s.Write(bg, func(tx *Tx) (err error) {
		_, revived, rev, err = tx.InsertVMIfAbsent("local", "alpha", cfg("alpha", 512))
		return err
	})
	if err != nil || !revived || rev.ID != up.ID || rev.Recorded.Memory != 512 || rev.Config.Memory != 512 || rev.RecordedFrom != RecordedFromTable {
		t.Fatalf("revive: revived=%v %+v, %v", revived, rev, err)
	}
	// Discovery of a live row writes nothing, ours included.
	before := rawText(t, s.Path(), "SELECT config_json || recorded_at FROM vmsync_recorded")
	err = s.Write(bg, func(tx *Tx) error {
		_, _, _, err := tx.InsertVMIfAbsent("local", "alpha", cfg("alpha", 1))
		return err
	})
	if after := rawText(t, s.Path(), "SELECT config_json || recorded_at FROM vmsync_recorded"); err != nil || after != before {
		t.Fatalf("InsertVMIfAbsent on a live row changed our record: %v\n%s\n%s", err, before, after)
	}
}

// A row hard-deleted by someone else leaves our row orphaned: a new row for
// the same VM gets a new id, so the orphan is never joined, and our next
// write for that VM removes it.
func TestRecordedOrphanOfHardDeletedRow(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	if _, err := s.UpsertVM(bg, "local", "alpha", cfg("alpha", 4096)); err != nil {
		t.Fatal(err)
	}
	rawExec(t, s.Path(), "DELETE FROM virtual_machines WHERE name = 'alpha'")
	rawExec(t, s.Path(), `INSERT INTO virtual_machines (created_at, updated_at, name, host_id, config_json) VALUES (?, ?, 'alpha', 'local', '{"name":"alpha","memory":1}')`,
		FormatTime(time.Now()), FormatTime(time.Now()))
	vm := mustGet(t, s, "local", "alpha")
	if vm.ID == 1 || vm.RecordedFrom != RecordedFromConfigJSON || vm.Recorded.Memory != 1 {
		t.Fatalf("new row %d: Recorded %+v from %q; want its own config_json, not the orphan", vm.ID, vm.Recorded, vm.RecordedFrom)
	}
	if _, err := s.UpsertVM(bg, "local", "alpha", cfg("alpha", 64)); err != nil {
		t.Fatal(err)
	}
	if got := rawText(t, s.Path(), "SELECT group_concat(vm_id) FROM vmsync_recorded WHERE name = 'alpha'"); got != itoa(vm.ID) {
		t.Fatalf("our rows for alpha: vm_id %s; want only %d", got, vm.ID)
	}
}

// A read-only store migrated before vmsync_recorded existed still lists
// VMs, every one recorded by its config_json; a read-write open adds it.
func TestRecordedTableMissingReadOnly(t *testing.T) {
	path := copyFixture(t)
	s := openT(t, path, Options{})
	if _, err := s.UpsertVM(bg, "local", "alpha", cfg("alpha", 4096)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	rawExec(t, path, "DROP TABLE vmsync_recorded")
	rawExec(t, path, "DELETE FROM vmsync_migrations WHERE version = 2")
	ro := openT(t, path, Options{ReadOnly: true})
	vms, err := ro.ListVMs(bg, "local")
	if err != nil || len(vms) != 2 || vms[0].RecordedFrom != RecordedFromConfigJSON || vms[0].Recorded.Memory != 4096 {
		t.Fatalf("read-only ListVMs = %+v, %v", vms, err)
	}
	ro.Close()
	rw := openT(t, path, Options{})
	if vm, err := rw.UpsertVM(bg, "local", "alpha", cfg("alpha", 8)); err != nil || vm.RecordedFrom != RecordedFromTable {
		t.Fatalf("after migration: %+v, %v", vm, err)
	}
	if n := rawText(t, path, "SELECT name FROM vmsync_migrations WHERE version = 2"); n != "vmsync_recorded" {
		t.Fatalf("migration 2 recorded as %q", n)
	}
}

// TestUndeleteVMIsExact: undoing a soft delete clears deleted_at and
// nothing else: config_json (here Virtumancer's rewrite), updated_at and our
// recorded copy stay as they were.
func TestUndeleteVMIsExact(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpsertVM(bg, "local", "alpha", cfg("alpha", 4096)); err != nil {
		t.Fatal(err)
	}
	rawExec(t, s.Path(), `UPDATE virtual_machines SET config_json = '{"name":"alpha","max_mem":8192,"memory":8192,"vcpu":2}' WHERE name = 'alpha'`)
	before := mustGet(t, s, "local", "alpha")
	if err := s.SoftDeleteVM(bg, "local", "alpha"); err != nil {
		t.Fatal(err)
	}
	ok, err := s.UndeleteVM(bg, before)
	if err != nil || !ok {
		t.Fatalf("UndeleteVM = %t, %v; want true", ok, err)
	}
	after := mustGet(t, s, "local", "alpha")
	if after.ID != before.ID || after.ConfigJSON != before.ConfigJSON || !after.UpdatedAt.Equal(before.UpdatedAt) ||
		after.RecordedJSON != before.RecordedJSON || after.DeletedAt != nil {
		t.Errorf("after undelete %+v, want exactly %+v", after, before)
	}
	if ok, err := s.UndeleteVM(bg, before); err != nil || ok {
		t.Errorf("second UndeleteVM = %t, %v; want false (the row is live already)", ok, err)
	}
}
