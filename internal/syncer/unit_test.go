package syncer

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	nominal := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, n := range nominal {
		n *= time.Millisecond
		d := b.next()
		if d < n/2 || d > n {
			t.Errorf("attempt %d: %s, want within [%s, %s]", i+1, d, n/2, n)
		}
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset: %s, want <= 100ms", d)
	}
}

func TestEventQueueCoalesces(t *testing.T) {
	q := newEventQueue()
	ch := make(chan hypervisor.Event)
	counted := map[string]int{}
	done := make(chan struct{})
	go func() {
		q.pump(ch, func(typ string) { counted[typ]++ })
		close(done)
	}()
	for _, ev := range []hypervisor.Event{
		{Name: "b", Type: "defined"}, {Name: "a", Type: "started"}, {Name: "b", Type: "started"}, {Name: "b", Type: "stopped"},
	} {
		ch <- ev
	}
	close(ch)
	<-done
	<-q.ready
	names, closed := q.take()
	if !slices.Equal(names, []string{"b", "a"}) || !closed {
		t.Errorf("take = %v, closed %t; want [b a] (arrival order, once each), closed", names, closed)
	}
	if counted["started"] != 2 || counted["defined"] != 1 || counted["stopped"] != 1 {
		t.Errorf("counted %v: every event counts, coalesced or not", counted)
	}
	if names, _ := q.take(); len(names) != 0 {
		t.Errorf("second take = %v, want empty", names)
	}
}

// fakeConn serves fixed domains; names in broken get XML that does not
// parse, names in refused get a libvirt error.
type fakeConn struct {
	doms    []string
	broken  map[string]bool
	refused map[string]error
}

func (f *fakeConn) Redacted() string { return "test:///fake" }
func (f *fakeConn) ListDomains(context.Context) ([]hypervisor.Domain, error) {
	var out []hypervisor.Domain
	for _, n := range f.doms {
		out = append(out, hypervisor.Domain{Name: n})
	}
	return out, nil
}
func (f *fakeConn) LookupDomain(_ context.Context, name string) (hypervisor.Domain, error) {
	if slices.Contains(f.doms, name) {
		return hypervisor.Domain{Name: name}, nil
	}
	return hypervisor.Domain{}, hypervisor.ErrDomainNotFound
}
func (f *fakeConn) DomainXML(_ context.Context, d hypervisor.Domain, _ bool) (string, error) {
	if f.broken[d.Name] {
		return "<domain", nil
	}
	if err := f.refused[d.Name]; err != nil {
		return "", err
	}
	return vminfo.BuildXML(vminfo.Spec{Name: d.Name, DomainType: "test", MemoryKiB: 65536, Vcpu: 1, Graphics: "none"})
}
func (f *fakeConn) Runtime(context.Context, hypervisor.Domain) (vminfo.Runtime, error) {
	return vminfo.Runtime{State: vminfo.StateShutoff, Persistent: true}, nil
}
func (f *fakeConn) LifecycleEvents(context.Context) (<-chan hypervisor.Event, error) {
	return nil, errors.New("not supported by the fake")
}

