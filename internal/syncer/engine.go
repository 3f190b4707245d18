// Package syncer keeps a Virtumancer store in step with its libvirt hosts:
// a full sync of every domain when a host connects, lifecycle events in
// between and a periodic resync as a safety net. The recorded config_json
// of an existing row is never overwritten; what is seen live, and how it
// drifts from the record, goes into the store's vmsync_* tables.
//
// The Engine runs as a daemon (Open/Close) in virtumancer-sync, and its
// one-shot methods (SyncOnce, CheckDrift) need no Open, so the provider or
// a CLI can call them directly.
package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// Defaults NewEngine fills in.
const (
	DefaultResyncInterval   = 5 * time.Minute
	DefaultHostPollInterval = time.Second
	// DefaultStorePollInterval keeps what the engine reports within a
	// second of any writer's commit; one poll costs microseconds.
	DefaultStorePollInterval = 200 * time.Millisecond
	// DefaultCheckInterval is the cheap runtime check's period: much
	// shorter than the resync, for changes libvirt sends no event for.
	DefaultCheckInterval = 15 * time.Second
	DefaultFetchWorkers  = 8
	DefaultBackoffMin    = time.Second
	DefaultBackoffMax    = time.Minute
	DefaultWriteTimeout  = 2 * time.Minute
)

// Conn is what the engine needs of a libvirt connection: what observe
// reads domains with, plus events. *hypervisor.Conn implements it (and
// observe.RuntimeLister and observe.Snapshotter, which reading prefers);
// tests may substitute their own.
type Conn interface {
	observe.Source
	Redacted() string
	LifecycleEvents(ctx context.Context) (<-chan hypervisor.Event, error)
}

// Dialer returns a connection to a host.
type Dialer func(ctx context.Context, hostID, uri string) (Conn, error)

// PoolDialer dials through a hypervisor.Pool, sharing its connections.
func PoolDialer(p *hypervisor.Pool) Dialer {
	return func(ctx context.Context, hostID, uri string) (Conn, error) {
		c, err := p.Get(ctx, hostID, uri)
		if err != nil {
			return nil, err // not c: a typed nil would make a non-nil Conn
		}
		return c, nil
	}
}

