package hypervisor

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/netcfg"
)

// Network sentinels; test with errors.Is.
var (
	ErrNetworkNotFound   = errors.New("network not found")
	ErrInterfaceNotFound = errors.New("host interface not found")
)

// Network is a libvirt network as the host reports it. XML is the
// persistent definition (what the next start uses) where the driver can
// give it, else the live one.
type Network struct {
	Name, UUID string
	Active     bool
	Autostart  bool
	Persistent bool
	XML        string
}

// Lease is one DHCP lease of a network.
type Lease struct {
	MAC, IP, Hostname string
	Expiry            time.Time
}

func netOp(verb, name string) string { return fmt.Sprintf("%s network %q", verb, name) }

// netErr maps a miss to ErrNetworkNotFound (classify keeps codedErrors).
func netErr(err error) error {
	switch libvirtCode(err) {
	case libvirt.ErrNoNetwork:
		return &codedError{kind: ErrNetworkNotFound, err: err}
	case libvirt.ErrNoInterface:
		return &codedError{kind: ErrInterfaceNotFound, err: err}
	}
	return err
}

// LookupNetwork describes a network; a missing one is ErrNetworkNotFound.
func (c *Conn) LookupNetwork(ctx context.Context, name string) (Network, error) {
	var n Network
	err := c.callRead(ctx, netOp("look up", name), func(l *libvirt.Libvirt) error {
		ln, err := l.NetworkLookupByName(name)
		if err == nil {
			n, err = describeNetwork(l, ln)
		}
		return netErr(err)
	})
	return n, err
}

func describeNetwork(l *libvirt.Libvirt, ln libvirt.Network) (Network, error) {
	n := Network{Name: ln.Name, UUID: formatUUID(ln.UUID)}
	active, err := l.NetworkIsActive(ln)
	if err != nil {
		return n, err
	}
	persistent, err := l.NetworkIsPersistent(ln)
	if err != nil {
		return n, err
	}
	autostart, err := l.NetworkGetAutostart(ln)
	if err != nil {
		return n, err
	}
	n.Active, n.Persistent, n.Autostart = active == 1, persistent == 1, autostart == 1
	n.XML, err = networkXML(l, ln)
	return n, err
}

// networkXML asks for the inactive definition; the test driver refuses
// the flag ("unsupported flags (0x1) in function testNetworkGetXMLDesc"),
// and there the live XML is all there is.
func networkXML(l *libvirt.Libvirt, ln libvirt.Network) (string, error) {
	doc, err := l.NetworkGetXMLDesc(ln, uint32(libvirt.NetworkXMLInactive))
	if _, refused := refusedFlags(err, uint32(libvirt.NetworkXMLInactive)); refused {
		return l.NetworkGetXMLDesc(ln, 0)
	}
	return doc, err
}

