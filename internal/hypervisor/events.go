package hypervisor

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// Event is a domain lifecycle event.
type Event struct {
	Name string
	UUID string
	// Type is defined, undefined, started, suspended, resumed, stopped,
	// shutdown, pmsuspended or crashed.
	Type string
	// Detail is libvirt's per-type detail (virDomainEvent*DetailType), e.g.
	// for defined: 0 added, 1 updated.
	Detail int
	// Time is when the event was received: libvirt's lifecycle events
	// carry no timestamp.
	Time time.Time
}

var eventTypes = []string{"defined", "undefined", "started", "suspended", "resumed",
	"stopped", "shutdown", "pmsuspended", "crashed"}

func eventType(t int32) string {
	if t >= 0 && int(t) < len(eventTypes) {
		return eventTypes[t]
	}
	return "unknown(" + strconv.Itoa(int(t)) + ")"
}

func toEvent(m libvirt.DomainEventLifecycleMsg) Event {
	return Event{Name: m.Dom.Name, UUID: formatUUID(m.Dom.UUID), Type: eventType(m.Event),
		Detail: int(m.Detail), Time: time.Now()}
}

// LifecycleEvents subscribes to lifecycle events of every domain on the
// host. The channel closes when ctx ends or the connection drops; the
// caller then subscribes again (which re-dials) and should resync, because
// events sent meanwhile are lost. A slow reader delays nobody: each
// subscriber has its own unbounded queue.
//
// libvirtd accepts one lifecycle registration per connection (a second
// fails with "event callback already tracked"; libvirt's C client
// multiplexes, go-libvirt does not), so the connection registers once, on
// first use, for its whole life, and fans events out to every subscriber.
func (c *Conn) LifecycleEvents(ctx context.Context) (<-chan Event, error) {
	const op = "subscribe to lifecycle events"
	cl, err := c.s.client(ctx)
	if err != nil {
		return nil, c.wrap(op, err)
	}
	if err := c.startHub(cl); err != nil {
		return nil, c.wrap(op, err)
	}
	sub := &subscriber{ctx: ctx, in: make(chan Event), out: make(chan Event), gone: make(chan struct{})}
	if !cl.hub.add(sub) {
		return nil, c.wrap(op, fmt.Errorf("%w while subscribing; subscribe again", ErrConnectionLost))
	}
	go sub.run(&cl.hub)
	return sub.out, nil
}

// startHub registers for lifecycle events on cl once. The registration
// is not tied to the caller's ctx: abandoning it midway would leave
// go-libvirt's relay goroutine blocked forever on an unread channel.
func (c *Conn) startHub(cl *client) error {
	h := &cl.hub
	h.regMu.Lock()
	defer h.regMu.Unlock()
	if h.registered() {
		return nil
	}
	var src <-chan libvirt.DomainEventLifecycleMsg
	err := c.s.run(context.Background(), cl, nil, func(l *libvirt.Libvirt) (err error) {
		src, err = l.LifecycleEvents(context.Background())
		return err
	})
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.started = true
	h.mu.Unlock()
	go h.pump(src)
	return nil
}

// eventHub fans one connection's lifecycle events out to subscribers.
type eventHub struct {
	regMu sync.Mutex // serializes the registration

	mu      sync.Mutex
	started bool
	ended   bool
	subs    map[*subscriber]struct{}
}

func (h *eventHub) registered() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.started
}

func (h *eventHub) add(s *subscriber) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return false
	}
	if h.subs == nil {
		h.subs = map[*subscriber]struct{}{}
	}
	h.subs[s] = struct{}{}
	return true
}

func (h *eventHub) remove(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
}

func (h *eventHub) snapshot() []*subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*subscriber, 0, len(h.subs))
	for s := range h.subs {
		out = append(out, s)
	}
	return out
}

// pump relays until go-libvirt closes src, which it does when the
// connection ends; then every subscriber's input is closed.
func (h *eventHub) pump(src <-chan libvirt.DomainEventLifecycleMsg) {
	for m := range src {
		ev := toEvent(m)
		for _, s := range h.snapshot() {
			s.deliver(ev)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = true
	for s := range h.subs {
		close(s.in) // pump is the only sender, and it is done
	}
	h.subs = nil
}

// subscriber queues events between the hub and one reader.
type subscriber struct {
	ctx  context.Context
	in   chan Event    // from the hub; closed when the connection ends
	out  chan Event    // to the reader
	gone chan struct{} // closed when run returns, so the hub never blocks on it
}

func (s *subscriber) deliver(ev Event) {
	select {
	case s.in <- ev:
	case <-s.gone:
	}
}

// run queues without bound so that the hub never waits on a slow reader,
// and closes out after ctx ends, or after the connection ended and the
// queue has been delivered.
func (s *subscriber) run(h *eventHub) {
	defer close(s.out)
	defer close(s.gone)
	defer h.remove(s)
	var queue []Event
	in := s.in
	for in != nil || len(queue) > 0 {
		var out chan<- Event
		var head Event
		if len(queue) > 0 {
			out, head = s.out, queue[0]
		}
		select {
		case ev, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			queue = append(queue, ev)
		case out <- head:
			queue = queue[1:]
		case <-s.ctx.Done():
			return
		}
	}
}
