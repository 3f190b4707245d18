// Package netcfg owns the meaning of a managed libvirt network: the model
// behind virtumancer_network (mode, IPv4 CIDR, DHCP range, static DHCP
// hosts, bridge), its validation, the network XML it becomes and is read
// back from, and the diff that says which changes libvirt applies live
// (virNetworkUpdate of DHCP hosts) and which need the network redefined and
// restarted. It knows nothing of Terraform or RPC.
package netcfg

import "net/netip"

// Forwarding modes. Isolated has no <forward> element; the others are the
// <forward mode=...> of the same name.
const (
	ModeNAT      = "nat"
	ModeIsolated = "isolated"
	ModeRoute    = "route"
	ModeOpen     = "open"
	ModeBridge   = "bridge"
)

// Modes are the allowed values of mode, for validators and descriptions.
var Modes = []string{ModeNAT, ModeIsolated, ModeRoute, ModeOpen, ModeBridge}

// DefaultMode is the mode when none is set.
const DefaultMode = ModeNAT

// Network is one managed network. CIDR, DHCP and Hosts are empty in
// bridge mode, where Bridge names an existing host bridge; in the other
// modes Bridge is the name libvirt chose (empty: let libvirt choose).
type Network struct {
	Name   string
	UUID   string // empty for a new network
	Mode   string
	CIDR   string // IPv4 network, e.g. 10.77.0.0/24; the gateway is its first address
	Bridge string
	DHCP   *Range
	Hosts  []Host
}

// Range is the DHCP range, both ends included.
type Range struct{ Start, End string }

// Host is a static DHCP lease. MAC is the key libvirt matches on.
type Host struct{ MAC, IP, Name string }

// Gateway is the first address of cidr, the address the host's bridge
// takes. cidr must have passed Validate.
func Gateway(cidr string) (netip.Addr, error) {
	p, err := parseCIDR(cidr)
	if err != nil {
		return netip.Addr{}, err
	}
	return p.Addr().Next(), nil
}

// needsIP reports whether mode routes an IPv4 subnet of its own.
func needsIP(mode string) bool { return mode != ModeBridge }
