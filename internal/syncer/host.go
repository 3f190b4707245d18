package syncer

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// errEventsClosed: the event stream ended, which go-libvirt does when the
// connection drops.
var errEventsClosed = errors.New("libvirt event stream closed: connection lost")

// runner keeps one host in sync: connect with backoff, subscribe to
// events, full sync, then apply events and resync until the connection
// fails or the runner is stopped.
type runner struct {
	e      *Engine
	host   store.Host
	log    hclog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	// known is every VM as of the last commit, by name, as observe
	// classified it against the row it was compared with. Only the run
	// goroutine touches it.
	known map[string]observe.Result
	// rows receives the latest listing of the host's rows whenever the
	// store changed (the engine's store watch); only the latest matters.
	rows chan listing
	// committed is when the runner last committed what it knows.
	committed time.Time
}

func newRunner(e *Engine, h store.Host) *runner {
	return &runner{
		e:     e,
		host:  h,
		log:   e.Logger.With("host", h.ID, "uri", hypervisor.Redact(h.URI)),
		known: map[string]observe.Result{},
		rows:  make(chan listing, 1),
	}
}

func (r *runner) start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go r.run(ctx)
}

// stop cancels the runner and waits; a store write in flight finishes first.
func (r *runner) stop() {
	r.cancel()
	<-r.done
}

func (r *runner) run(ctx context.Context) {
	defer close(r.done)
	bo := backoff{min: r.e.BackoffMin, max: r.e.BackoffMax}
	attempt := 0 // consecutive failed connection attempts
	for {
		attempt++
		start := time.Now()
		connected, err := r.session(ctx)
		if ctx.Err() != nil {
			r.shutdown(connected)
			return
		}
		if skippable(err) {
			<-ctx.Done() // the hosts watcher stops or restarts us within a poll
			return
		}
		if connected {
			bo.reset()
			attempt = 0
		}
		delay := bo.next()
		r.failed(err, connected, time.Since(start), attempt, delay)
		var uriErr *hypervisor.URIError
		if errors.As(err, &uriErr) {
			// Retrying cannot help; a corrected URI restarts this runner.
			<-ctx.Done()
			return
		}
		if !sleep(ctx, delay) {
			return
		}
	}
}

// session is one connection's life. connected reports whether it got as
// far as a working connection with an event subscription.
func (r *runner) session(ctx context.Context) (connected bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the event subscription
	start := time.Now()
	c, err := r.e.Dial(sctx, r.host.ID, r.host.URI)
	if err != nil {
		return false, err
	}
	// Subscribe before the full sync: events during it are queued, and the
	// sync and the queued events together miss nothing.
	ch, err := c.LifecycleEvents(sctx)
	if err != nil {
		return false, err
	}
	q := newEventQueue()
	go q.pump(ch, func(typ string) { r.e.metrics.events.WithLabelValues(r.host.ID, typ).Inc() })
	r.connected(time.Since(start))
	return true, r.serve(ctx, c, q, r.sync(ctx, c, "connect"))
}

// serve applies events, rechecks rows other writers touched, runs the
// cheap runtime check and the periodic resync until ctx ends or the
// connection fails. first is the outcome of the sync on connect. A failed
// store write is not a lost connection: it is retried as a full resync
// (which converges whatever the events missed) after a backoff.
func (r *runner) serve(ctx context.Context, c Conn, q *eventQueue, first error) error {
	resync := time.NewTicker(r.e.ResyncInterval)
	defer resync.Stop()
	check := time.NewTicker(r.e.CheckInterval)
	defer check.Stop()
	storeBackoff := backoff{min: r.e.BackoffMin, max: r.e.BackoffMax}
	var retry <-chan time.Time
	handle := func(err error) error {
		if err == nil {
			storeBackoff.reset()
			return nil
		}
		if !isStoreErr(err) || ctx.Err() != nil || skippable(err) {
			return err
		}
		delay := storeBackoff.next()
		r.storeFailed(err, delay)
		retry = time.After(delay)
		return nil
	}
	if err := handle(first); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-q.ready:
			batch, closed := q.take()
			if len(batch) > 0 {
				if err := handle(r.applyNames(ctx, c, batch, discover)); err != nil {
					return err
				}
			}
			if closed {
				return errEventsClosed
			}
		case l := <-r.rows:
			if touched := r.touched(l); len(touched) > 0 {
				if err := handle(r.applyNames(ctx, c, touched, recheck)); err != nil {
					return err
				}
			}
		case <-check.C:
			if err := handle(r.checkRuntimes(ctx, c)); err != nil {
				return err
			}
		case <-resync.C:
			if err := handle(r.sync(ctx, c, "resync")); err != nil {
				return err
			}
		case <-retry:
			retry = nil
			if err := handle(r.sync(ctx, c, "retry after store error")); err != nil {
				return err
			}
		}
	}
}