// Engine syncs every host of a store. Create it with NewEngine, override
// fields, then either Open it (daemon) or call SyncOnce / CheckDrift.
type Engine struct {
	Store    *store.Store
	Dial     Dialer
	Logger   hclog.Logger
	Registry *prometheus.Registry // the engine's series; never the global registry

	// Claims decide which hosts this replica syncs when several share a
	// PostgreSQL store (SPEC 7): a host is synced only while its claim is
	// held, and every write for it is fenced by the claim. Nil: this engine
	// syncs every host (one-shot work, SQLite).
	Claims *store.Claims

	// HostFilter limits the engine to these host ids (empty: every host).
	HostFilter []string
	// ResyncInterval is how often a connected host is fully synced again,
	// catching anything an event missed.
	ResyncInterval time.Duration
	// HostPollInterval is how often the hosts table is read to pick up
	// hosts added, removed or re-pointed (sooner when the store changed).
	HostPollInterval time.Duration
	// StorePollInterval is how often the store's change counter and file
	// are checked, so writes by other processes are re-checked at once
	// and a store file deleted or replaced under us stops the engine.
	StorePollInterval time.Duration
	// CheckInterval is how often each connected host's runtimes are read
	// in bulk and compared with what is known (autostart, persistence and
	// state changes libvirt sends no event for).
	CheckInterval time.Duration
	// FetchWorkers is how many domains are read from one host at once.
	FetchWorkers int
	// BackoffMin and BackoffMax bound the jittered exponential delay
	// between connection attempts to a failing host.
	BackoffMin, BackoffMax time.Duration
	// WriteTimeout bounds one store transaction. A write in flight is not
	// cancelled by Close: it commits or rolls back within this time.
	WriteTimeout time.Duration
	// OnCommit, when set, is called after each committed sync or event
	// write with the host and the VM names it wrote (tests and benchmarks
	// use it to time event-to-row latency).
	OnCommit func(hostID string, names []string)
	// OnFetched, when set, is called when a full sync has read every
	// domain, just before its write transaction (tests act on a sync whose
	// write is pending).
	OnFetched func(hostID string, domains int)

	metrics *metrics

	mu          sync.Mutex
	status      map[string]*HostStatus // managed hosts, by id
	hostsLoaded bool
	fatalErr    error         // why the engine stopped on its own
	fatal       chan struct{} // closed when fatalErr is set

	watch *storeWatch // owned by the watchHosts goroutine

	runners map[string]*runner // owned by the watchHosts goroutine
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewEngine returns an engine on st dialling through pool, with defaults
// for everything else.
func NewEngine(st *store.Store, pool *hypervisor.Pool) *Engine {
	reg := prometheus.NewRegistry()
	e := &Engine{
		Store:             st,
		Logger:            hclog.NewNullLogger(),
		Registry:          reg,
		ResyncInterval:    DefaultResyncInterval,
		HostPollInterval:  DefaultHostPollInterval,
		StorePollInterval: DefaultStorePollInterval,
		CheckInterval:     DefaultCheckInterval,
		FetchWorkers:      DefaultFetchWorkers,
		BackoffMin:        DefaultBackoffMin,
		BackoffMax:        DefaultBackoffMax,
		WriteTimeout:      DefaultWriteTimeout,
		metrics:           newMetrics(reg),
		status:            map[string]*HostStatus{},
		runners:           map[string]*runner{},
		fatal:             make(chan struct{}),
	}
	if pool != nil {
		e.Dial = PoolDialer(pool)
	}
	return e
}

func (e *Engine) validate() error {
	switch {
	case e.Store == nil:
		return errors.New("syncer: no store")
	case e.Dial == nil:
		return errors.New("syncer: no dialer (pass a hypervisor.Pool to NewEngine)")
	case e.ResyncInterval <= 0, e.HostPollInterval <= 0, e.WriteTimeout <= 0, e.StorePollInterval <= 0, e.CheckInterval <= 0:
		return errors.New("syncer: ResyncInterval, HostPollInterval, StorePollInterval, CheckInterval and WriteTimeout must be positive")
	case e.BackoffMin <= 0 || e.BackoffMax < e.BackoffMin:
		return fmt.Errorf("syncer: backoff %s..%s: want 0 < min <= max", e.BackoffMin, e.BackoffMax)
	}
	if e.FetchWorkers < 1 {
		e.FetchWorkers = 1
	}
	return nil
}

// Open validates the configuration, reads the hosts table once (so a
// store that cannot be read fails here, not later in a log) and starts
// the background loops: one watching the store and its hosts table, and
// one per managed host.
func (e *Engine) Open() error {
	if err := e.validate(); err != nil {
		return err
	}
	if e.cancel != nil {
		return errors.New("syncer: engine already open")
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.openWatch(ctx); err != nil {
		cancel()
		return err
	}
	if err := e.reconcileHosts(ctx); err != nil {
		cancel()
		return err
	}
	e.cancel, e.done = cancel, make(chan struct{})
	go e.watchHosts(ctx)
	return nil
}

// Fatal is closed when the engine stopped on its own: the store file was
// deleted or replaced under it (see Err). The daemon then exits non-zero;
// reopening is not attempted, because a replaced file may be a restore
// the operator has not finished, and a fresh process says so plainly.
func (e *Engine) Fatal() <-chan struct{} { return e.fatal }

// Err is why the engine stopped on its own, nil while it has not.
func (e *Engine) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fatalErr
}

func (e *Engine) stopFatal(err error) {
	e.Logger.Error("store file no longer usable; stopping", "error", err)
	e.mu.Lock()
	e.fatalErr = err
	e.mu.Unlock()
	close(e.fatal)
}

// Close stops every loop and waits for them: a store write in flight
// commits (or rolls back) first. It returns ctx's error if that takes
// longer than ctx allows. It does not close the store or the pool, which
// the caller owns.
func (e *Engine) Close(ctx context.Context) error {
	if e.cancel == nil {
		return nil
	}
	e.cancel()
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("syncer: close: loops still running: %w", ctx.Err())
	}
}

// watchHosts polls the store every StorePollInterval: the file check and
// change counter, the rows other writers touched (handed to the runners)
// and the hosts table (on a change, and every HostPollInterval anyway).
func (e *Engine) watchHosts(ctx context.Context) {
	defer close(e.done)
	defer e.stopAll()
	tick := time.NewTicker(min(e.StorePollInterval, e.HostPollInterval))
	defer tick.Stop()
	var lastErr string
	lastHosts := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		e.dropLostClaims()
		changed, fatal, err := e.watch.pollStore(ctx)
		if fatal != nil {
			e.stopFatal(fatal)
			return
		}
		// read: whether this tick asked the store anything; a quiet tick
		// proves nothing, so it must not say the store is readable again.
		read := err != nil
		if err == nil && (changed || e.hostsDue(lastHosts)) {
			lastHosts, read = time.Now(), true
			err = e.reconcileHosts(ctx)
		}
		if err == nil && changed {
			err = e.dispatchRows(ctx)
		}
		switch {
		case err != nil && ctx.Err() == nil && err.Error() != lastErr:
			e.Logger.Error("cannot read the store; keeping the current hosts", "error", err)
			lastErr = err.Error()
		case err == nil && read && lastErr != "":
			e.Logger.Info("store readable again")
			lastErr = ""
		}
	}
}

