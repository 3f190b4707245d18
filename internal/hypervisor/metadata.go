package hypervisor

import (
	"context"
	"fmt"

	"github.com/digitalocean/go-libvirt"
)

// SetMetadata sets (or, with an empty element, removes) the domain's
// persistent metadata element of namespace uri, written with prefix key.
// Elements of other namespaces stay as they are.
func (c *Conn) SetMetadata(ctx context.Context, d Domain, uri, key, element string) error {
	return c.call(ctx, fmt.Sprintf("set metadata %s of domain %q", uri, d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err != nil {
			return err
		}
		var doc libvirt.OptString
		if element != "" {
			doc = libvirt.OptString{element}
		}
		return l.DomainSetMetadata(dom, int32(libvirt.DomainMetadataElement), doc, libvirt.OptString{key}, libvirt.OptString{uri}, libvirt.DomainAffectConfig)
	})
}

// Metadata is the domain's persistent metadata element of namespace uri;
// "" when it has none.
func (c *Conn) Metadata(ctx context.Context, d Domain, uri string) (string, error) {
	var out string
	err := c.callRead(ctx, fmt.Sprintf("read metadata %s of domain %q", uri, d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			out, err = l.DomainGetMetadata(dom, int32(libvirt.DomainMetadataElement), libvirt.OptString{uri}, libvirt.DomainAffectConfig)
		}
		if libvirtCode(err) == libvirt.ErrNoDomainMetadata {
			out, err = "", nil
		}
		return err
	})
	return out, err
}
