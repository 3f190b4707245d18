package syncer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// eventQueue collects the names of domains with pending events. Events are
// hints, not data: each name is re-read from libvirt when applied, so
// several events for one domain collapse into one read, order does not
// matter, and a burst of events becomes one batched store write instead
// of one transaction per event.
type eventQueue struct {
	mu      sync.Mutex
	pending map[string]struct{}
	order   []string // arrival order of pending names
	closed  bool
	ready   chan struct{} // one token when pending or closed changed
}

func newEventQueue() *eventQueue {
	return &eventQueue{pending: map[string]struct{}{}, ready: make(chan struct{}, 1)}
}

// pump drains ch into the queue until it closes, so the libvirt stream
// never waits on us while we sync or write.
func (q *eventQueue) pump(ch <-chan hypervisor.Event, counted func(typ string)) {
	for ev := range ch {
		counted(ev.Type)
		q.mu.Lock()
		if _, ok := q.pending[ev.Name]; !ok && ev.Name != "" {
			q.pending[ev.Name] = struct{}{}
			q.order = append(q.order, ev.Name)
		}
		q.mu.Unlock()
		q.signal()
	}
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *eventQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take returns the pending names and whether the stream has ended.
func (q *eventQueue) take() (names []string, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	names, q.order = q.order, nil
	clear(q.pending)
	return names, q.closed
}

// eventOutcome is what one event batch changed, applied to memory after
// the commit.
type eventOutcome struct {
	present map[string]bool // name -> drifted
	gone    []string
	changed [][2]string // {name, "inserted"|"revived"|"soft-deleted"}, logged at info
}

// applyEvents re-reads the named domains and records them in one write:
// a present domain gets a row if it has none and a fresh status; a gone
// one has its row soft-deleted.
func (r *runner) applyEvents(ctx context.Context, c Conn, names []string) error {
	obs, err := r.e.fetchNames(ctx, c, names)
	if err != nil {
		return &phaseError{phase: "read domains", err: err}
	}
	st, _ := r.e.updateStatus(r.host.ID, func(*HostStatus) {})
	hs := storeStatus(st)
	hs.VMCount = r.countAfter(obs)
	var out eventOutcome
	err = r.e.write(ctx, func(tx *store.Tx) error {
		out = eventOutcome{present: map[string]bool{}} // fn may be re-run
		if err := checkHost(tx, r.host); err != nil {
			return err
		}
		for _, o := range obs {
			if err := out.record(tx, r.host.ID, o); err != nil {
				return err
			}
		}
		return tx.PutHostStatus(hs)
	})
	if err != nil {
		return &phaseError{phase: "write", store: true, err: err}
	}
	r.commitEvents(obs, out)
	return nil
}

func (out *eventOutcome) record(tx *store.Tx, hostID string, o observed) error {
	switch {
	case o.Gone:
		out.gone = append(out.gone, o.Name)
		err := tx.SoftDeleteVM(hostID, o.Name)
		if errors.Is(err, store.ErrNotFound) {
			return tx.DeleteVMStatus(hostID, o.Name) // no live row: only a status to drop
		}
		if err == nil {
			out.changed = append(out.changed, [2]string{o.Name, "soft-deleted"})
		}
		return err
	case o.unreadable():
		return nil // leave row and status as they are
	}
	inserted, revived, vm, err := tx.InsertVMIfAbsent(hostID, o.Name, o.Info)
	if err != nil {
		return err
	}
	var drift = driftOf(vm, o.Info)
	switch {
	case inserted:
		drift = nil // its config was recorded from this very snapshot
		out.changed = append(out.changed, [2]string{o.Name, "inserted"})
	case revived:
		drift = nil
		out.changed = append(out.changed, [2]string{o.Name, "revived"})
	}
	out.present[o.Name] = len(drift) > 0
	return tx.PutVMStatus(vmStatus(hostID, o, drift))
}

// countAfter is the host's domain count once obs is applied.
func (r *runner) countAfter(obs []observed) int {
	n := len(r.live)
	for _, o := range obs {
		_, had := r.live[o.Name]
		switch {
		case o.Gone && had:
			n--
		case !o.Gone && !had:
			n++
		}
	}
	return n
}

func (r *runner) commitEvents(obs []observed, out eventOutcome) {
	for _, n := range out.gone {
		delete(r.live, n)
	}
	for n, d := range out.present {
		r.live[n] = d
	}
	for _, o := range obs {
		if o.Err != nil {
			if _, ok := r.live[o.Name]; !ok {
				r.live[o.Name] = false // it exists: counted, drift unknown
			}
			r.log.Warn("cannot read domain; its row and status are left as they were", "vm", o.Name, "error", o.Err)
		}
	}
	r.publishCounts()
	for _, c := range out.changed {
		r.log.Info("vm "+c[1], "vm", c[0])
	}
	r.log.Debug("events applied", "vms", len(obs), "duration", dur(time.Since(earliest(obs))))
	if r.e.OnCommit != nil {
		r.e.OnCommit(r.host.ID, names(obs))
	}
}

func earliest(obs []observed) time.Time {
	t := time.Now()
	for _, o := range obs {
		if !o.At.IsZero() && o.At.Before(t) {
			t = o.At
		}
	}
	return t
}
