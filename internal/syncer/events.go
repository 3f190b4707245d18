package syncer

import (
	"sync"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
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
