package hypervisor

import (
	"context"
	"fmt"

	"github.com/digitalocean/go-libvirt"
)

// AttachLive plugs a device into the running domain only (its persistent
// definition is the caller's to change, with the rest of the definition).
func (c *Conn) AttachLive(ctx context.Context, d Domain, deviceXML string) error {
	return c.call(ctx, fmt.Sprintf("attach a device to running domain %q", d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			err = l.DomainAttachDeviceFlags(dom, deviceXML, uint32(libvirt.DomainAffectLive))
		}
		return err
	})
}