// ListNetworks describes every network of the host, sorted by name.
func (c *Conn) ListNetworks(ctx context.Context) ([]Network, error) {
	var out []Network
	err := c.callRead(ctx, "list networks", func(l *libvirt.Libvirt) error {
		nets, _, err := l.ConnectListAllNetworks(1, 0)
		if err != nil {
			return err
		}
		out = make([]Network, 0, len(nets))
		for _, ln := range nets {
			n, err := describeNetwork(l, ln)
			if libvirtCode(err) == libvirt.ErrNoNetwork {
				continue // undefined since the listing: not one of them any more
			}
			if err != nil {
				return fmt.Errorf("network %q: %w", ln.Name, netErr(err))
			}
			out = append(out, n)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b Network) int { return strings.Compare(a.Name, b.Name) })
	return out, err
}

// DefineNetwork defines (or, with the UUID of an existing network in the
// XML, redefines) a persistent network and returns it.
func (c *Conn) DefineNetwork(ctx context.Context, networkXML string) (Network, error) {
	var n Network
	err := c.call(ctx, netOp("define", xmlNetworkName(networkXML)), func(l *libvirt.Libvirt) error {
		ln, err := l.NetworkDefineXML(networkXML)
		if err == nil {
			n, err = describeNetwork(l, ln)
		}
		return err
	})
	return n, err
}

func xmlNetworkName(doc string) string {
	var x libvirtxml.Network
	if x.Unmarshal(doc) != nil || x.Name == "" {
		return "(unnamed)"
	}
	return x.Name
}

// StartNetwork starts a defined network; starting an active one is fine.
func (c *Conn) StartNetwork(ctx context.Context, name string) error {
	return c.call(ctx, netOp("start", name), func(l *libvirt.Libvirt) error {
		ln, err := l.NetworkLookupByName(name)
		if err != nil {
			return netErr(err)
		}
		if active, err := l.NetworkIsActive(ln); err != nil || active == 1 {
			return err
		}
		return l.NetworkCreate(ln)
	})
}

// StopNetwork stops (virNetworkDestroy) a network; a stopped one is fine.
// Guests plugged into a bridge libvirt made lose their link, and libvirt
// does not plug them back in when it starts again (seen on libvirt 9.0).
func (c *Conn) StopNetwork(ctx context.Context, name string) error {
	return c.call(ctx, netOp("stop", name), func(l *libvirt.Libvirt) error {
		ln, err := l.NetworkLookupByName(name)
		if err != nil {
			return netErr(err)
		}
		if active, err := l.NetworkIsActive(ln); err != nil || active == 0 {
			return err
		}
		return l.NetworkDestroy(ln)
	})
}

// UndefineNetwork removes the definition of a stopped network.
func (c *Conn) UndefineNetwork(ctx context.Context, name string) error {
	return c.call(ctx, netOp("undefine", name), func(l *libvirt.Libvirt) error {
		ln, err := l.NetworkLookupByName(name)
		if err == nil {
			err = l.NetworkUndefine(ln)
		}
		return netErr(err)
	})
}

// SetNetworkAutostart sets whether the host starts the network at boot.
func (c *Conn) SetNetworkAutostart(ctx context.Context, name string, on bool) error {
	return c.call(ctx, netOp(fmt.Sprintf("set autostart=%t on", on), name), func(l *libvirt.Libvirt) error {
		ln, err := l.NetworkLookupByName(name)
		if err != nil {
			return netErr(err)
		}
		v := int32(0)
		if on {
			v = 1
		}
		return l.NetworkSetAutostart(ln, v)
	})
}

// UpdateNetworkHosts applies static DHCP host changes in order, to the
// definition and, when the network is active, to the running network
// (its DHCP server) too. A failure says how many were applied before it.
func (c *Conn) UpdateNetworkHosts(ctx context.Context, name string, updates []netcfg.Update) error {
	return c.call(ctx, netOp("update dhcp hosts of", name), func(l *libvirt.Libvirt) error {
		ln, err := l.NetworkLookupByName(name)
		if err != nil {
			return netErr(err)
		}
		flags := libvirt.NetworkUpdateAffectConfig
		if active, err := l.NetworkIsActive(ln); err != nil {
			return err
		} else if active == 1 {
			flags |= libvirt.NetworkUpdateAffectLive
		}
		for i, u := range updates {
			if err := applyUpdate(l, ln, u, flags); err != nil {
				return fmt.Errorf("%s (after %d of %d updates; the rest were not tried): %w", u, i, len(updates), err)
			}
		}
		return nil
	})
}

func applyUpdate(l *libvirt.Libvirt, ln libvirt.Network, u netcfg.Update, flags libvirt.NetworkUpdateFlags) error {
	doc, err := netcfg.HostXML(u.Host)
	if err != nil {
		return err
	}
	cmd := libvirt.NetworkUpdateCommandAddLast
	if u.Command == netcfg.Delete {
		cmd = libvirt.NetworkUpdateCommandDelete
	}
	// The compat call asks the daemon which argument order it expects
	// (old daemons swapped command and section on the wire).
	return l.NetworkUpdateCompat(ln, cmd, libvirt.NetworkSectionIPDhcpHost, -1, doc, flags)
}

// NetworkLeases lists the current DHCP leases of a network.
// The test driver has none to give (ErrUnsupported).
func (c *Conn) NetworkLeases(ctx context.Context, name string) ([]Lease, error) {
	var out []Lease
	err := c.callRead(ctx, netOp("list DHCP leases of", name), func(l *libvirt.Libvirt) error {
		ln, err := l.NetworkLookupByName(name)
		if err != nil {
			return netErr(err)
		}
		leases, _, err := l.NetworkGetDhcpLeases(ln, nil, 1, 0)
		if err != nil {
			return err
		}
		out = make([]Lease, 0, len(leases))
		for _, le := range leases {
			out = append(out, fromLease(le))
		}
		return nil
	})
	return out, err
}

func fromLease(le libvirt.NetworkDhcpLease) Lease {
	out := Lease{IP: le.Ipaddr, Expiry: time.Unix(le.Expirytime, 0).UTC()}
	if len(le.Mac) > 0 {
		out.MAC = le.Mac[0]
	}
	if len(le.Hostname) > 0 {
		out.Hostname = le.Hostname[0]
	}
	return out
}

// HostInterface is a network interface of the host (a bridge, a NIC).
type HostInterface struct {
	Name   string
	Type   string // bridge, ethernet, bond, vlan...
	Active bool
}

// LookupHostInterface describes a host interface through libvirt's
// interface driver, so it works on remote hosts too; a missing one is
// ErrInterfaceNotFound, a driver without one ErrUnsupported.
func (c *Conn) LookupHostInterface(ctx context.Context, name string) (HostInterface, error) {
	var hi HostInterface
	err := c.callRead(ctx, fmt.Sprintf("look up host interface %q", name), func(l *libvirt.Libvirt) error {
		iface, err := l.InterfaceLookupByName(name)
		if err != nil {
			return netErr(err)
		}
		active, err := l.InterfaceIsActive(iface)
		if err != nil {
			return err
		}
		doc, err := l.InterfaceGetXMLDesc(iface, 0)
		if err != nil {
			return err
		}
		var x struct {
			Type string `xml:"type,attr"`
		}
		if err := xml.Unmarshal([]byte(doc), &x); err != nil {
			return fmt.Errorf("parse interface xml: %w", err)
		}
		hi = HostInterface{Name: iface.Name, Type: x.Type, Active: active == 1}
		return nil
	})
	return hi, err
}

// NetworkUsers names the running domains with an interface on the network
// (by network name, or by its bridge when bridge is not empty): the guests
// that lose their link when it restarts. One live XML per running domain.
func (c *Conn) NetworkUsers(ctx context.Context, network, bridge string) ([]string, error) {
	var users []string
	err := c.callRead(ctx, netOp("list running domains on", network), func(l *libvirt.Libvirt) error {
		doms, _, err := l.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive)
		if err != nil {
			return err
		}
		users = users[:0]
		for _, d := range doms {
			doc, err := l.DomainGetXMLDesc(d, 0)
			if libvirtCode(err) == libvirt.ErrNoDomain {
				continue // gone since the listing
			}
			if err != nil {
				return fmt.Errorf("domain %q: %w", d.Name, err)
			}
			if usesNetwork(doc, network, bridge) {
				users = append(users, d.Name)
			}
		}
		return nil
	})
	slices.Sort(users)
	return users, err
}

func usesNetwork(domainXML, network, bridge string) bool {
	var x libvirtxml.Domain
	if x.Unmarshal(domainXML) != nil || x.Devices == nil {
		return false
	}
	for _, ifc := range x.Devices.Interfaces {
		s := ifc.Source
		switch {
		case s == nil:
		case s.Network != nil && s.Network.Network == network:
			return true
		case bridge != "" && s.Bridge != nil && s.Bridge.Bridge == bridge:
			return true
		}
	}
	return false
}