// TestFullSyncLeavesUnreadableDomains: a domain that exists but whose
// definition cannot be parsed, or that libvirt refuses to describe, is
// neither recorded nor soft-deleted as if it had vanished, and does not
// fail the sync; a vanished one is soft-deleted; a new one is recorded; a
// row whose config_json cannot be read keeps a status, is not compared and
// is not counted as drift (observe's record_unreadable).
func TestFullSyncLeavesUnreadableDomains(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "v.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := store.Host{ID: "h", URI: "test:///default"}
	if err := st.CreateHost(ctx, h); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"corrupt", "denied", "odd", "vanished"} {
		if _, err := st.UpsertVM(ctx, "h", n, vminfo.VMInfo{Name: n, Memory: 1}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := sqlite.OpenConn(st.Path(), sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	const corrupt = `{"memory": 6`
	err = sqlitex.ExecuteTransient(raw, "UPDATE virtual_machines SET config_json = '"+corrupt+"' WHERE name = 'corrupt'", nil)
	if err = errors.Join(err, raw.Close()); err != nil {
		t.Fatal(err)
	}
	e := NewEngine(st, nil)
	e.Dial = func(context.Context, string, string) (Conn, error) {
		return &fakeConn{doms: []string{"corrupt", "denied", "new", "odd"}, broken: map[string]bool{"odd": true},
			refused: map[string]error{"denied": errors.New("access denied by policy")}}, nil
	}
	res, err := e.SyncOnce(ctx)
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("SyncOnce = %+v, %v", res, err)
	}
	if r := res[0]; r.Inserted != 1 || r.Deleted != 1 || r.Unreadable != 2 || r.UnreadableRecords != 1 || r.Drifted != 0 || r.VMs != 4 {
		t.Errorf("result %+v, want 1 inserted, 1 deleted, 2 unreadable domains, 1 unreadable record, 0 drifted, 4 vms", r)
	}
	statuses, err := st.ListVMStatus(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	var withStatus []string
	for _, s := range statuses {
		withStatus = append(withStatus, s.Name)
		if s.Name == "corrupt" && (len(s.Drift) != 0 || s.Live.Memory != 65536) {
			t.Errorf("status of the unreadable record: drift %v, live memory %d; want no drift, the live snapshot", s.Drift, s.Live.Memory)
		}
	}
	if !slices.Equal(withStatus, []string{"corrupt", "new"}) {
		t.Errorf("statuses for %v, want [corrupt new]: unreadable domains keep what they had (nothing)", withStatus)
	}
	if r, err := st.GetVM(ctx, "h", "corrupt"); err != nil || r.ConfigJSON != corrupt {
		t.Errorf("unreadable record rewritten: %q, %v", r.ConfigJSON, err)
	}
	vms, err := st.ListVMs(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vms {
		names = append(names, v.Name)
	}
	if !slices.Equal(names, []string{"corrupt", "denied", "new", "odd"}) {
		t.Errorf("live rows %v, want [corrupt denied new odd]", names)
	}
}

// TestWriteRefusesRemovedHost: a sync that read a host's domains does not
// write them once the host row is gone (that would resurrect its rows).
func TestWriteRefusesRemovedHost(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "v.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := NewEngine(st, nil)
	obs := []observe.Observation{{Name: "x", Live: &observe.Live{Info: vminfo.VMInfo{Name: "x"}}}}
	_, err = e.writeFull(ctx, store.Host{ID: "gone", URI: "test:///default"}, obs, time.Now(), store.HostStatus{HostID: "gone"}, nil)
	if !errors.Is(err, errHostGone) {
		t.Fatalf("writeFull for a missing host: %v, want errHostGone", err)
	}
	if vms, _ := st.ListAllVMs(ctx); len(vms) != 0 {
		t.Errorf("rows written for a missing host: %+v", vms)
	}
}

// TestTouchedFindsOnlyRowsOthersChanged: the store watch's diff names new
// rows, rows gone and rows whose time or config_json changed, and nothing
// for rows exactly as last compared (our own commits).
func TestTouchedFindsOnlyRowsOthersChanged(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	row := func(id int64, name, js string) store.VM {
		return store.VM{ID: id, Name: name, UpdatedAt: at, ConfigJSON: js}
	}
	same, edited, gone := row(1, "same", "{}"), row(2, "edited", "{}"), row(3, "gone", "{}")
	r := &runner{known: map[string]observe.Result{}}
	for _, k := range []store.VM{same, edited, gone} {
		r.known[k.Name] = observe.Result{Name: k.Name, Row: &k}
	}
	r.known["norecord"] = observe.Result{Name: "norecord", Verdict: observe.NoRecord}
	later := at.Add(time.Second)
	if got := r.touched(listing{at: later, rows: []store.VM{same, edited, gone}}); len(got) != 0 {
		t.Errorf("rows as last compared: touched %v, want none", got)
	}
	edited.ConfigJSON = `{"memory":1}`
	retimed := same
	retimed.UpdatedAt = at.Add(time.Nanosecond)
	got := r.touched(listing{at: later, rows: []store.VM{retimed, edited, row(4, "new", "{}")}})
	slices.Sort(got)
	if want := []string{"edited", "gone", "new", "same"}; !slices.Equal(got, want) {
		t.Errorf("touched %v, want %v", got, want)
	}
	// A listing begun before rows the runner wrote (as known, stamped at
	// or after it began) says nothing about those rows; the others count.
	if got := r.touched(listing{at: at, rows: []store.VM{retimed, edited}}); len(got) != 0 {
		t.Errorf("listing older than every known row: touched %v, want none", got)
	}
	if got := r.touched(listing{at: later}); len(got) != 3 {
		t.Errorf("later empty listing: touched %v, want the 3 recorded rows gone", got)
	}
}
