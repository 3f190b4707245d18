package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// Conn is a handle on the pool's shared connection for one host. Every
// method takes a context, is bounded by Options.CallTimeout, re-dials first
// if the connection has dropped, and returns an *OpError naming the host id,
// the redacted URI and the operation. Handles are cheap; keep or discard
// them freely.
type Conn struct {
	hostID string
	s      *shared
}

// HostID is the host id this handle was obtained for.
func (c *Conn) HostID() string { return c.hostID }

// Redacted is the host URI without credentials.
func (c *Conn) Redacted() string { return c.s.target.Redacted }

// Target is the parsed host URI.
func (c *Conn) Target() Target { return *c.s.target }

func (c *Conn) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{HostID: c.hostID, URI: c.s.target.Redacted, Op: op, Err: err}
}

// call runs fn on the live connection under CallTimeout. fn may issue
// several RPCs; the timeout bounds them together. Values fn assigns to
// captured variables may only be read when call returned nil: after a
// timeout fn is still running.
func (c *Conn) call(ctx context.Context, op string, fn func(*libvirt.Libvirt) error) error {
	return c.callWatched(ctx, op, nil, fn)
}

// callRead is call for requests that change nothing: if the connection
// turns out to have dropped under the request, it is sent once more on a
// fresh connection, so that a daemon restart costs readers nothing.
func (c *Conn) callRead(ctx context.Context, op string, fn func(*libvirt.Libvirt) error) error {
	err := c.call(ctx, op, fn)
	if errors.Is(err, ErrConnectionLost) && ctx.Err() == nil {
		err = c.call(ctx, op, fn)
	}
	return err
}

// callWatched is call whose timeout restarts whenever *progress changes,
// for streams that may legitimately run longer than CallTimeout.
func (c *Conn) callWatched(ctx context.Context, op string, progress *atomic.Int64, fn func(*libvirt.Libvirt) error) error {
	cl, err := c.s.client(ctx)
	if err != nil {
		return c.wrap(op, err)
	}
	err = c.s.run(ctx, cl, progress, fn)
	if errors.Is(err, ErrTimeout) {
		c.s.pool.log("libvirt call timed out; connection closed", "host", c.hostID, "uri", c.Redacted(), "op", op)
	}
	return c.wrap(op, err)
}

func (s *shared) run(ctx context.Context, cl *client, progress *atomic.Int64, fn func(*libvirt.Libvirt) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- fn(cl.l) }()
	timeout := s.pool.opts.CallTimeout
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	last := int64(-1)
	for {
		select {
		case err := <-done:
			return s.classify(cl, err)
		case <-ctx.Done():
			// The caller gave up, not the daemon: leave the connection to
			// others; the RPC completes in the background.
			return ctx.Err()
		case <-timer.C:
			if progress != nil && progress.Load() != last {
				last = progress.Load()
				timer.Reset(timeout)
				continue
			}
			cl.kill()
			return fmt.Errorf("%w: libvirtd did not answer within %s; the connection was closed and is re-dialled on next use",
				ErrTimeout, timeout)
		}
	}
}

// classify maps go-libvirt errors onto this package's sentinels.
func (s *shared) classify(cl *client, err error) error {
	if err == nil {
		return nil
	}
	var ce *codedError
	if errors.As(err, &ce) { // classified already, inside fn
		return err
	}
	var le libvirt.Error // a value type in go-libvirt, not a pointer
	if errors.As(err, &le) {
		if kind := errorKinds[libvirt.ErrorNumber(le.Code)]; kind != nil {
			return &codedError{kind: kind, err: err}
		}
		return err
	}
	if connectionLost(err) {
		cl.kill()
		return fmt.Errorf("%w (%w); it is re-dialled on next use", ErrConnectionLost, err)
	}
	return err
}

func connectionLost(err error) bool {
	var ne net.Error
	return errors.Is(err, libvirt.ErrInterrupted) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.As(err, &ne)
}

// errorKinds are the libvirt error numbers callers branch on.
var errorKinds = map[libvirt.ErrorNumber]error{
	libvirt.ErrNoDomain:        ErrDomainNotFound,
	libvirt.ErrNoStorageVol:    ErrVolumeNotFound,
	libvirt.ErrNoStoragePool:   ErrPoolNotFound,
	libvirt.ErrStorageVolExist: ErrVolumeExists,
	libvirt.ErrNoSupport:       ErrUnsupported,
}

// codedError keeps err's message and chain (libvirt.Error included) and
// also matches one of our sentinels.
type codedError struct {
	kind error
	err  error
}

func (e *codedError) Error() string   { return e.err.Error() }
func (e *codedError) Unwrap() []error { return []error{e.kind, e.err} }

// libvirtCode is the libvirt error number in err's chain, or -1.
func libvirtCode(err error) libvirt.ErrorNumber {
	var le libvirt.Error
	if errors.As(err, &le) {
		return libvirt.ErrorNumber(le.Code)
	}
	return -1
}

// refusedFlags reports which flag bits a driver refused: libvirt's
// virCheckFlags fails with VIR_ERR_INVALID_ARG "unsupported flags (0x4) in
// function ...", naming exactly the refused bits. A driver lacking the
// whole API (VIR_ERR_NO_SUPPORT) refuses all of them.
func refusedFlags(err error, flags uint32) (uint32, bool) {
	var le libvirt.Error
	if !errors.As(err, &le) {
		return 0, false
	}
	switch libvirt.ErrorNumber(le.Code) {
	case libvirt.ErrNoSupport:
		return flags, true
	case libvirt.ErrInvalidArg:
		_, rest, ok := strings.Cut(le.Message, "unsupported flags (0x")
		if !ok {
			return 0, false
		}
		hex, _, _ := strings.Cut(rest, ")")
		bits, perr := strconv.ParseUint(hex, 16, 32)
		if perr != nil || uint32(bits)&flags == 0 {
			return flags, true
		}
		return uint32(bits) & flags, true
	}
	return 0, false
}
