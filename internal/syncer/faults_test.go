package syncer_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
)

// silentListener accepts TCP connections and never says a word: a host
// that "never answers", worse than one that refuses.
func silentListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range held {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// TestIntegrationUnreachableHostsDoNotBlock: a host that refuses and one
// that never answers leave the healthy host fully served, and report why.
func TestIntegrationUnreachableHostsDoNotBlock(t *testing.T) {
	requireDaemon(t)
	st := syncertest.NewStore(t,
		store.Host{ID: "refused", URI: "qemu+tcp://127.0.0.1:1/system"},
		store.Host{ID: "silent", URI: "qemu+tcp://" + silentListener(t) + "/system"},
		store.Host{ID: "test", URI: testURI},
	)
	e := openEngine(t, newEngine(t, st))
	syncertest.Eventually(t, 5*time.Second, "healthy host synced", func() (bool, string) {
		_, reason := e.Ready()
		return reason == "2 host(s) not synced yet: refused, silent", reason
	})
	v := syncertest.DefineVM(t, syncertest.Dial(t, testURI), testURI, syncertest.Name("healthy"), 64)
	syncertest.WaitRow(t, st, "test", v.Name(), "event on the healthy host", syncertest.Live)
	if ready, _ := e.Ready(); ready {
		t.Errorf("ready with two hosts never synced")
	}

	// The silent host fails only when the 3s dial timeout expires.
	syncertest.Eventually(t, 10*time.Second, "both bad hosts report an error", func() (bool, string) {
		var s []string
		for _, h := range e.Hosts() {
			if h.ID != "test" && (h.Connected || h.LastError == "" || h.LastErrorAt == nil) {
				s = append(s, fmt.Sprintf("%s connected=%t error=%q", h.ID, h.Connected, h.LastError))
			}
		}
		return len(s) == 0, strings.Join(s, "; ")
	})
	for _, h := range []string{"refused", "silent"} {
		if g := gauge(t, e.Registry, "virtumancer_sync_last_error_timestamp_seconds", h); g <= 0 {
			t.Errorf("%s: last error timestamp metric = %v, want set", h, g)
		}
		if g := gauge(t, e.Registry, "virtumancer_sync_host_connected", h); g != 0 {
			t.Errorf("%s: connected metric = %v, want 0", h, g)
		}
	}
	if g := gauge(t, e.Registry, "virtumancer_sync_host_connected", "test"); g != 1 {
		t.Errorf("test: connected metric = %v, want 1", g)
	}

	// A one-shot sync reports the bad hosts and still syncs the good one,
	// in about one dial timeout, not one per host.
	start := time.Now()
	res, err := newEngine(t, st).SyncOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if (r.Err == nil) != (r.Host == "test") {
			t.Errorf("SyncOnce %s: err %v", r.Host, r.Err)
		}
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("SyncOnce took %s: hosts are not synced in parallel", took)
	}
}

// TestIntegrationStoreLockedLosesNothing: another process holds the write
// lock for three seconds while domains change; every change is in the store
// soon after the lock is released.
func TestIntegrationStoreLockedLosesNothing(t *testing.T) {
	requireDaemon(t)
	st := syncertest.NewSQLiteStore(t, store.Host{ID: "test", URI: testURI})
	l := syncertest.Dial(t, testURI)
	old := syncertest.DefineVM(t, l, testURI, syncertest.Name("old"), 64)
	e := openEngine(t, newEngine(t, st))
	waitReady(t, e, 10*time.Second)
	syncertest.WaitRow(t, st, "test", old.Name(), "recorded", syncertest.Live)

	other := rawConn(t, st.Path())
	exec(t, other, "BEGIN IMMEDIATE", nil)
	locked := time.Now()
	var added []*syncertest.VM
	for i := range 3 {
		added = append(added, syncertest.DefineVM(t, l, testURI, syncertest.Name(fmt.Sprintf("locked%d", i)), 64))
	}
	old.Undefine()
	time.Sleep(3*time.Second - time.Since(locked))
	for _, v := range added {
		if r, ok := syncertest.Row(t, st, "test", v.Name()); ok {
			t.Fatalf("%s reached the store while another writer held the lock (%s): the test proves nothing", v.Name(), syncertest.Describe(r, ok))
		}
	}
	exec(t, other, "COMMIT", nil)

	for _, v := range added {
		syncertest.WaitRow(t, st, "test", v.Name(), "defined while the store was locked", syncertest.Live)
	}
	syncertest.WaitRow(t, st, "test", old.Name(), "undefined while the store was locked", syncertest.SoftDeleted)
}

