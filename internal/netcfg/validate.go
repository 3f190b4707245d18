package netcfg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// FieldError is a mistake in one attribute: Attr is the top-level
// attribute (cidr, dhcp, dhcp_host, bridge, mode), Index the element of a
// repeated block (-1 when none), Key the attribute inside the block ("" when
// none). Callers turn it into an attribute path.
type FieldError struct {
	Attr  string
	Index int
	Key   string
	Msg   string
}

func (e *FieldError) Error() string { return e.Path() + ": " + e.Msg }

// Path is the attribute as a user writes it: dhcp_host[1].ip, dhcp.start.
func (e *FieldError) Path() string {
	p := e.Attr
	if e.Index >= 0 {
		p += fmt.Sprintf("[%d]", e.Index)
	}
	if e.Key != "" {
		p += "." + e.Key
	}
	return p
}

func fieldErr(attr string, index int, key, format string, args ...any) *FieldError {
	return &FieldError{Attr: attr, Index: index, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks n and normalises it in place (MACs in lower case with
// colons, addresses in canonical form). It returns every mistake it finds,
// each a *FieldError, joined with errors.Join.
func Validate(n *Network) error {
	if !slices.Contains(Modes, n.Mode) {
		return fieldErr("mode", -1, "", "unknown mode %q: use one of %s", n.Mode, strings.Join(Modes, ", "))
	}
	if !needsIP(n.Mode) {
		return validateBridgeMode(n)
	}
	p, err := parseCIDR(n.CIDR)
	if err != nil {
		return fieldErr("cidr", -1, "", "%v", err)
	}
	n.CIDR = p.String()
	var errs []error
	if n.DHCP != nil {
		errs = append(errs, validateRange(n.DHCP, p)...)
	}
	errs = append(errs, validateHosts(n.Hosts, p)...)
	return errors.Join(errs...)
}

func validateBridgeMode(n *Network) error {
	var errs []error
	if strings.TrimSpace(n.Bridge) == "" {
		errs = append(errs, fieldErr("bridge", -1, "", `mode "bridge" needs the name of an existing host bridge, e.g. "br0"`))
	}
	if n.CIDR != "" {
		errs = append(errs, fieldErr("cidr", -1, "", `mode "bridge" attaches guests to the host bridge's own subnet: remove cidr`))
	}
	if n.DHCP != nil || len(n.Hosts) > 0 {
		errs = append(errs, fieldErr("dhcp", -1, "", `libvirt serves no DHCP in mode "bridge": remove dhcp and dhcp_host (the bridge's own network serves addresses)`))
	}
	return errors.Join(errs...)
}

// parseCIDR accepts an IPv4 network address with a prefix of at most /30,
// so there is room for the gateway and at least one guest.
func parseCIDR(s string) (netip.Prefix, error) {
	if strings.TrimSpace(s) == "" {
		return netip.Prefix{}, errors.New(`a cidr is required, e.g. "10.77.0.0/24"`)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as \"10.77.0.0/24\"", s)
	}
	switch {
	case !p.Addr().Is4():
		return netip.Prefix{}, fmt.Errorf("%q is not IPv4: only IPv4 networks are supported for now", s)
	case p.Masked() != p:
		return netip.Prefix{}, fmt.Errorf("%q has host bits set: use the network address %s", s, p.Masked())
	case p.Bits() > 30:
		return netip.Prefix{}, fmt.Errorf("%q is too small: use a prefix of /30 or shorter (room for the gateway and a guest)", s)
	}
	return p, nil
}

// guestAddr parses an address that a guest may hold in p: inside it, not
// its network or broadcast address, not the gateway.
func guestAddr(s string, p netip.Prefix) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", s)
	}
	switch {
	case !p.Contains(a):
		return a, fmt.Errorf("%s is outside cidr %s", a, p)
	case a == p.Addr():
		return a, fmt.Errorf("%s is the network address of %s", a, p)
	case a == broadcast(p):
		return a, fmt.Errorf("%s is the broadcast address of %s", a, p)
	case a == p.Addr().Next():
		return a, fmt.Errorf("%s is the gateway (the first address of %s), which the host takes", a, p)
	}
	return a, nil
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func validateRange(r *Range, p netip.Prefix) []error {
	var errs []error
	start, serr := guestAddr(r.Start, p)
	if serr != nil {
		errs = append(errs, fieldErr("dhcp", -1, "start", "%v", serr))
	}
	end, eerr := guestAddr(r.End, p)
	if eerr != nil {
		errs = append(errs, fieldErr("dhcp", -1, "end", "%v", eerr))
	}
	if serr == nil && eerr == nil {
		r.Start, r.End = start.String(), end.String()
		if end.Less(start) {
			errs = append(errs, fieldErr("dhcp", -1, "end", "%s comes before start %s", end, start))
		}
	}
	return errs
}

func validateHosts(hosts []Host, p netip.Prefix) []error {
	var errs []error
	macs, ips := map[string]int{}, map[string]int{}
	for i := range hosts {
		h := &hosts[i]
		if mac, err := NormalizeMAC(h.MAC); err != nil {
			errs = append(errs, fieldErr("dhcp_host", i, "mac", "%v", err))
		} else if j, dup := macs[mac]; dup {
			errs = append(errs, fieldErr("dhcp_host", i, "mac", "%s is also the mac of dhcp_host[%d]: each mac may have one static lease", mac, j))
		} else {
			h.MAC, macs[mac] = mac, i
		}
		if a, err := guestAddr(h.IP, p); err != nil {
			errs = append(errs, fieldErr("dhcp_host", i, "ip", "%v", err))
		} else if j, dup := ips[a.String()]; dup {
			errs = append(errs, fieldErr("dhcp_host", i, "ip", "%s is also the ip of dhcp_host[%d]: two guests cannot share a static address", a, j))
		} else {
			h.IP, ips[a.String()] = a.String(), i
		}
	}
	return errs
}

// NormalizeMAC returns mac as six lower-case hex pairs separated by
// colons; it accepts '-' separators and upper case, and refuses multicast
// addresses (the low bit of the first octet), which no NIC can have.
func NormalizeMAC(mac string) (string, error) {
	hw, err := net.ParseMAC(strings.TrimSpace(mac))
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("%q is not a MAC address such as \"52:54:00:12:34:56\"", mac)
	}
	if hw[0]&1 == 1 {
		return "", fmt.Errorf("%s is a multicast address: a NIC needs a unicast MAC (even first octet) such as 52:54:00:12:34:56", hw)
	}
	return hw.String(), nil
}

// Overlaps reports whether two valid IPv4 CIDRs share an address.
func Overlaps(a, b string) bool {
	pa, errA := netip.ParsePrefix(a)
	pb, errB := netip.ParsePrefix(b)
	return errA == nil && errB == nil && pa.Overlaps(pb)
}