// sync runs a full sync and publishes its outcome.
func (r *runner) sync(ctx context.Context, c Conn, reason string) error {
	st, _ := r.e.updateStatus(r.host.ID, func(*HostStatus) {})
	hs := storeStatus(st)
	hs.Connected = true
	out, err := r.e.fullSync(ctx, r.host, c, hs)
	if err != nil {
		return err
	}
	r.known, r.committed = out.known, time.Now()
	res := out.res
	r.e.Claims.SetSynced(r.host.ID)
	r.e.updateStatus(r.host.ID, func(st *HostStatus) {
		st.Synced = true
		st.LastSync = timePtr(res.SyncedAt)
		st.LastSyncDuration = (res.Fetch + res.Write).Seconds()
	})
	r.publish()
	r.log.Info("host synced", "reason", reason, "vms", res.VMs, "inserted", res.Inserted, "revived", res.Revived,
		"deleted", res.Deleted, "drifted", res.Drifted, "unreadable", res.Unreadable,
		"unreadable_records", res.UnreadableRecords, "newer", res.Newer,
		"fetch", dur(res.Fetch), "write", dur(res.Write),
		"duration", dur(res.Fetch+res.Write))
	return nil
}

// publish hands what the runner knows to the engine: counts for the
// metrics and /api/v1/hosts, and the VMs that need attention for
// /api/v1/drift.
func (r *runner) publish() {
	var k hostKnowledge
	for _, res := range r.known {
		k.vms += b2i(exists(res))
		k.drifted += b2i(res.Verdict == observe.Drifted)
		if res.Row == nil {
			continue // the drift report covers recorded VMs only, as `drift` does
		}
		k.checked++
		if res.Verdict.Attention() {
			k.attention = append(k.attention, res)
		}
	}
	r.e.metrics.vms.WithLabelValues(r.host.ID).Set(float64(k.vms))
	r.e.metrics.drifted.WithLabelValues(r.host.ID).Set(float64(k.drifted))
	r.e.updateStatus(r.host.ID, func(st *HostStatus) { st.VMCount, st.DriftedVMs, st.knowledge = k.vms, k.drifted, k })
}

func (r *runner) connected(took time.Duration) {
	r.e.updateStatus(r.host.ID, func(st *HostStatus) { st.Connected = true })
	r.e.metrics.connected.WithLabelValues(r.host.ID).Set(1)
	r.log.Info("host connected", "duration", dur(took))
}

// failed records a failed connection attempt or a lost connection.
func (r *runner) failed(err error, wasConnected bool, took time.Duration, attempt int, retryIn time.Duration) {
	now := time.Now()
	st, ok := r.e.updateStatus(r.host.ID, func(st *HostStatus) {
		if wasConnected {
			st.Outages++
			st.LastOutage = &now
		}
		st.Connected = false
		st.LastError, st.LastErrorAt = err.Error(), &now
	})
	if !ok {
		return
	}
	r.e.metrics.connected.WithLabelValues(r.host.ID).Set(0)
	r.e.metrics.lastErrorTS.WithLabelValues(r.host.ID).Set(float64(now.UnixNano()) / 1e9)
	if wasConnected {
		r.log.Warn("host disconnected", "error", err, "connected_for", dur(took),
			"outages", st.Outages, "retry_in", dur(retryIn))
	} else {
		r.log.Warn("host connect failed", "error", err, "attempt", attempt, "duration", dur(took),
			"retry_in", dur(retryIn))
	}
	r.persist(context.Background(), st)
}

// storeFailed records a write that failed while the host stayed connected.
func (r *runner) storeFailed(err error, retryIn time.Duration) {
	now := time.Now()
	r.e.updateStatus(r.host.ID, func(st *HostStatus) { st.LastError, st.LastErrorAt = err.Error(), &now })
	r.e.metrics.lastErrorTS.WithLabelValues(r.host.ID).Set(float64(now.UnixNano()) / 1e9)
	r.log.Error("store write failed; resyncing after a pause", "error", err, "retry_in", dur(retryIn))
}

// shutdown marks the host disconnected in the store so readers do not see
// a stale "connected" after the service stops.
func (r *runner) shutdown(wasConnected bool) {
	st, ok := r.e.updateStatus(r.host.ID, func(st *HostStatus) { st.Connected = false })
	if !ok || !wasConnected {
		return
	}
	r.e.metrics.connected.WithLabelValues(r.host.ID).Set(0)
	r.log.Info("host disconnected", "reason", "shutdown")
	r.persist(context.Background(), st)
}

// persist writes the host's status row. It is best effort: the in-memory
// status (HTTP API) is authoritative for this process, and a store error
// here is logged, not fatal.
func (r *runner) persist(ctx context.Context, st HostStatus) {
	err := r.e.write(ctx, func(tx *store.Tx) error {
		if err := r.e.checkHost(tx, r.host); err != nil {
			return err
		}
		return tx.PutHostStatus(storeStatus(st))
	})
	if err != nil && !skippable(err) {
		r.log.Error("cannot record host status", "error", err)
	}
}

// backoff is exponential with "equal jitter": half the delay is fixed, half
// random, so hosts that failed together do not retry in lockstep yet no
// retry comes sooner than half the nominal delay.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.min
	case b.cur < b.max:
		b.cur = min(b.cur*2, b.max)
	}
	half := b.cur / 2
	return half + rand.N(b.cur-half+1)
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits d or until ctx ends; it reports whether the full d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// dur renders a duration for logs as text ("1.25s"), the same in text and
// JSON logs (hclog would write JSON durations as integer nanoseconds).
func dur(d time.Duration) string {
	if d < 10*time.Millisecond {
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