// TestIntegrationCloseFinishesWriteInFlight: Close during a full sync
// whose write waits on another writer's lock lets that write commit whole:
// shutdown never leaves half a sync, and never drops one already read.
func TestIntegrationCloseFinishesWriteInFlight(t *testing.T) {
	requireDaemon(t)
	names := syncertest.DefineMany(t, syncertest.Name("inflight"), 300)
	st := syncertest.NewSQLiteStore(t, store.Host{ID: "test", URI: testURI})

	other := rawConn(t, st.Path())
	exec(t, other, "BEGIN IMMEDIATE", nil)
	e := newEngine(t, st)
	fetched := make(chan int, 1)
	e.OnFetched = func(_ string, n int) {
		select {
		case fetched <- n:
		default:
		}
	}
	openEngine(t, e)
	select {
	case n := <-fetched:
		t.Logf("full sync read %d domains; its write now waits for the lock", n)
	case <-time.After(20 * time.Second):
		t.Fatal("the full sync did not finish reading domains within 20s")
	}
	time.Sleep(100 * time.Millisecond) // into BEGIN IMMEDIATE's busy wait (5s)
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		closed <- e.Close(ctx)
	}()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while the write was still waiting for the lock", err)
	case <-time.After(500 * time.Millisecond):
	}
	if rows, _ := st.ListVMs(context.Background(), "test"); len(rows) != 0 {
		t.Fatalf("%d rows written while another writer held the lock: the test proves nothing", len(rows))
	}
	exec(t, other, "COMMIT", nil)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	rows, err := st.ListVMs(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, r := range rows {
		have[r.Name] = true
	}
	for _, n := range names {
		if !have[n] {
			t.Fatalf("row %s missing after Close: the write in flight did not commit whole", n)
		}
	}
	if hs, err := st.ListHostStatus(context.Background()); err != nil || len(hs) != 1 || hs[0].Connected {
		t.Errorf("host status after Close = %+v, %v; want one row, not connected", hs, err)
	}
}

// socketProxy stands between the engine and libvirtd's socket so a test
// can cut connections as a libvirtd restart or a network drop would,
// without disturbing anyone else using the machine's libvirtd.
type socketProxy struct {
	path string
	ln   net.Listener

	mu    sync.Mutex
	conns []net.Conn
	down  bool
}

func newSocketProxy(t testing.TB) *socketProxy {
	t.Helper()
	p := &socketProxy{path: filepath.Join(t.TempDir(), "libvirt-proxy.sock")}
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	go p.serve()
	t.Cleanup(func() { _ = ln.Close(); p.cut(false) })
	return p
}

func (p *socketProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		up, err := net.Dial("unix", libvirttest.Socket)
		if down || err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
	}
}