// reconcileHosts starts loops for new hosts and stops those of removed
// hosts; a host whose URI changed is restarted.
func (e *Engine) reconcileHosts(ctx context.Context) error {
	hosts, err := e.Store.ListHosts(ctx)
	if err != nil {
		return fmt.Errorf("syncer: %w", err)
	}
	want := map[string]store.Host{}
	for _, h := range hosts {
		if e.manages(h.ID) {
			want[h.ID] = h
		}
	}
	for id, r := range e.runners {
		h, ok := want[id]
		switch {
		case ok && h.URI == r.host.URI && e.holds(id):
			continue
		case ok && h.URI == r.host.URI:
			e.Logger.Warn("lost the claim on host; it is free for any replica", "host", id)
		case ok:
			e.Logger.Info("host uri changed; reconnecting", "host", id, "uri", hypervisor.Redact(h.URI))
		default:
			e.Logger.Info("host removed from the store; stopped syncing it", "host", id)
		}
		r.stop()
		delete(e.runners, id)
		e.forgetHost(id)
		if !ok {
			e.release(ctx, id)
		}
	}
	for _, h := range hosts {
		if _, ok := want[h.ID]; ok && e.runners[h.ID] == nil {
			e.claimHost(ctx, h)
		}
	}
	e.forgetUnwanted(want)
	e.refreshOwners(ctx, want)
	e.mu.Lock()
	first := !e.hostsLoaded
	e.hostsLoaded = true
	e.mu.Unlock()
	if first {
		e.warnMissingFilter(want)
	}
	return nil
}

// dropLostClaims stops the loops of hosts whose claim went with the lock
// session (PostgreSQL restarted or is down, the network was cut) before
// the store is read: reconcileHosts only runs once the store answers, and
// until then the host must not be listed as ours, nor /readyz be ready.
// Each is listed as owned by nobody; reconcileHosts claims it again.
func (e *Engine) dropLostClaims() {
	var lost []*runner
	for id, r := range e.runners {
		if e.holds(id) {
			continue
		}
		e.Logger.Warn("lost the claim on host; it is free for any replica", "host", id)
		// Unowned first, and every loop cancelled before any is waited
		// for: a write in flight retries while PostgreSQL is away, and
		// /readyz must not say ready meanwhile.
		e.forgetHost(id)
		e.mu.Lock()
		e.status[id] = &HostStatus{ID: id, URI: hypervisor.Redact(r.host.URI)}
		e.mu.Unlock()
		e.metrics.owned.WithLabelValues(id).Set(0)
		r.cancel()
		delete(e.runners, id)
		lost = append(lost, r)
	}
	for _, r := range lost {
		<-r.done
	}
}

func (e *Engine) startHost(ctx context.Context, h store.Host) {
	e.mu.Lock()
	e.status[h.ID] = &HostStatus{ID: h.ID, URI: hypervisor.Redact(h.URI), Owned: true, Owner: e.replica()}
	e.mu.Unlock()
	e.metrics.owned.WithLabelValues(h.ID).Set(1)
	e.metrics.initHost(h.ID)
	r := newRunner(e, h)
	e.runners[h.ID] = r
	r.start(ctx)
}

func (e *Engine) forgetHost(id string) {
	e.mu.Lock()
	delete(e.status, id)
	e.mu.Unlock()
	e.metrics.forgetHost(id)
}

// stopAll stops every host loop, in parallel so that one slow write does
// not hold up the others' shutdown.
func (e *Engine) stopAll() {
	var wg sync.WaitGroup
	for id, r := range e.runners {
		wg.Add(1)
		go func() { defer wg.Done(); r.stop() }()
		delete(e.runners, id)
	}
	wg.Wait()
}

func (e *Engine) manages(id string) bool {
	return len(e.HostFilter) == 0 || slices.Contains(e.HostFilter, id)
}

// warnMissingFilter names --host ids that are not (yet) in the store once,
// at start: a typo would otherwise sync nothing silently.
func (e *Engine) warnMissingFilter(found map[string]store.Host) {
	for _, id := range e.HostFilter {
		if _, ok := found[id]; !ok {
			e.Logger.Warn("host filter names a host that is not in the store; it is synced once added", "host", id)
		}
	}
}

