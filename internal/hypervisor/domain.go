package hypervisor

import (
	"context"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/digitalocean/go-libvirt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Domain identifies a libvirt domain.
type Domain struct {
	Name string
	UUID string // canonical 8-4-4-4-12, lower case
	// ID is the running domain's id, 0 when it is not running (libvirt
	// says -1; Virtumancer's VMInfo.ID uses 0).
	ID int
}

func (d Domain) label() string {
	if d.Name != "" {
		return d.Name
	}
	return d.UUID
}

func fromRemote(d libvirt.Domain) Domain {
	id := int(d.ID)
	if id < 0 {
		id = 0
	}
	return Domain{Name: d.Name, UUID: formatUUID(d.UUID), ID: id}
}

func formatUUID(u libvirt.UUID) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// parseUUID accepts the canonical form and the 32-digit form without dashes.
func parseUUID(s string) (libvirt.UUID, error) {
	var u libvirt.UUID
	canonical := len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-'
	h := s
	if canonical {
		h = strings.ReplaceAll(s, "-", "")
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(u) {
		return u, fmt.Errorf("invalid domain uuid %q: want 8-4-4-4-12 hex digits", s)
	}
	copy(u[:], b)
	return u, nil
}

// ref turns d into the handle RPCs take, without a round trip when the UUID
// is known: the daemon resolves domains by UUID.
func ref(l *libvirt.Libvirt, d Domain) (libvirt.Domain, error) {
	if d.UUID == "" {
		return l.DomainLookupByName(d.Name)
	}
	u, err := parseUUID(d.UUID)
	return libvirt.Domain{Name: d.Name, UUID: u, ID: -1}, err
}

// lookup fetches d afresh (current name and id).
func lookup(l *libvirt.Libvirt, d Domain) (libvirt.Domain, error) {
	if d.UUID == "" {
		return l.DomainLookupByName(d.Name)
	}
	u, err := parseUUID(d.UUID)
	if err != nil {
		return libvirt.Domain{}, err
	}
	return l.DomainLookupByUUID(u)
}

// LookupDomain finds a domain by name; a missing one is ErrDomainNotFound.
func (c *Conn) LookupDomain(ctx context.Context, name string) (Domain, error) {
	var dom libvirt.Domain
	err := c.callRead(ctx, fmt.Sprintf("look up domain %q", name), func(l *libvirt.Libvirt) (err error) {
		dom, err = l.DomainLookupByName(name)
		return err
	})
	if err != nil {
		return Domain{}, err
	}
	return fromRemote(dom), nil
}

// LookupDomainByUUID finds a domain by UUID; a missing one is ErrDomainNotFound.
func (c *Conn) LookupDomainByUUID(ctx context.Context, uuid string) (Domain, error) {
	var dom libvirt.Domain
	err := c.callRead(ctx, fmt.Sprintf("look up domain uuid %s", uuid), func(l *libvirt.Libvirt) (err error) {
		dom, err = lookup(l, Domain{UUID: uuid})
		return err
	})
	if err != nil {
		return Domain{}, err
	}
	return fromRemote(dom), nil
}

// ListDomains returns every domain, running or not, sorted by name.
func (c *Conn) ListDomains(ctx context.Context) ([]Domain, error) {
	var doms []libvirt.Domain
	err := c.callRead(ctx, "list domains", func(l *libvirt.Libvirt) (err error) {
		doms, _, err = l.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive|libvirt.ConnectListDomainsInactive)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Domain, len(doms))
	for i, d := range doms {
		out[i] = fromRemote(d)
	}
	slices.SortFunc(out, func(a, b Domain) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DomainXML returns the domain's XML; inactive selects the persistent
// definition (what the next boot uses) rather than the live one. Secure
// fields (passwords) are never requested.
func (c *Conn) DomainXML(ctx context.Context, d Domain, inactive bool) (string, error) {
	var flags libvirt.DomainXMLFlags
	if inactive {
		flags = libvirt.DomainXMLInactive
	}
	var out string
	err := c.callRead(ctx, fmt.Sprintf("read xml of domain %q", d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			out, err = l.DomainGetXMLDesc(dom, flags)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// Runtime reports what libvirt knows of the domain beyond its definition.
func (c *Conn) Runtime(ctx context.Context, d Domain) (vminfo.Runtime, error) {
	var rt vminfo.Runtime
	err := c.callRead(ctx, fmt.Sprintf("read runtime of domain %q", d.label()), func(l *libvirt.Libvirt) error {
		var err error
		rt, err = readRuntime(l, d)
		return err
	})
	if err != nil {
		return vminfo.Runtime{}, err
	}
	return rt, nil
}

func readRuntime(l *libvirt.Libvirt, d Domain) (vminfo.Runtime, error) {
	dom, err := lookup(l, d) // for the current id
	if err != nil {
		return vminfo.Runtime{}, err
	}
	return runtimeOf(l, dom)
}

// runtimeOf reads the runtime of dom, fresh from a lookup (its id is used).
// Its three calls go out together (go-libvirt multiplexes them on the
// connection): one round trip instead of three.
func runtimeOf(l *libvirt.Libvirt, dom libvirt.Domain) (vminfo.Runtime, error) {
	var (
		state               uint8
		cpuTime             uint64
		persistent, auto    int32
		reason              int32
		infoErr, pErr, aErr error
		wg                  sync.WaitGroup
	)
	wg.Add(3)
	go func() { defer wg.Done(); persistent, pErr = l.DomainIsPersistent(dom) }()
	go func() { defer wg.Done(); auto, aErr = l.DomainGetAutostart(dom) }()
	// The reason tells a crash from a shutdown; a daemon that cannot say
	// leaves it 0.
	go func() { defer wg.Done(); _, reason, _ = l.DomainGetState(dom, 0) }()
	state, _, _, _, cpuTime, infoErr = l.DomainGetInfo(dom)
	wg.Wait()
	if err := firstErr(infoErr, pErr, aErr); err != nil {
		return vminfo.Runtime{}, err
	}
	return vminfo.Runtime{
		ID: fromRemote(dom).ID, State: int(state), Reason: int(reason), CPUTime: cpuTime,
		Persistent: persistent == 1, Autostart: auto == 1,
	}, nil
}

// firstErr is the first non-nil error, so callers see the error a
// sequence of calls would have stopped at.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// DomainSnapshot is a domain as Snapshot read it.
type DomainSnapshot struct {
	Domain Domain // current name, UUID and id
	// InactiveXML is the persistent definition (what the next boot uses).
	InactiveXML string
	// LiveXML is the running domain's live definition; "" when the
	// domain is not active.
	LiveXML string
	Runtime vminfo.Runtime
}

// Snapshot reads everything a refresh compares in one bounded call: the
// domain (looked up by UUID when d has one, else by name), its persistent
// definition, its runtime and, when it is active, its live definition. It
// is what LookupDomain, DomainXML (inactive), Runtime and DomainXML (live)
// read, with one lookup instead of two and one call instead of four. A
// domain that does not exist is ErrDomainNotFound. Secure fields are never
// requested.
func (c *Conn) Snapshot(ctx context.Context, d Domain) (DomainSnapshot, error) {
	var snap DomainSnapshot
	err := c.callRead(ctx, "read domain "+strconv.Quote(d.label()), func(l *libvirt.Libvirt) error {
		dom, err := lookup(l, d)
		if err != nil {
			return err
		}
		snap = DomainSnapshot{Domain: fromRemote(dom)}
		// The reads need only the domain: sent together, they cost one
		// round trip after the lookup instead of five. The live definition
		// is asked when the lookup saw the domain active (it has an id).
		var xmlErr, rtErr, liveErr error
		var live string
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); snap.Runtime, rtErr = runtimeOf(l, dom) }()
		if snap.Domain.ID > 0 {
			wg.Add(1)
			go func() { defer wg.Done(); live, liveErr = l.DomainGetXMLDesc(dom, 0) }()
		}
		snap.InactiveXML, xmlErr = l.DomainGetXMLDesc(dom, libvirt.DomainXMLInactive)
		wg.Wait()
		switch err := firstErr(xmlErr, rtErr); {
		case err != nil:
			return err
		case !vminfo.Active(snap.Runtime.State):
			return nil // stopped since the lookup: no live definition to compare
		case snap.Domain.ID <= 0: // started since the lookup: ask now
			snap.LiveXML, err = l.DomainGetXMLDesc(dom, 0)
			return err
		}
		snap.LiveXML = live
		return liveErr
	})
	if err != nil {
		return DomainSnapshot{}, err
	}
	return snap, nil
}

// State returns the libvirt state number (vminfo.StateRunning...).
func (c *Conn) State(ctx context.Context, d Domain) (int, error) {
	var state int32
	err := c.callRead(ctx, fmt.Sprintf("read state of domain %q", d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			state, _, err = l.DomainGetState(dom, 0)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(state), nil
}

// DefineXML defines (or redefines, when the XML carries an existing UUID) a
// persistent domain. It asks libvirt to validate the XML against its schema
// and falls back to no validation on drivers that refuse the flag. A
// document that differs from one this connection already defined only in
// the domain's name and uuid is not validated again (see defineShape).
func (c *Conn) DefineXML(ctx context.Context, domainXML string) (Domain, error) {
	var dom libvirt.Domain
	shape := defineShape(domainXML)
	err := c.call(ctx, fmt.Sprintf("define domain %q", xmlName(domainXML)), func(l *libvirt.Libvirt) (err error) {
		if c.s.memo.wasValidated(l, shape) {
			dom, err = l.DomainDefineXMLFlags(domainXML, 0)
			return err
		}
		dom, err = l.DomainDefineXMLFlags(domainXML, libvirt.DomainDefineValidate)
		if _, refused := refusedFlags(err, uint32(libvirt.DomainDefineValidate)); refused {
			dom, err = l.DomainDefineXMLFlags(domainXML, 0)
		}
		if err == nil {
			c.s.memo.rememberValidated(l, shape)
		}
		return err
	})
	if err != nil {
		return Domain{}, err
	}
	return fromRemote(dom), nil
}

// xmlName extracts <name> for error messages; "" when the XML is unreadable.
func xmlName(doc string) string {
	var v struct {
		Name string `xml:"name"`
	}
	_ = xml.Unmarshal([]byte(doc), &v)
	return v.Name
}

// SetAutostart sets whether the domain starts with the daemon.
func (c *Conn) SetAutostart(ctx context.Context, d Domain, on bool) error {
	var v int32
	if on {
		v = 1
	}
	return c.call(ctx, fmt.Sprintf("set autostart=%t on domain %q", on, d.label()), func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			err = l.DomainSetAutostart(dom, v)
		}
		return err
	})
}

// InterfaceAddresses lists the IP addresses the domain's interfaces have
// according to source: lease (DHCP leases of libvirt networks), agent
// (qemu guest agent) or arp (the host's ARP table).
func (c *Conn) InterfaceAddresses(ctx context.Context, d Domain, source string) ([]string, error) {
	op := fmt.Sprintf("read %s addresses of domain %q", source, d.label())
	sources := map[string]libvirt.DomainInterfaceAddressesSource{
		"lease": libvirt.DomainInterfaceAddressesSrcLease,
		"agent": libvirt.DomainInterfaceAddressesSrcAgent,
		"arp":   libvirt.DomainInterfaceAddressesSrcArp,
	}
	src, ok := sources[source]
	if !ok {
		return nil, c.wrap(op, fmt.Errorf("unknown address source %q: use lease, agent or arp", source))
	}
	var ifaces []libvirt.DomainInterface
	err := c.callRead(ctx, op, func(l *libvirt.Libvirt) error {
		dom, err := ref(l, d)
		if err == nil {
			ifaces, err = l.DomainInterfaceAddresses(dom, uint32(src), 0)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, iface := range ifaces {
		for _, a := range iface.Addrs {
			addrs = append(addrs, a.Addr)
		}
	}
	return addrs, nil
}