// cut closes every proxied connection; with down, new ones are refused
// until restore.
func (p *socketProxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *socketProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// TestIntegrationConnectionLostAndRecovered: the connection to a host
// drops and stays down for two seconds. The engine marks the host
// disconnected and counts the outage, retries with backoff, and on
// reconnect resyncs: a domain defined and one undefined during the outage
// are in the store, and events flow again.
func TestIntegrationConnectionLostAndRecovered(t *testing.T) {
	requireDaemon(t)
	proxy := newSocketProxy(t)
	st := syncertest.NewStore(t,
		store.Host{ID: "proxied", URI: "test+unix:///default?socket=" + proxy.path},
		store.Host{ID: "direct", URI: qemuURI},
	)
	l := syncertest.Dial(t, testURI)
	gone := syncertest.DefineVM(t, l, testURI, syncertest.Name("gone"), 64)
	e := openEngine(t, newEngine(t, st))
	waitReady(t, e, 10*time.Second)
	syncertest.WaitRow(t, st, "proxied", gone.Name(), "recorded", syncertest.Live)

	proxy.cut(true)
	syncertest.Eventually(t, 5*time.Second, "outage noticed", func() (bool, string) {
		h := hostStatus(e, "proxied")
		return !h.Connected && h.Outages == 1 && h.LastError != "", fmt.Sprintf("%+v", h)
	})
	if g := gauge(t, e.Registry, "virtumancer_sync_host_connected", "proxied"); g != 0 {
		t.Errorf("connected metric during the outage = %v, want 0", g)
	}
	if h := hostStatus(e, "direct"); !h.Connected {
		t.Errorf("the other host was disturbed: %+v", h)
	}
	added := syncertest.DefineVM(t, l, testURI, syncertest.Name("added"), 64)
	gone.Undefine()
	time.Sleep(2 * time.Second)
	if r, ok := syncertest.Row(t, st, "proxied", added.Name()); ok {
		t.Fatalf("a change reached the store through a cut connection (%s): the test proves nothing", syncertest.Describe(r, ok))
	}

	proxy.restore()
	took := syncertest.Eventually(t, 5*time.Second, "reconnected and resynced", func() (bool, string) {
		h := hostStatus(e, "proxied")
		return h.Connected && h.LastSync != nil && h.LastOutage != nil && h.LastSync.After(*h.LastOutage), fmt.Sprintf("%+v", h)
	})
	t.Logf("reconnected %s after the proxy came back", took)
	if r, ok := syncertest.Row(t, st, "proxied", added.Name()); !syncertest.Live(r, ok) {
		t.Errorf("defined during the outage: %s, want a live row", syncertest.Describe(r, ok))
	}
	if r, ok := syncertest.Row(t, st, "proxied", gone.Name()); !syncertest.SoftDeleted(r, ok) {
		t.Errorf("undefined during the outage: %s, want soft-deleted", syncertest.Describe(r, ok))
	}
	later := syncertest.DefineVM(t, l, testURI, syncertest.Name("later"), 64)
	syncertest.WaitRow(t, st, "proxied", later.Name(), "event after reconnect", syncertest.Live)
	if hs, err := st.ListHostStatus(context.Background()); err != nil || len(hs) != 2 || hs[1].HostID != "proxied" || !hs[1].Connected || hs[1].LastError == "" {
		t.Errorf("stored host status = %+v, %v; want proxied connected with its last error kept", hs, err)
	}
}

func hostStatus(e *syncer.Engine, id string) syncer.HostStatus {
	for _, h := range e.Hosts() {
		if h.ID == id {
			return h
		}
	}
	return syncer.HostStatus{}
}

// TestIntegrationStoreBusyPastRetriesRecovers: the store stays locked
// longer than the store's own busy timeout and retries allow (shortened
// here), so the event's write fails. The engine keeps the connection,
// records the error, and a full resync after a backoff writes what it
// missed, once the lock is gone.
func TestIntegrationStoreBusyPastRetriesRecovers(t *testing.T) {
	requireDaemon(t)
	path := filepath.Join(t.TempDir(), "virtumancer.db")
	st, err := store.Open(path, store.Options{BusyTimeout: 50 * time.Millisecond, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.CreateHost(context.Background(), store.Host{ID: "test", URI: testURI}); err != nil {
		t.Fatal(err)
	}
	e := openEngine(t, newEngine(t, st))
	waitReady(t, e, 10*time.Second)

	other := rawConn(t, path)
	exec(t, other, "BEGIN IMMEDIATE", nil)
	v := syncertest.DefineVM(t, syncertest.Dial(t, testURI), testURI, syncertest.Name("busy"), 64)
	syncertest.Eventually(t, 5*time.Second, "write failure recorded", func() (bool, string) {
		h := hostStatus(e, "test")
		return strings.Contains(h.LastError, "busy") || strings.Contains(h.LastError, "locked"), fmt.Sprintf("%+v", h)
	})
	time.Sleep(time.Second) // several retries fail too
	if h := hostStatus(e, "test"); !h.Connected || h.Outages != 0 {
		t.Errorf("a store error was taken for a lost connection: %+v", h)
	}
	exec(t, other, "COMMIT", nil)
	took := syncertest.Eventually(t, 5*time.Second, "missed write recovered by the resync", func() (bool, string) {
		r, ok := syncertest.Row(t, st, "test", v.Name())
		return syncertest.Live(r, ok), syncertest.Describe(r, ok)
	})
	t.Logf("recovered %s after the lock was released", took)
}
