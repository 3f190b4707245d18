package hypervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// liveAndConfig changes the running domain and its persistent definition
// together, so the next boot keeps what was changed live.
const liveAndConfig = uint32(libvirt.DomainAffectLive | libvirt.DomainAffectConfig)

// detachPoll is how often DetachDevice looks whether QEMU let go of the
// device: detach is asynchronous (the guest must release it first).
const detachPoll = 250 * time.Millisecond

// SetMemoryLive sets the balloon target of the running domain and the
// definition's current memory to kib (at most the domain's maximum).
func (c *Conn) SetMemoryLive(ctx context.Context, d Domain, kib uint64) error {
	return c.call(ctx, fmt.Sprintf("set memory of running domain %q to %d KiB", d.label(), kib), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			err = l.DomainSetMemoryFlags(dom, kib, liveAndConfig)
		}
		return err
	})
}

// SetVcpusLive plugs or unplugs vCPUs of the running domain and its
// definition, up to the definition's maximum (<vcpu>'s value).
func (c *Conn) SetVcpusLive(ctx context.Context, d Domain, n uint) error {
	return c.call(ctx, fmt.Sprintf("set vCPUs of running domain %q to %d", d.label(), n), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			err = l.DomainSetVcpusFlags(dom, uint32(n), liveAndConfig)
		}
		return err
	})
}

// OnlineVcpus asks the guest agent to bring n vCPUs online: a guest
// without udev (the tiny test guest) leaves hot-plugged vCPUs offline.
func (c *Conn) OnlineVcpus(ctx context.Context, d Domain, n uint) error {
	return c.call(ctx, fmt.Sprintf("bring %d vCPUs of domain %q online through the guest agent", n, d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			err = l.DomainSetVcpusFlags(dom, uint32(n), uint32(libvirt.DomainVCPUGuest))
		}
		return err
	})
}

// Resume continues a paused domain.
func (c *Conn) Resume(ctx context.Context, d Domain) error {
	return c.call(ctx, fmt.Sprintf("resume domain %q", d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			err = l.DomainResume(dom)
		}
		return err
	})
}

// Wakeup wakes a pmsuspended (S3) domain.
func (c *Conn) Wakeup(ctx context.Context, d Domain) error {
	return c.call(ctx, fmt.Sprintf("wake up domain %q", d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			err = l.DomainPmWakeup(dom, 0)
		}
		return err
	})
}

// StateReason is the domain's state and its reason (virDomainGetState).
func (c *Conn) StateReason(ctx context.Context, d Domain) (state, reason int, err error) {
	var s, r int32
	err = c.callRead(ctx, fmt.Sprintf("read state of domain %q", d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			s, r, err = l.DomainGetState(dom, 0)
		}
		return err
	})
	return int(s), int(r), err
}

// AttachDevice plugs a device (a <disk> or <interface> element) into the
// running domain and adds it to the definition.
func (c *Conn) AttachDevice(ctx context.Context, d Domain, deviceXML string) error {
	return c.call(ctx, fmt.Sprintf("attach a device to running domain %q", d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			err = l.DomainAttachDeviceFlags(dom, deviceXML, liveAndConfig)
		}
		return err
	})
}

// DetachDevice unplugs a device from the running domain (and the
// definition, when it still has it) and waits, up to wait, until the live
// definition no longer lists it: QEMU removes it only once the guest has
// released it. gone tells whether it went; a guest that holds on to it
// keeps it until the next boot, without the definition.
func (c *Conn) DetachDevice(ctx context.Context, d Domain, deviceXML string, inConfig bool, wait time.Duration, present func(*libvirtxml.Domain) bool) (gone bool, err error) {
	op := fmt.Sprintf("detach a device from running domain %q", d.label())
	flags := uint32(libvirt.DomainAffectLive)
	if inConfig {
		flags = liveAndConfig
	}
	err = c.call(ctx, op, func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			err = l.DomainDetachDeviceFlags(dom, deviceXML, flags)
		}
		return err
	})
	if err != nil {
		return false, err
	}
	deadline := time.Now().Add(wait)
	for {
		doc, err := c.DomainXML(ctx, d, false)
		if err != nil {
			return false, err
		}
		var x libvirtxml.Domain
		if err := x.Unmarshal(doc); err != nil {
			return false, c.wrap(op, err)
		}
		if !present(&x) {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, c.wrap(op, ctx.Err())
		case <-time.After(detachPoll):
		}
	}
}
