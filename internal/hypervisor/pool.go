package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// Pool keeps one shared libvirt connection per URI for the whole process.
// It is safe for concurrent use.
type Pool struct {
	opts Options

	mu     sync.Mutex
	conns  map[string]*shared // by raw URI
	closed bool

	dials atomic.Int64 // successful connects, for tests and logs
}

// NewPool returns an empty pool; connections are dialled on first use.
func NewPool(opts Options) *Pool {
	return &Pool{opts: opts.withDefaults(), conns: map[string]*shared{}}
}

// Get returns a handle on the shared connection for uri, dialling it if it
// is not connected (first use, or it dropped). Concurrent Gets for one URI
// share one dial. A dial is not tied to ctx: if ctx ends first the dial
// carries on (bounded by DialTimeout) and its connection serves later calls.
func (p *Pool) Get(ctx context.Context, hostID, uri string) (*Conn, error) {
	s, err := p.shared(hostID, uri)
	if err != nil {
		return nil, err
	}
	c := &Conn{hostID: hostID, s: s}
	if _, err := s.client(ctx); err != nil {
		return nil, c.wrap("connect", err)
	}
	return c, nil
}

func (p *Pool) shared(hostID, uri string) (*shared, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("host %q (%s): %w", hostID, Redact(uri), ErrPoolClosed)
	}
	if s, ok := p.conns[uri]; ok {
		return s, nil
	}
	t, err := ParseURI(hostID, uri)
	if err != nil {
		return nil, err
	}
	s := &shared{pool: p, target: t}
	p.conns[uri] = s
	return s, nil
}

// Close disconnects every connection. Handles obtained from the pool fail
// with ErrPoolClosed afterwards.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()

	var errs []error
	for _, s := range conns {
		err := s.close()
		if errors.Is(err, ErrTimeout) { // a hung daemon: the socket is closed anyway
			p.log("libvirt disconnect not acknowledged", "host", s.target.HostID, "uri", s.target.Redacted)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("host %q (%s): close: %w", s.target.HostID, s.target.Redacted, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Pool) log(msg string, kv ...any) {
	if p.opts.Logger != nil {
		p.opts.Logger(msg, kv...)
	}
}

// shared is the connection state of one URI.
type shared struct {
	pool   *Pool
	target *Target

	mu       sync.Mutex
	cur      *client
	inflight *dialAttempt
	closed   bool

	memo  memo
	usage usageMemo // PlanVolumeUsers' index
}

// dialAttempt is one dial that every caller arriving meanwhile waits for.
type dialAttempt struct {
	done chan struct{}
	c    *client
	err  error
}

// client returns the live connection, dialling a new one if needed.
func (s *shared) client(ctx context.Context) (*client, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrPoolClosed
	}
	if s.cur != nil && s.cur.alive() {
		c := s.cur
		s.mu.Unlock()
		return c, nil
	}
	a := s.inflight
	if a == nil {
		a = &dialAttempt{done: make(chan struct{})}
		s.inflight = a
		go s.dial(a)
	}
	s.mu.Unlock()
	select {
	case <-a.done:
		return a.c, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *shared) dial(a *dialAttempt) {
	s.mu.Lock()
	redial := s.cur != nil
	s.mu.Unlock()
	c, err := s.pool.connect(s.target)
	s.mu.Lock()
	closed := s.closed
	if err == nil && !closed {
		s.cur = c
	}
	s.inflight = nil
	s.mu.Unlock()
	if err == nil && closed {
		_ = c.close(s.pool.opts.CallTimeout)
		c, err = nil, ErrPoolClosed
	}
	if err == nil {
		s.pool.log("libvirt connected", "host", s.target.HostID, "uri", s.target.Redacted, "redial", redial)
	} else {
		s.pool.log("libvirt connect failed", "host", s.target.HostID, "uri", s.target.Redacted, "error", err.Error())
	}
	a.c, a.err = c, err
	close(a.done)
}

func (s *shared) close() error {
	s.usage.drop()
	s.mu.Lock()
	s.closed = true
	c := s.cur
	s.cur = nil
	s.mu.Unlock()
	if c == nil || !c.alive() {
		return nil
	}
	return c.close(s.pool.opts.CallTimeout)
}

// client is one dialled go-libvirt connection.
type client struct {
	l      *libvirt.Libvirt
	d      *trackingDialer
	broken atomic.Bool
	hub    eventHub
}

// alive is false as soon as we gave up on the connection, before
// go-libvirt's reader goroutine has noticed the closed socket.
func (c *client) alive() bool { return !c.broken.Load() && c.l.IsConnected() }

// kill closes the socket under go-libvirt: every RPC waiting on it returns
// ErrInterrupted and Disconnected() closes. Disconnect() cannot be used for
// this because it first sends a ConnectClose RPC and waits for its reply,
// forever if the daemon hangs.
func (c *client) kill() {
	c.broken.Store(true)
	c.d.kill()
}

// close says goodbye politely, falling back to kill after timeout.
func (c *client) close(timeout time.Duration) error {
	c.broken.Store(true)
	done := make(chan error, 1)
	go func() { done <- c.l.Disconnect() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		c.kill()
		return fmt.Errorf("%w: libvirtd did not acknowledge the disconnect within %s", ErrTimeout, timeout)
	}
}