// managedHosts reads the hosts the engine manages for one-shot work; a
// filter naming an absent host is an error there, since nothing would
// otherwise report it.
func (e *Engine) managedHosts(ctx context.Context) ([]store.Host, error) {
	hosts, err := e.Store.ListHosts(ctx)
	if err != nil {
		return nil, fmt.Errorf("syncer: %w", err)
	}
	var out []store.Host
	found := map[string]bool{}
	for _, h := range hosts {
		if e.manages(h.ID) {
			out = append(out, h)
			found[h.ID] = true
		}
	}
	for _, id := range e.HostFilter {
		if !found[id] {
			return nil, &HintError{
				Err:  fmt.Errorf("syncer: host %q is not in the store %s", id, e.Store.Path()),
				Hint: "list the hosts with `" + e.listHostsCommand() + "` and check the --host value",
			}
		}
	}
	return out, nil
}

// HintError is an error with a suggestion the CLI prints as "Try: ...".
type HintError struct {
	Err  error
	Hint string
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// write runs fn in a store write transaction that shutdown does not
// interrupt: cancelling ctx must not abort a transaction half-way through
// its statements, so only WriteTimeout bounds it.
func (e *Engine) write(ctx context.Context, fn func(tx *store.Tx) error) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.WriteTimeout)
	defer cancel()
	return e.Store.Write(wctx, fn)
}

// errHostGone: the host row was removed or re-pointed while we were
// reading its domains; writing them would resurrect rows for a host that
// no longer exists.
var errHostGone = errors.New("host removed or its uri changed")

// checkHost is the first statement of every write: the host must still
// exist with the URI we read from, and this replica must still hold its
// claim (a replica that lost its lock session writes nothing for it).
func (e *Engine) checkHost(tx *store.Tx, h store.Host) error {
	cur, err := tx.GetHost(h.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && cur.URI != h.URI) {
		return fmt.Errorf("syncer: host %q: %w", h.ID, errHostGone)
	}
	if err != nil {
		return err
	}
	return tx.CheckClaim(e.Claims, h.ID)
}

// listHostsCommand is the shell command that lists the store's hosts. The
// URL it names has no password (Path shows it as xxxxx): psql finds it in
// PGPASSWORD or a password file, or asks.
func (e *Engine) listHostsCommand() string {
	if e.Store.IsPostgres() {
		u := strings.Replace(e.Store.Path(), ":xxxxx@", "@", 1)
		return "psql '" + u + "' -c 'select id, uri from hosts'"
	}
	return "sqlite3 " + e.Store.Path() + " 'select id, uri from hosts'"
}

// skippable is a write refused because the host is no longer ours to
// write: removed, re-pointed or claimed by another replica.
func skippable(err error) bool {
	return errors.Is(err, errHostGone) || errors.Is(err, store.ErrClaimLost)
}

// claimHost starts syncing h if this replica can claim it; otherwise the
// host is listed as owned elsewhere (refreshOwners names the owner).
func (e *Engine) claimHost(ctx context.Context, h store.Host) {
	ok, err := e.Claims.Claim(ctx, h.ID)
	if err != nil {
		e.Logger.Warn("cannot claim host; retrying", "host", h.ID, "error", err)
	}
	if ok {
		e.Logger.Info("claimed host", "host", h.ID, "replica", e.replica())
		e.startHost(ctx, h)
		return
	}
	e.mu.Lock()
	if st, known := e.status[h.ID]; !known || st.Owned {
		e.status[h.ID] = &HostStatus{ID: h.ID, URI: hypervisor.Redact(h.URI)}
	}
	e.mu.Unlock()
	e.metrics.owned.WithLabelValues(h.ID).Set(0)
}

// forgetUnwanted drops the status of hosts that left the store (or the
// filter) and that no runner of ours synced.
func (e *Engine) forgetUnwanted(want map[string]store.Host) {
	var gone []string
	e.mu.Lock()
	for id := range e.status {
		if _, ok := want[id]; !ok && e.runners[id] == nil {
			gone = append(gone, id)
		}
	}
	e.mu.Unlock()
	for _, id := range gone {
		e.forgetHost(id)
	}
}

// refreshOwners names the replica holding each host this one does not,
// for /api/v1/hosts and /readyz.
func (e *Engine) refreshOwners(ctx context.Context, want map[string]store.Host) {
	if !e.Claims.Shared() {
		return
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		if e.runners[id] == nil {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	owners, err := e.Claims.Owners(ctx, ids)
	if err != nil {
		e.Logger.Warn("cannot read which replicas own the hosts", "error", err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		if st, ok := e.status[id]; ok && !st.Owned {
			o := owners[id]
			st.Owner, st.OwnerSynced, st.ownerAlive = o.Replica, o.Synced, o.Alive
		}
	}
}

func (e *Engine) holds(id string) bool { return e.Claims == nil || e.Claims.Holds(id) }

func (e *Engine) release(ctx context.Context, id string) {
	if e.Claims != nil {
		e.Claims.Release(ctx, id)
	}
}

// replica is this engine's replica name ("" when it syncs every host).
func (e *Engine) replica() string { return e.Claims.Replica() }
