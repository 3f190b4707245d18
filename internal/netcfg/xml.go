package netcfg

import (
	"fmt"
	"net/netip"

	"libvirt.org/go/libvirtxml"
)

// XML is the network definition of n, which must have passed Validate.
// Bridge mode names the host bridge; the other modes let libvirt choose
// the bridge when n.Bridge is empty and keep it otherwise (a redefine must
// not rename the bridge guests are plugged into).
func XML(n Network) (string, error) {
	x := libvirtxml.Network{Name: n.Name, UUID: n.UUID}
	if n.Mode != ModeIsolated {
		x.Forward = &libvirtxml.NetworkForward{Mode: n.Mode}
	}
	if n.Bridge != "" {
		x.Bridge = &libvirtxml.NetworkBridge{Name: n.Bridge}
	}
	if needsIP(n.Mode) {
		ip, err := ipXML(n)
		if err != nil {
			return "", err
		}
		x.IPs = []libvirtxml.NetworkIP{ip}
	}
	doc, err := x.Marshal()
	if err != nil {
		return "", fmt.Errorf("netcfg: marshal network %q: %w", n.Name, err)
	}
	return doc, nil
}

func ipXML(n Network) (libvirtxml.NetworkIP, error) {
	p, err := parseCIDR(n.CIDR)
	if err != nil {
		return libvirtxml.NetworkIP{}, fmt.Errorf("netcfg: network %q: %w", n.Name, err)
	}
	ip := libvirtxml.NetworkIP{Address: p.Addr().Next().String(), Prefix: uint(p.Bits())}
	if n.DHCP == nil && len(n.Hosts) == 0 {
		return ip, nil
	}
	ip.DHCP = &libvirtxml.NetworkDHCP{}
	if n.DHCP != nil {
		ip.DHCP.Ranges = []libvirtxml.NetworkDHCPRange{{Start: n.DHCP.Start, End: n.DHCP.End}}
	}
	for _, h := range n.Hosts {
		ip.DHCP.Hosts = append(ip.DHCP.Hosts, hostXMLValue(h))
	}
	return ip, nil
}

func hostXMLValue(h Host) libvirtxml.NetworkDHCPHost {
	return libvirtxml.NetworkDHCPHost{MAC: h.MAC, IP: h.IP, Name: h.Name}
}

// HostXML is the <host/> element virNetworkUpdate takes for h.
func HostXML(h Host) (string, error) {
	v := hostXMLValue(h)
	doc, err := v.Marshal()
	if err != nil {
		return "", fmt.Errorf("netcfg: marshal dhcp host %s: %w", h.MAC, err)
	}
	return doc, nil
}

// Parse reads a network definition back into the model. A network this
// provider cannot express (another forward mode, several IPv4 addresses,
// several DHCP ranges, a gateway that is not the first address) is an
// error naming what it found, so Read and import never silently drop
// configuration.
func Parse(doc string) (Network, error) {
	var x libvirtxml.Network
	if err := x.Unmarshal(doc); err != nil {
		return Network{}, fmt.Errorf("netcfg: parse network xml: %w", err)
	}
	n := Network{Name: x.Name, UUID: x.UUID, Mode: ModeIsolated}
	if x.Forward != nil && x.Forward.Mode != "" {
		n.Mode = x.Forward.Mode
	} else if x.Forward != nil {
		n.Mode = ModeNAT // libvirt's default forward mode
	}
	if !validMode(n.Mode) {
		return Network{}, fmt.Errorf("netcfg: network %q uses forward mode %q, which this provider does not manage (it manages %v)", n.Name, n.Mode, Modes)
	}
	if x.Bridge != nil {
		n.Bridge = x.Bridge.Name
	}
	if err := parseIPs(&n, x.IPs); err != nil {
		return Network{}, fmt.Errorf("netcfg: network %q: %w", n.Name, err)
	}
	return n, nil
}

func validMode(m string) bool {
	for _, v := range Modes {
		if v == m {
			return true
		}
	}
	return false
}

func parseIPs(n *Network, ips []libvirtxml.NetworkIP) error {
	var v4 []libvirtxml.NetworkIP
	for _, ip := range ips {
		if ip.Family == "" || ip.Family == "ipv4" {
			v4 = append(v4, ip)
		} else {
			return fmt.Errorf("it has an %s address %s; only IPv4 is managed for now", ip.Family, ip.Address)
		}
	}
	switch {
	case len(v4) == 0:
		return nil
	case len(v4) > 1:
		return fmt.Errorf("it has %d IPv4 addresses; this provider manages one", len(v4))
	}
	p, err := ipPrefix(v4[0])
	if err != nil {
		return err
	}
	n.CIDR = p.Masked().String()
	if p.Addr() != p.Masked().Addr().Next() {
		return fmt.Errorf("its gateway %s is not the first address of %s, which this provider assumes", p.Addr(), p.Masked())
	}
	return parseDHCP(n, v4[0].DHCP)
}

func ipPrefix(ip libvirtxml.NetworkIP) (netip.Prefix, error) {
	a, err := netip.ParseAddr(ip.Address)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad ip address %q", ip.Address)
	}
	bits := int(ip.Prefix)
	if ip.Netmask != "" {
		m, err := netip.ParseAddr(ip.Netmask)
		if err != nil || !m.Is4() {
			return netip.Prefix{}, fmt.Errorf("bad netmask %q", ip.Netmask)
		}
		b := m.As4()
		bits = maskBits(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
		if bits < 0 {
			return netip.Prefix{}, fmt.Errorf("netmask %q is not contiguous", ip.Netmask)
		}
	}
	if bits == 0 {
		bits = classfulBits(a) // what libvirt assumes without prefix or netmask
	}
	return netip.PrefixFrom(a, bits), nil
}

// maskBits is the prefix length of a contiguous netmask, or -1.
func maskBits(m uint32) int {
	bits := 0
	for m&(1<<31) != 0 {
		bits++
		m <<= 1
	}
	if m != 0 {
		return -1
	}
	return bits
}

func parseDHCP(n *Network, d *libvirtxml.NetworkDHCP) error {
	if d == nil {
		return nil
	}
	switch len(d.Ranges) {
	case 0:
	case 1:
		n.DHCP = &Range{Start: d.Ranges[0].Start, End: d.Ranges[0].End}
	default:
		return fmt.Errorf("it has %d DHCP ranges; this provider manages one", len(d.Ranges))
	}
	for _, h := range d.Hosts {
		mac, err := NormalizeMAC(h.MAC)
		if err != nil {
			return fmt.Errorf("dhcp host %q: %w", h.Name, err)
		}
		n.Hosts = append(n.Hosts, Host{MAC: mac, IP: h.IP, Name: h.Name})
	}
	return nil
}

func classfulBits(a netip.Addr) int {
	switch first := a.As4()[0]; {
	case first < 128:
		return 8
	case first < 192:
		return 16
	}
	return 24
}
