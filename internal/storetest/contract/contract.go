// Package contract is the store's behaviour written once, as functions that
// take a Backend (the way litestream tests its replica clients): run today
// against the SQLite store (internal/store's contract_test.go) and, with
// issue 10, against PostgreSQL too. It uses only store's public API; what
// is SQLite's alone (the file, its DDL text, WAL, GORM's timestamp text)
// stays in internal/store's own tests.
package contract

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Backend opens stores of one kind for the contract.
type Backend interface {
	// Open returns a new, empty, migrated store, closed when t ends.
	Open(t testing.TB, opts store.Options) *store.Store
	// OpenAgain opens a second client on the database s uses (another
	// process, another runner), closed when t ends.
	OpenAgain(t testing.TB, s *store.Store, opts store.Options) *store.Store
	// HoldWriteLock makes another client hold, for d, what a writer of s
	// must wait for (SQLite: BEGIN IMMEDIATE; PostgreSQL: a lock the write
	// transactions take), after writing host "holder". It returns once the
	// lock is held; the channel closes when it is released.
	HoldWriteLock(t testing.TB, s *store.Store, d time.Duration) <-chan struct{}
}

// Run runs every contract case against b.
func Run(t *testing.T, b Backend) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"Hosts", Hosts},
		{"DeleteHost", DeleteHost},
		{"UpsertVM", UpsertVM},
		{"SoftDeleteAndRevive", SoftDeleteAndRevive},
		{"InsertVMIfAbsent", InsertVMIfAbsent},
		{"ConfigJSONCodec", ConfigJSONCodec},
		{"Transactions", Transactions},
		{"WriterWaitsOutLock", WriterWaitsOutLock},
		{"BusyGivesUp", BusyGivesUp},
		{"TwoClients", TwoClients},
		{"SyncStatus", SyncStatus},
		{"BulkWrites", BulkWrites},
		{"HostRowsCurrent", HostRowsCurrent},
		{"IDsAndTimestamps", IDsAndTimestamps},
		{"ChangeFeed", ChangeFeed},
		{"NoLostUpdate", NoLostUpdate},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, b) })
	}
}

var bg = context.Background()

