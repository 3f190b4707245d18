package netcfg

import (
	"fmt"
	"slices"
)

// Command is a virNetworkUpdate command on the ip-dhcp-host section.
type Command int

// Commands. Modify is never planned: a changed entry is a Delete then an
// Add, so that swapping addresses between two MACs never passes through a
// state where two entries hold one IP (which libvirt refuses).
const (
	Delete Command = iota + 1
	Add
)

func (c Command) String() string {
	switch c {
	case Delete:
		return "delete"
	case Add:
		return "add-last"
	}
	return fmt.Sprintf("command(%d)", int(c))
}

// Update is one virNetworkUpdate of a static DHCP host.
type Update struct {
	Command Command
	Host    Host
}

func (u Update) String() string {
	return fmt.Sprintf("%s ip-dhcp-host mac=%s ip=%s name=%q", u.Command, u.Host.MAC, u.Host.IP, u.Host.Name)
}

// Changes is what moving a network from one definition to another takes.
// When Restart is non-empty the network is redefined and, if active,
// restarted, and Live is empty (the new definition carries the hosts).
type Changes struct {
	Live    []Update // applied with virNetworkUpdate, live and config
	Restart []string // attributes whose change needs redefine + restart
}

// None reports whether nothing changes.
func (c Changes) None() bool { return len(c.Live) == 0 && len(c.Restart) == 0 }

// Diff compares two validated networks of the same name. Static hosts
// change live; mode, cidr, the DHCP range and the bridge need a restart,
// and so does turning DHCP on or off (the first host added to a network
// with no DHCP at all, the last one removed), because the DHCP server is
// started or stopped only when the network starts.
func Diff(old, cur Network) Changes {
	var c Changes
	if old.Mode != cur.Mode {
		c.Restart = append(c.Restart, "mode")
	}
	if old.CIDR != cur.CIDR {
		c.Restart = append(c.Restart, "cidr")
	}
	if !sameRange(old.DHCP, cur.DHCP) {
		c.Restart = append(c.Restart, "dhcp")
	}
	if cur.Bridge != "" && old.Bridge != cur.Bridge {
		c.Restart = append(c.Restart, "bridge")
	}
	if hasDHCP(old) != hasDHCP(cur) && !slices.Contains(c.Restart, "dhcp") {
		c.Restart = append(c.Restart, "dhcp_host")
	}
	if len(c.Restart) > 0 {
		return c
	}
	c.Live = hostUpdates(old.Hosts, cur.Hosts)
	return c
}

func sameRange(a, b *Range) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func hasDHCP(n Network) bool { return n.DHCP != nil || len(n.Hosts) > 0 }

// hostUpdates lists deletes first (removed and changed entries), then adds
// (changed and new entries), each group in the order of its list.
func hostUpdates(old, cur []Host) []Update {
	oldBy, curBy := byMAC(old), byMAC(cur)
	var dels, adds []Update
	for _, h := range old {
		if n, ok := curBy[h.MAC]; !ok || n != h {
			dels = append(dels, Update{Command: Delete, Host: h})
		}
	}
	for _, h := range cur {
		if o, ok := oldBy[h.MAC]; !ok || o != h {
			adds = append(adds, Update{Command: Add, Host: h})
		}
	}
	return append(dels, adds...)
}

func byMAC(hs []Host) map[string]Host {
	m := make(map[string]Host, len(hs))
	for _, h := range hs {
		m[h.MAC] = h
	}
	return m
}

// OrderLike returns hosts in the order of prior where their MACs match,
// then the others in their own order. libvirt appends hosts it is given
// live, so the order it reports is not the user's; order carries no
// meaning, and this keeps it from showing as a change.
func OrderLike(hosts, prior []Host) []Host {
	rank := make(map[string]int, len(prior))
	for i, h := range prior {
		rank[h.MAC] = i
	}
	out := slices.Clone(hosts)
	slices.SortStableFunc(out, func(a, b Host) int {
		ra, oka := rank[a.MAC]
		rb, okb := rank[b.MAC]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	return out
}
