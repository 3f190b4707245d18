package hypervisor

import (
	"context"
	"fmt"
	"strings"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
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

// The create mark: a metadata element the provider puts into a domain's
// definition when it defines the domain for a create. A create that finds
// a marked domain of its name knows a create of this provider made it and
// did not finish (the CLI was killed, or libvirtd lost, before the domain
// reached a state file), so it may take the domain over instead of asking
// for an import. The mark stays until the resource is first read from
// state: the CLI persists state only now and then during an apply, so a
// mark cleared at the end of the create would leave a kill in between
// with an unmarked domain no state holds.
const (
	CreateMarkURI = "https://github.com/virtumancer/terraform-provider-virtumancer/create"
	createMarkKey = "virtumancer-create"
	createMark    = `<` + createMarkKey + `:create xmlns:` + createMarkKey + `="` + CreateMarkURI + `"/>`
)

// WithCreateMark is the domain XML domXML with the create mark in its
// metadata (other metadata kept).
func WithCreateMark(domXML string) (string, error) {
	var d libvirtxml.Domain
	if err := d.Unmarshal(domXML); err != nil {
		return "", fmt.Errorf("mark domain XML: %w", err)
	}
	if d.Metadata == nil {
		d.Metadata = &libvirtxml.DomainMetadata{}
	}
	if !strings.Contains(d.Metadata.XML, `"`+CreateMarkURI+`"`) {
		d.Metadata.XML += createMark
	}
	out, err := d.Marshal()
	if err != nil {
		return "", fmt.Errorf("mark domain XML: %w", err)
	}
	return out, nil
}

// HasCreateMark tells whether a domain's XML (as libvirt returns it)
// carries the create mark: readers that have the XML anyway need no call.
func HasCreateMark(domXML string) bool {
	return strings.Contains(domXML, `"`+CreateMarkURI+`"`)
}

// CreateMarked tells whether the domain's persistent definition carries
// the create mark.
func (c *Conn) CreateMarked(ctx context.Context, d Domain) (bool, error) {
	doc, err := c.Metadata(ctx, d, CreateMarkURI)
	return doc != "", err
}

// ClearCreateMark removes the create mark from the persistent definition.
func (c *Conn) ClearCreateMark(ctx context.Context, d Domain) error {
	return c.SetMetadata(ctx, d, CreateMarkURI, createMarkKey, "")
}
