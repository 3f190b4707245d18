package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// shutdownPoll is how often Shutdown checks whether the guest has gone down.
const shutdownPoll = 250 * time.Millisecond

// shutdownRepeat is how often the shutdown request is sent again while the
// guest is still up: a guest that is still booting (no ACPI daemon yet, no
// agent) drops the first power-button press, as real ones do.
const shutdownRepeat = 5 * time.Second

// Start boots a defined domain and returns it with its new id. Starting a
// running domain is not an error.
func (c *Conn) Start(ctx context.Context, d Domain) (Domain, error) {
	var out libvirt.Domain
	err := c.call(ctx, fmt.Sprintf("start domain %q", d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err != nil {
			return err
		}
		started, err := l.DomainCreateWithFlags(dom, 0)
		switch {
		case err != nil && !isActive(l, dom, err):
			return err
		case err == nil && started.ID > 0:
			out = started // the started domain, with its id: no second call
			return nil
		}
		// Already running, or a daemon that did not say the id: look it up.
		out, err = l.DomainLookupByUUID(dom.UUID)
		return err
	})
	if err != nil {
		return Domain{}, err
	}
	return fromRemote(out), nil
}

// isActive tells whether a failed DomainCreate failed only because the
// domain already runs. The code cannot tell: qemu says
// VIR_ERR_OPERATION_INVALID, the test driver VIR_ERR_INTERNAL_ERROR.
func isActive(l *libvirt.Libvirt, dom libvirt.Domain, err error) bool {
	if libvirtCode(err) < 0 {
		return false
	}
	active, aerr := l.DomainIsActive(dom)
	return aerr == nil && active == 1
}

// Shutdown asks the guest to power off (ACPI, or the guest agent when the
// domain has one), waits up to grace for it to stop, then destroys it.
// forced reports whether it had to. A domain that is already off is fine;
// grace <= 0 destroys at once.
func (c *Conn) Shutdown(ctx context.Context, d Domain, grace time.Duration) (forced bool, err error) {
	op := fmt.Sprintf("shut down domain %q", d.label())
	running, err := c.running(ctx, op, d)
	if err != nil || !running {
		return false, err
	}
	if grace > 0 {
		off, err := c.gracefulShutdown(ctx, op, d, grace)
		if err != nil || off {
			return false, err
		}
	}
	if err := c.destroy(ctx, op+": force off after "+grace.String(), d); err != nil {
		return true, err
	}
	return true, nil
}

// gracefulShutdown requests the shutdown, again every shutdownRepeat, and
// polls until the domain is off or grace ends. A request the driver refuses is logged and left to the
// forced stop that follows.
func (c *Conn) gracefulShutdown(ctx context.Context, op string, d Domain, grace time.Duration) (bool, error) {
	deadline := time.Now().Add(grace)
	for {
		refused, err := c.requestShutdown(ctx, op, d)
		if err != nil || refused {
			return false, err
		}
		next := time.Now().Add(shutdownRepeat)
		if next.After(deadline) {
			next = deadline
		}
		off, err := c.waitOff(ctx, op, d, next)
		if err != nil || off || !time.Now().Before(deadline) {
			return off, err
		}
	}
}

// requestShutdown sends one shutdown request. refused means the driver will
// not do it (logged; the forced stop follows).
func (c *Conn) requestShutdown(ctx context.Context, op string, d Domain) (refused bool, err error) {
	err = c.call(ctx, op, func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			err = l.DomainShutdown(dom)
		}
		return err
	})
	var le libvirt.Error
	switch {
	case err == nil:
	case libvirtCode(err) == libvirt.ErrOperationInvalid: // stopped meanwhile
	case errors.As(err, &le) && !IsNotFound(err):
		c.s.pool.log("graceful shutdown refused; forcing", "host", c.hostID, "uri", c.Redacted(),
			"domain", d.label(), "error", le.Message)
		return true, nil
	default:
		return false, err
	}
	return false, nil
}

func (c *Conn) waitOff(ctx context.Context, op string, d Domain, deadline time.Time) (bool, error) {
	tick := time.NewTicker(shutdownPoll)
	defer tick.Stop()
	for {
		running, err := c.running(ctx, op, d)
		if IsNotFound(err) {
			return true, nil // a transient domain vanishes when it stops
		}
		if err != nil {
			return false, err
		}
		if !running {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, c.wrap(op, ctx.Err())
		case <-tick.C:
		}
	}
}

func (c *Conn) running(ctx context.Context, op string, d Domain) (bool, error) {
	var active int32
	err := c.callRead(ctx, op, func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			active, err = l.DomainIsActive(dom)
		}
		return err
	})
	return err == nil && active == 1, err
}

// Destroy stops the domain at once, like pulling the plug. A domain that is
// not running is fine.
func (c *Conn) Destroy(ctx context.Context, d Domain) error {
	return c.destroy(ctx, fmt.Sprintf("destroy domain %q", d.label()), d)
}

func (c *Conn) destroy(ctx context.Context, op string, d Domain) error {
	return c.call(ctx, op, func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			err = l.DomainDestroy(dom)
		}
		if libvirtCode(err) == libvirt.ErrOperationInvalid { // "domain is not running"
			return nil
		}
		return err
	})
}

// undefineFlags removes what would otherwise keep the definition around
// or leave files behind.
const undefineFlags = libvirt.DomainUndefineManagedSave | libvirt.DomainUndefineSnapshotsMetadata |
	libvirt.DomainUndefineCheckpointsMetadata | libvirt.DomainUndefineNvram

// Undefine removes the persistent definition (a running domain keeps
// running as a transient one). Drivers refuse flags they do not know (the
// test driver refuses NVRAM): the refused ones are dropped one retry at a
// time, as libvirt names them, ending with plain DomainUndefine. The flags
// are chosen by trying, never by version number.
func (c *Conn) Undefine(ctx context.Context, d Domain) error {
	return c.call(ctx, fmt.Sprintf("undefine domain %q", d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err != nil {
			return err
		}
		for flags := undefineFlags; flags != 0; {
			err := l.DomainUndefineFlags(dom, flags)
			refused, ok := refusedFlags(err, uint32(flags))
			if !ok {
				return err
			}
			c.s.pool.log("undefine flags refused; retrying without them", "host", c.hostID,
				"uri", c.Redacted(), "refused", fmt.Sprintf("%#x", refused))
			flags &^= libvirt.DomainUndefineFlagsValues(refused)
		}
		return l.DomainUndefine(dom)
	})
}