// Cfg is a small valid VMInfo.
func Cfg(name string, memKiB uint64) vminfo.VMInfo {
	return vminfo.VMInfo{
		Name: name, State: vminfo.StateShutoff, MaxMem: memKiB, Memory: memKiB, Vcpu: 1,
		Uptime: -1, Persistent: true, Graphics: vminfo.Graphics{VNC: true},
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Hosts: create refuses a taken id, put upserts, list is ordered by id,
// an empty id is refused, deleting a missing host is ErrNotFound.
func Hosts(t *testing.T, b Backend) {
	s := b.Open(t, store.Options{})
	must(t, s.CreateHost(bg, store.Host{ID: "b", URI: "test:///default"}))
	if err := s.CreateHost(bg, store.Host{ID: "b", URI: "qemu:///system"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateHost twice = %v, want ErrExists", err)
	}
	must(t, s.PutHost(bg, store.Host{ID: "a", URI: "qemu:///system"}))
	must(t, s.PutHost(bg, store.Host{ID: "b", URI: "qemu+ssh://root@x/system"}))
	hosts, err := s.ListHosts(bg)
	must(t, err)
	want := []store.Host{{ID: "a", URI: "qemu:///system"}, {ID: "b", URI: "qemu+ssh://root@x/system"}}
	if !slices.Equal(hosts, want) {
		t.Fatalf("ListHosts = %v, want %v", hosts, want)
	}
	if h, err := s.GetHost(bg, "a"); err != nil || h != want[0] {
		t.Fatalf("GetHost(a) = %v, %v", h, err)
	}
	if _, err := s.GetHost(bg, "zzz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetHost(missing) = %v, want ErrNotFound", err)
	}
	if err := s.CreateHost(bg, store.Host{}); err == nil {
		t.Fatal("empty host id accepted")
	}
	if _, err := s.DeleteHost(bg, "zzz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteHost(missing) = %v, want ErrNotFound", err)
	}
}

// DeleteHost hard-deletes the host, soft-deletes its live VM rows (an
// already deleted row keeps its deleted_at), drops its status rows and
// leaves other hosts alone.
func DeleteHost(t *testing.T, b Backend) {
	s := b.Open(t, store.Options{})
	must(t, s.PutHost(bg, store.Host{ID: "h", URI: "test:///default"}))
	for _, n := range []string{"alpha", "beta"} {
		_, err := s.UpsertVM(bg, "h", n, Cfg(n, 1))
		must(t, err)
	}
	_, err := s.UpsertVM(bg, "other", "keep", Cfg("keep", 1))
	must(t, err)
	must(t, s.SoftDeleteVM(bg, "h", "alpha"))
	before := withDeleted(t, s)[0].DeletedAt
	must(t, s.PutVMStatus(bg, store.VMStatus{HostID: "h", Name: "beta", Live: Cfg("beta", 1)}))
	must(t, s.PutHostStatus(bg, store.HostStatus{HostID: "h", Connected: true}))
	time.Sleep(2 * time.Millisecond)
	n, err := s.DeleteHost(bg, "h")
	if err != nil || n != 1 {
		t.Fatalf("DeleteHost = %d, %v; want 1 (alpha was deleted already)", n, err)
	}
	if _, err := s.GetHost(bg, "h"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("host still there: %v", err)
	}
	rows := withDeleted(t, s)
	if len(rows) != 2 || rows[0].DeletedAt == nil || rows[1].DeletedAt == nil {
		t.Fatalf("VM rows must stay, soft-deleted: %+v", rows)
	}
	if !rows[0].DeletedAt.Equal(*before) {
		t.Fatalf("alpha's deleted_at was re-stamped: %v -> %v", before, rows[0].DeletedAt)
	}
	if vm, err := s.GetVM(bg, "other", "keep"); err != nil || vm.DeletedAt != nil {
		t.Fatalf("another host's VM was touched: %+v, %v", vm, err)
	}
	st, err := s.ListVMStatus(bg, "")
	must(t, err)
	hs, err := s.ListHostStatus(bg)
	must(t, err)
	if len(st) != 0 || len(hs) != 0 {
		t.Fatalf("status rows left: %+v %+v", st, hs)
	}
}

// UpsertVM inserts, then updates in place: same id and created_at, a later
// updated_at, the new config; timestamps read back as written (to the
// microsecond at least) and lie between the calls.
func UpsertVM(t *testing.T, b Backend) {
	s := b.Open(t, store.Options{})
	start := time.Now().Add(-time.Millisecond)
	v1, err := s.UpsertVM(bg, "h", "web", Cfg("web", 1024))
	must(t, err)
	if v1.ID == 0 || v1.CreatedAt.Before(start) || v1.CreatedAt.After(time.Now()) || !v1.CreatedAt.Equal(v1.UpdatedAt) ||
		v1.Config.Memory != 1024 || v1.DeletedAt != nil {
		t.Fatalf("inserted = %+v", v1)
	}
	time.Sleep(2 * time.Millisecond)
	v2, err := s.UpsertVM(bg, "h", "web", Cfg("web", 2048))
	must(t, err)
	if v2.ID != v1.ID || !v2.CreatedAt.Equal(v1.CreatedAt) || !v2.UpdatedAt.After(v1.UpdatedAt) || v2.Config.Memory != 2048 {
		t.Fatalf("updated = %+v (was %+v)", v2, v1)
	}
	got, err := s.GetVM(bg, "h", "web")
	must(t, err)
	if got.ConfigJSON != v2.ConfigJSON || !got.CreatedAt.Equal(v2.CreatedAt) || !got.UpdatedAt.Equal(v2.UpdatedAt) {
		t.Fatalf("GetVM = %+v, upsert returned %+v", got, v2)
	}
	if vms, err := s.ListVMs(bg, "h"); err != nil || len(vms) != 1 {
		t.Fatalf("ListVMs = %d rows, %v", len(vms), err)
	}
	if _, err := s.GetVM(bg, "h", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetVM(nope) = %v, want ErrNotFound", err)
	}
	if _, err := s.UpsertVM(bg, "", "x", Cfg("x", 1)); err == nil {
		t.Fatal("empty host id accepted")
	}
}

// SoftDeleteAndRevive: a deleted row is gone for readers but kept; a
// second delete is ErrNotFound; an upsert of the same name revives the row
// (same id and created_at); UndeleteVM restores a row exactly.
func SoftDeleteAndRevive(t *testing.T, b Backend) {
	s := b.Open(t, store.Options{})
	alpha, err := s.UpsertVM(bg, "h", "alpha", Cfg("alpha", 1))
	must(t, err)
	_, err = s.UpsertVM(bg, "h", "beta", Cfg("beta", 1))
	must(t, err)
	must(t, s.SoftDeleteVM(bg, "h", "alpha"))
	if _, err := s.GetVM(bg, "h", "alpha"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("soft-deleted VM visible: %v", err)
	}
	if err := s.SoftDeleteVM(bg, "h", "alpha"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second SoftDeleteVM = %v, want ErrNotFound", err)
	}
	if vms, _ := s.ListVMs(bg, "h"); len(vms) != 1 || vms[0].Name != "beta" {
		t.Fatalf("ListVMs after delete = %+v", vms)
	}
	all := withDeleted(t, s)
	if len(all) != 2 || all[0].DeletedAt == nil || all[1].DeletedAt != nil {
		t.Fatalf("ListVMsWithDeleted = %+v", all)
	}
	time.Sleep(2 * time.Millisecond)
	revived, err := s.UpsertVM(bg, "h", "alpha", Cfg("alpha", 4096))
	must(t, err)
	if revived.ID != alpha.ID || !revived.CreatedAt.Equal(alpha.CreatedAt) || revived.DeletedAt != nil ||
		revived.Config.Memory != 4096 || !revived.UpdatedAt.After(alpha.UpdatedAt) {
		t.Fatalf("revived = %+v, was %+v", revived, alpha)
	}
	if n := len(withDeleted(t, s)); n != 2 {
		t.Fatalf("revive inserted a row: %d rows", n)
	}
	must(t, s.SoftDeleteVM(bg, "h", "alpha"))
	prev := withDeleted(t, s)[0]
	ok, err := s.UndeleteVM(bg, prev)
	if err != nil || !ok {
		t.Fatalf("UndeleteVM = %v, %v", ok, err)
	}
	back, err := s.GetVM(bg, "h", "alpha")
	must(t, err)
	if back.ConfigJSON != prev.ConfigJSON || !back.UpdatedAt.Equal(prev.UpdatedAt) {
		t.Fatalf("undelete changed more than deleted_at: %+v, was %+v", back, prev)
	}
	if ok, err := s.UndeleteVM(bg, prev); err != nil || ok {
		t.Fatalf("UndeleteVM of a live row = %v, %v; want false", ok, err)
	}
}

// InsertVMIfAbsent never overwrites a live row, inserts a new one, revives
// a deleted one.
func InsertVMIfAbsent(t *testing.T, b Backend) {
	s := b.Open(t, store.Options{})
	beta, err := s.UpsertVM(bg, "h", "beta", Cfg("beta", 65536))
	must(t, err)
	call := func(name string, mem uint64) (ins, rev bool, vm store.VM) {
		t.Helper()
		must(t, s.Write(bg, func(tx *store.Tx) (err error) {
			ins, rev, vm, err = tx.InsertVMIfAbsent("h", name, Cfg(name, mem))
			return err
		}))
		return ins, rev, vm
	}
	if ins, rev, vm := call("beta", 1); ins || rev || vm.Config.Memory != 65536 {
		t.Fatalf("live: ins=%v rev=%v vm=%+v", ins, rev, vm)
	}
	if ins, rev, vm := call("new", 7); !ins || rev || vm.Config.Memory != 7 {
		t.Fatalf("new: ins=%v rev=%v vm=%+v", ins, rev, vm)
	}
	must(t, s.SoftDeleteVM(bg, "h", "beta"))
	if ins, rev, vm := call("beta", 9); ins || !rev || vm.ID != beta.ID || vm.Config.Memory != 9 || vm.DeletedAt != nil {
		t.Fatalf("revive: ins=%v rev=%v vm=%+v", ins, rev, vm)
	}
}

// ConfigJSONCodec: config_json is vminfo's Marshal byte for byte, with
// Virtumancer's field names, parses back to the same value, and is also
// our recorded copy.
func ConfigJSONCodec(t *testing.T, b Backend) {
	s := b.Open(t, store.Options{})
	c := Cfg("web", 2048)
	c.UUID = "6b1c1b7e-4f43-4a8e-9c1e-2f9c7d3a0b11"
	c.Disks = []vminfo.Disk{{Device: "disk", Target: "vda", Bus: "virtio", Pool: "default", Volume: "web.qcow2", Format: "qcow2"}}
	want, err := c.Marshal()
	must(t, err)
	_, err = s.UpsertVM(bg, "h", "web", c)
	must(t, err)
	vm, err := s.GetVM(bg, "h", "web")
	must(t, err)
	if vm.ConfigJSON != string(want) {
		t.Fatalf("config_json = %s\nwant %s", vm.ConfigJSON, want)
	}
	for _, k := range []string{`"max_mem":2048`, `"memory":2048`, `"uptime":-1`, `"graphics":{"vnc":true,"spice":false}`} {
		if !strings.Contains(vm.ConfigJSON, k) {
			t.Errorf("config_json %s lacks %s", vm.ConfigJSON, k)
		}
	}
	again, err := vm.Config.Marshal()
	must(t, err)
	if vm.ConfigErr != nil || string(again) != string(want) {
		t.Fatalf("config does not round-trip: %v\n%s\nwant %s", vm.ConfigErr, again, want)
	}
	if vm.RecordedFrom != store.RecordedFromTable || vm.RecordedJSON != vm.ConfigJSON || vm.RecordErr != nil || vm.RecordedAt.IsZero() {
		t.Fatalf("recorded copy: from %q, json %q, err %v, at %v", vm.RecordedFrom, vm.RecordedJSON, vm.RecordErr, vm.RecordedAt)
	}
}

// Transactions: an error or a panic in fn rolls back; a write inside Read
// and a Tx kept past its callback are refused.
func Transactions(t *testing.T, b Backend) {
	s := b.Open(t, store.Options{})
	var kept *store.Tx
	err := s.Read(bg, func(tx *store.Tx) error {
		kept = tx
		_, err := tx.UpsertVM("h", "a", Cfg("a", 1))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "read transaction") {
		t.Fatalf("write in Read = %v", err)
	}
	if _, err := kept.ListHosts(); err == nil {
		t.Fatal("Tx usable after its callback")
	}
	boom := errors.New("boom")
	err = s.Write(bg, func(tx *store.Tx) error {
		if err := tx.PutHost(store.Host{ID: "x"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want boom", err)
	}
	if _, err := s.GetHost(bg, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a failed transaction was committed")
	}
	func() {
		defer func() { _ = recover() }()
		_ = s.Write(bg, func(tx *store.Tx) error { _ = tx.PutHost(store.Host{ID: "p"}); panic("x") })
	}()
	if _, err := s.GetHost(bg, "p"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a panicking transaction was committed")
	}
	must(t, s.PutHost(bg, store.Host{ID: "ok"}))
}

// WriterWaitsOutLock: a write waits for a lock another client holds (one
// long wait, or several shorter ones with retries) and then succeeds; the
// holder's write is kept. No lock error reaches the caller.
func WriterWaitsOutLock(t *testing.T, b Backend) {
	for _, tc := range []struct {
		name string
		opts store.Options
	}{
		{"busy timeout", store.Options{}},
		{"retries", store.Options{BusyTimeout: 250 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := b.Open(t, tc.opts)
			released := b.HoldWriteLock(t, s, 2*time.Second)
			start := time.Now()
			vm, err := s.UpsertVM(bg, "h", "waiter", Cfg("waiter", 1))
			noLockErr(t, "UpsertVM", err)
			if waited := time.Since(start); waited < 1500*time.Millisecond {
				t.Fatalf("UpsertVM returned after %v while the lock was held", waited)
			}
			<-released
			if vm.ID == 0 {
				t.Fatal("no row")
			}
			if _, err := s.GetHost(bg, "holder"); err != nil {
				t.Fatalf("the holder's write was lost: %v", err)
			}
		})
	}
}

// BusyGivesUp: a lock that never frees ends in ErrBusy after the bounded
// retries, saying how many attempts; a cancelled caller stops waiting at once.
func BusyGivesUp(t *testing.T, b Backend) {
	s := b.Open(t, store.Options{BusyTimeout: 50 * time.Millisecond, MaxRetries: 2})
	released := b.HoldWriteLock(t, s, 2*time.Second)
	defer func() { <-released }()
	err := s.PutHost(bg, store.Host{ID: "x"})
	if !errors.Is(err, store.ErrBusy) || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("err = %v, want ErrBusy after 3 attempts", err)
	}
	s2 := b.Open(t, store.Options{BusyTimeout: 10 * time.Second})
	released2 := b.HoldWriteLock(t, s2, 2*time.Second)
	defer func() { <-released2 }()
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s2.UpsertVM(ctx, "h", "x", Cfg("x", 1))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled write = %v, want DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Fatalf("cancel took %v", waited)
	}
}

// TwoClients: two stores on one database write distinct rows, fight over a
// shared row and host, and read alongside; every row lands exactly once.
func TwoClients(t *testing.T, b Backend) {
	s1 := b.Open(t, store.Options{})
	s2 := b.OpenAgain(t, s1, store.Options{})
	const each = 100
	var wg sync.WaitGroup
	for who, s := range map[string]*store.Store{"one": s1, "two": s2} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range each {
				name := fmt.Sprintf("%s-%03d", who, i)
				_, err := s.UpsertVM(bg, "p", name, Cfg(name, 1))
				noLockErr(t, name, err)
				_, err = s.UpsertVM(bg, "p", "shared", Cfg("shared", uint64(i)))
				noLockErr(t, "shared", err)
				noLockErr(t, "host", s.PutHost(bg, store.Host{ID: "p", URI: "test:///" + who}))
			}
		}()
		go func() {
			defer wg.Done()
			for range each / 4 {
				_, err := s.ListVMs(bg, "p")
				noLockErr(t, "ListVMs", err)
			}
		}()
	}
	wg.Wait()
	for _, s := range []*store.Store{s1, s2} {
		vms, err := s.ListVMs(bg, "p")
		if err != nil || len(vms) != 2*each+1 {
			t.Fatalf("rows = %d, want %d (%v)", len(vms), 2*each+1, err)
		}
		if hosts, err := s.ListHosts(bg); err != nil || len(hosts) != 1 {
			t.Fatalf("hosts = %v, %v", hosts, err)
		}
	}
}

// SyncStatus: our vmsync_* status rows upsert, list in order, filter
// drifted, keep optional times unset, and go with a soft-deleted VM.
func SyncStatus(t *testing.T, b Backend) {
	s := b.Open(t, store.Options{})
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	drift := []vminfo.Drift{{Field: "memory", Recorded: "1024", Live: "2048"}}
	_, err := s.UpsertVM(bg, "h", "a", Cfg("a", 1))
	must(t, err)
	must(t, s.PutVMStatus(bg, store.VMStatus{HostID: "h", Name: "b", Live: Cfg("b", 2), State: 1, ObservedAt: at}))
	must(t, s.PutVMStatus(bg, store.VMStatus{HostID: "h", Name: "a", Live: Cfg("a", 2), ObservedAt: at}))
	must(t, s.PutVMStatus(bg, store.VMStatus{HostID: "h", Name: "a", Live: Cfg("a", 3), Drift: drift, State: 5, ObservedAt: at}))
	st, err := s.ListVMStatus(bg, "h")
	must(t, err)
	if len(st) != 2 || st[0].Name != "a" || st[0].Live.Memory != 3 || st[0].State != 5 || !st[0].ObservedAt.Equal(at) ||
		!slices.Equal(st[0].Drift, drift) || len(st[1].Drift) != 0 {
		t.Fatalf("ListVMStatus = %+v", st)
	}
	if d, err := s.ListDrifted(bg); err != nil || len(d) != 1 || d[0].Name != "a" {
		t.Fatalf("ListDrifted = %+v, %v", d, err)
	}
	must(t, s.SoftDeleteVM(bg, "h", "a"))
	if st, _ := s.ListVMStatus(bg, ""); len(st) != 1 || st[0].Name != "b" {
		t.Fatalf("status of a deleted VM kept: %+v", st)
	}
	must(t, s.DeleteVMStatus(bg, "h", "b"))
	must(t, s.DeleteVMStatus(bg, "h", "b")) // absent: no error
	must(t, s.PutHostStatus(bg, store.HostStatus{HostID: "h", Connected: true, LastSyncAt: &at, VMCount: 2}))
	must(t, s.PutHostStatus(bg, store.HostStatus{HostID: "g", LastError: "refused", LastErrorAt: &at}))
	hs, err := s.ListHostStatus(bg)
	must(t, err)
	if len(hs) != 2 || hs[0].HostID != "g" || hs[0].LastSyncAt != nil || hs[0].LastError != "refused" || !hs[0].LastErrorAt.Equal(at) ||
		!hs[1].Connected || hs[1].VMCount != 2 || !hs[1].LastSyncAt.Equal(at) || hs[1].LastErrorAt != nil {
		t.Fatalf("ListHostStatus = %+v", hs)
	}
}

// BulkWrites: a full sync's bulk calls write what the one-row calls do:
// InsertNewVMs gives each VM its own new id, config_json and recorded copy
// (in the order given), PutVMStatuses inserts and then replaces statuses;
// a later single insert gets an id above them all.
func BulkWrites(t *testing.T, b Backend) {
	s := b.Open(t, store.Options{})
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	news := []store.NewVM{{Name: "c", Cfg: Cfg("c", 3)}, {Name: "a", Cfg: Cfg("a", 1)}, {Name: "b", Cfg: Cfg("b", 2)}}
	var got []store.VM
	must(t, s.Write(bg, func(tx *store.Tx) (err error) {
		if got, err = tx.InsertNewVMs("h", news); err != nil {
			return err
		}
		return tx.PutVMStatuses([]store.VMStatus{
			{HostID: "h", Name: "a", Live: Cfg("a", 1), State: 1, ObservedAt: at},
			{HostID: "h", Name: "b", Live: Cfg("b", 4), Drift: []vminfo.Drift{{Field: "memory", Recorded: "2", Live: "4"}}, State: 1, ObservedAt: at},
		})
	}))
	ids := map[int64]bool{}
	for i, vm := range got {
		if vm.Name != news[i].Name || vm.Config.Memory != news[i].Cfg.Memory || vm.RecordedFrom != store.RecordedFromTable || ids[vm.ID] {
			t.Fatalf("InsertNewVMs[%d] = %+v", i, vm)
		}
		ids[vm.ID] = true
	}
	rows, err := s.ListVMs(bg, "h")
	must(t, err)
	if len(rows) != 3 {
		t.Fatalf("rows after InsertNewVMs = %+v", rows)
	}
	for _, r := range rows {
		want := got[slices.IndexFunc(got, func(v store.VM) bool { return v.Name == r.Name })]
		if r.ID != want.ID || r.ConfigJSON != want.ConfigJSON || r.RecordedJSON != want.ConfigJSON || r.RecordedFrom != store.RecordedFromTable ||
			!r.CreatedAt.Equal(want.CreatedAt) {
			t.Fatalf("row %s = %+v, want %+v", r.Name, r, want)
		}
	}
	st, err := s.ListVMStatus(bg, "h")
	must(t, err)
	if len(st) != 2 || st[0].Name != "a" || len(st[0].Drift) != 0 || st[1].Live.Memory != 4 || len(st[1].Drift) != 1 || !st[1].ObservedAt.Equal(at) {
		t.Fatalf("statuses = %+v", st)
	}
	must(t, s.Write(bg, func(tx *store.Tx) error {
		return tx.PutVMStatuses([]store.VMStatus{{HostID: "h", Name: "a", Live: Cfg("a", 1), State: 3, ObservedAt: at},
			{HostID: "h", Name: "c", Live: Cfg("c", 3), State: 5, ObservedAt: at}})
	}))
	if st, _ := s.ListVMStatus(bg, "h"); len(st) != 3 || st[0].State != 3 || st[2].State != 5 {
		t.Fatalf("statuses replaced = %+v", st)
	}
	next, err := s.UpsertVM(bg, "h", "d", Cfg("d", 4))
	must(t, err)
	for id := range ids {
		if next.ID <= id {
			t.Fatalf("a later insert got id %d, not above the bulk ids %v", next.ID, ids)
		}
	}
}

// HostRowsCurrent: rows read with ReadHostRows are current for a write
// until anyone commits a change: another client, or this store itself.
func HostRowsCurrent(t *testing.T, b Backend) {
	s := b.Open(t, store.Options{})
	_, err := s.UpsertVM(bg, "h", "a", Cfg("a", 1))
	must(t, err)
	current := func() func(change func()) bool {
		t.Helper()
		rows, err := s.ReadHostRows(bg, "h")
		must(t, err)
		if len(rows.VMs) != 1 {
			t.Fatalf("ReadHostRows = %+v", rows.VMs)
		}
		return func(change func()) bool {
			change()
			var ok bool
			must(t, s.Write(bg, func(tx *store.Tx) (err error) { ok, err = tx.Current(rows); return err }))
			return ok
		}
	}
	if !current()(func() {}) {
		t.Fatal("rows read with nothing committed since are not current")
	}
	other := b.OpenAgain(t, s, store.Options{})
	if current()(func() { must(t, other.PutHostStatus(bg, store.HostStatus{HostID: "h", VMCount: 1})) }) {
		t.Fatal("rows are current after another client's commit")
	}
	if current()(func() { must(t, s.PutVMStatus(bg, store.VMStatus{HostID: "h", Name: "a", Live: Cfg("a", 1)})) }) {
		t.Fatal("rows are current after this store's own commit")
	}
}

// IDsAndTimestamps: ids ascend and are never reused (a revive keeps its
// row's id, a new row after a soft delete gets a new one); every timestamp
// reads back equal to what was written, to the microsecond.
func IDsAndTimestamps(t *testing.T, b Backend) {
	s := b.Open(t, store.Options{})
	a, err := s.UpsertVM(bg, "h", "a", Cfg("a", 1))
	must(t, err)
	bb, err := s.UpsertVM(bg, "h", "b", Cfg("b", 1))
	must(t, err)
	must(t, s.SoftDeleteVM(bg, "h", "b"))
	c, err := s.UpsertVM(bg, "h", "c", Cfg("c", 1))
	must(t, err)
	revived, err := s.UpsertVM(bg, "h", "b", Cfg("b", 2))
	must(t, err)
	if a.ID >= bb.ID || bb.ID >= c.ID || revived.ID != bb.ID {
		t.Fatalf("ids a=%d b=%d c=%d revived b=%d: want ascending, revive keeping b's", a.ID, bb.ID, c.ID, revived.ID)
	}
	for _, vm := range []store.VM{a, c, revived} {
		got, err := s.GetVM(bg, "h", vm.Name)
		must(t, err)
		if !got.CreatedAt.Equal(vm.CreatedAt) || !got.UpdatedAt.Equal(vm.UpdatedAt) || !got.RecordedAt.Equal(vm.RecordedAt) {
			t.Fatalf("%s reads back as created %v updated %v recorded %v; written %v %v %v", vm.Name,
				got.CreatedAt, got.UpdatedAt, got.RecordedAt, vm.CreatedAt, vm.UpdatedAt, vm.RecordedAt)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Fatalf("%s: created_at in %v, want UTC", vm.Name, got.CreatedAt.Location())
		}
	}
	at := time.Date(2026, 5, 6, 7, 8, 9, 987654321, time.FixedZone("X", 2*3600))
	must(t, s.PutVMStatus(bg, store.VMStatus{HostID: "h", Name: "a", Live: Cfg("a", 1), ObservedAt: at}))
	st, err := s.ListVMStatus(bg, "h")
	must(t, err)
	if len(st) != 1 || !st[0].ObservedAt.Truncate(time.Microsecond).Equal(at.Truncate(time.Microsecond)) ||
		st[0].ObservedAt.Sub(at).Abs() >= time.Microsecond {
		t.Fatalf("observed_at = %+v, wrote %v", st, at)
	}
}

// ChangeFeed: a commit by another client moves DataVersion and
// ForeignDataVersion (within a second: PostgreSQL's feed is delivered after
// the commit), a host change also HostsDataVersion; this store's own
// commits move DataVersion but never ForeignDataVersion.
func ChangeFeed(t *testing.T, b Backend) {
	s1 := b.Open(t, store.Options{})
	s2 := b.OpenAgain(t, s1, store.Options{})
	version := func(f func(context.Context) (int64, error)) int64 {
		t.Helper()
		v, err := f(bg)
		must(t, err)
		return v
	}
	moves := func(what string, f func(context.Context) (int64, error), from int64) {
		t.Helper()
		for start := time.Now(); version(f) == from; time.Sleep(5 * time.Millisecond) {
			if time.Since(start) > time.Second {
				t.Fatalf("%s did not move within 1s", what)
			}
		}
	}
	all, foreign := version(s1.DataVersion), version(s1.ForeignDataVersion)
	_, err := s1.UpsertVM(bg, "h", "own", Cfg("own", 1))
	must(t, err)
	moves("DataVersion after an own write", s1.DataVersion, all)
	time.Sleep(300 * time.Millisecond) // a late notification would land by now
	if v := version(s1.ForeignDataVersion); v != foreign {
		t.Fatalf("ForeignDataVersion moved for this store's own write: %d -> %d", foreign, v)
	}
	hosts := version(s1.HostsDataVersion)
	_, err = s2.UpsertVM(bg, "h", "other", Cfg("other", 1))
	must(t, err)
	moves("ForeignDataVersion after another client's write", s1.ForeignDataVersion, foreign)
	foreign = version(s1.ForeignDataVersion)
	must(t, s2.PutHost(bg, store.Host{ID: "new", URI: "test:///default"}))
	moves("HostsDataVersion after another client added a host", s1.HostsDataVersion, hosts)
	moves("ForeignDataVersion after another client added a host", s1.ForeignDataVersion, foreign)
}

// NoLostUpdate: two clients each run read-modify-write transactions on one
// row (read memory, write it plus one); write transactions run one at a
// time, so every increment lands.
func NoLostUpdate(t *testing.T, b Backend) {
	s1 := b.Open(t, store.Options{})
	s2 := b.OpenAgain(t, s1, store.Options{})
	_, err := s1.UpsertVM(bg, "h", "n", Cfg("n", 0))
	must(t, err)
	const each = 40
	var wg sync.WaitGroup
	for _, s := range []*store.Store{s1, s2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				noLockErr(t, "increment", s.Write(bg, func(tx *store.Tx) error {
					vm, err := tx.GetVM("h", "n")
					if err != nil {
						return err
					}
					time.Sleep(time.Millisecond) // let the other client try to interleave
					_, err = tx.UpsertVM("h", "n", Cfg("n", vm.Config.Memory+1))
					return err
				}))
			}
		}()
	}
	wg.Wait()
	vm, err := s2.GetVM(bg, "h", "n")
	must(t, err)
	if vm.Config.Memory != 2*each {
		t.Fatalf("memory = %d after %d increments: updates were lost", vm.Config.Memory, 2*each)
	}
}

// withDeleted lists host h's rows, soft-deleted ones included.
func withDeleted(t testing.TB, s *store.Store) []store.VM {
	t.Helper()
	var vms []store.VM
	must(t, s.Read(bg, func(tx *store.Tx) (err error) { vms, err = tx.ListVMsWithDeleted("h"); return err }))
	return vms
}

// noLockErr fails on any error, and says so loudly for a lock error, which
// must never reach a caller.
func noLockErr(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "busy") {
		t.Errorf("%s: lock error reached the caller: %v", what, err)
		return
	}
	t.Errorf("%s: %v", what, err)
}
