package vminfo

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Compare reports the configuration fields whose live value differs from the
// recorded one, sorted by field path. Runtime fields (id, state, cpu_time,
// uptime) and identity (name, uuid) are never drift.
//
// What recorded lacks is not drift: Virtumancer's own rows have no disks,
// interfaces, domain_type, os_type or arch, and values libvirt picks itself
// (a MAC, a disk format, a NIC model) may be left empty in a recorded spec.
// So an empty string in recorded skips that field, a nil Disks or Interfaces
// skips the whole list, and an empty non-nil list means "recorded: none".
func Compare(recorded, live VMInfo) []Drift {
	var c comparer
	c.number("memory", recorded.Memory, live.Memory)
	c.number("max_mem", recorded.MaxMem, live.MaxMem)
	c.number("vcpu", uint64(recorded.Vcpu), uint64(live.Vcpu))
	if recorded.MaxVcpu != 0 { // rows written before max_vcpu have none
		c.number("max_vcpu", uint64(recorded.MaxVcpu), uint64(live.MaxVcpu))
	}
	c.boolean("autostart", recorded.Autostart, live.Autostart)
	c.boolean("persistent", recorded.Persistent, live.Persistent)
	c.str("graphics", graphicsText(recorded.Graphics), graphicsText(live.Graphics))
	c.optional("domain_type", recorded.DomainType, live.DomainType)
	c.optional("os_type", recorded.OSType, live.OSType)
	c.optional("arch", recorded.Arch, live.Arch)
	c.optional("console_log", recorded.ConsoleLog, live.ConsoleLog)
	if recorded.Disks != nil {
		c.disks(recorded.Disks, live.Disks)
	}
	if recorded.Interfaces != nil {
		c.interfaces(recorded.Interfaces, live.Interfaces)
	}
	sort.Slice(c.out, func(i, j int) bool { return c.out[i].Field < c.out[j].Field })
	return c.out
}

// PendingRestart compares the persistent definition v with the active
// definition of a running domain. Differences are a restart waiting to
// happen, which Read reports but does not call drift (SPEC 3).
//
// Some differences are how QEMU runs a definition, not a pending change, and
// are left out: autostart and persistent belong to the domain, not to either
// definition; the active <currentMemory> is the balloon's actual size (a
// guest without a balloon driver reports all of max_mem) and can be changed
// live anyway; and QEMU rounds max_mem up to whole MiB at start.
func (v VMInfo) PendingRestart(liveActive VMInfo) []Drift {
	live := liveActive
	live.Autostart, live.Persistent = v.Autostart, v.Persistent
	live.Memory = v.Memory
	if roundUpMiB(live.MaxMem) == roundUpMiB(v.MaxMem) {
		live.MaxMem = v.MaxMem
	}
	return Compare(v, live)
}

// roundUpMiB rounds KiB up to a whole MiB, QEMU's x86 memory alignment.
func roundUpMiB(kib uint64) uint64 {
	return kib/1024*1024 + min(kib%1024, 1)*1024
}

// DriftSummary renders drift as one line for logs and warnings, e.g.
// `vm "web": memory recorded 524288 live 1048576; vcpu recorded 1 live 2`.
func DriftSummary(name string, d []Drift) string {
	if len(d) == 0 {
		return fmt.Sprintf("vm %q: no drift", name)
	}
	parts := make([]string, len(d))
	for i, x := range d {
		parts[i] = fmt.Sprintf("%s recorded %s live %s", x.Field, shown(x.Recorded), shown(x.Live))
	}
	return fmt.Sprintf("vm %q: %s", name, strings.Join(parts, "; "))
}

// shown makes an empty value visible in a one-line summary.
func shown(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// graphicsText is GraphicsName for drift, where a domain offering both
// consoles must not read as one offering VNC only.
func graphicsText(g Graphics) string {
	if g.VNC && g.Spice {
		return "vnc+spice"
	}
	return GraphicsName(g)
}

type comparer struct{ out []Drift }

func (c *comparer) str(field, recorded, live string) {
	if recorded != live {
		c.out = append(c.out, Drift{Field: field, Recorded: recorded, Live: live})
	}
}

// optional compares a field only when recorded has a value for it.
func (c *comparer) optional(field, recorded, live string) {
	if recorded != "" {
		c.str(field, recorded, live)
	}
}

func (c *comparer) number(field string, recorded, live uint64) {
	c.str(field, strconv.FormatUint(recorded, 10), strconv.FormatUint(live, 10))
}

func (c *comparer) boolean(field string, recorded, live bool) {
	c.str(field, strconv.FormatBool(recorded), strconv.FormatBool(live))
}

// disks matches disks by target, the name libvirt keys them by, so a
// reordered list is not drift and an added or removed disk shows once.
func (c *comparer) disks(recorded, live []Disk) {
	rec, liv := keyDisks(recorded), keyDisks(live)
	for key, r := range rec {
		l, ok := liv[key]
		if !ok {
			c.str("disks["+key+"]", r.String(), "")
			continue
		}
		p := "disks[" + key + "]."
		c.str(p+"device", r.Device, l.Device)
		c.str(p+"bus", r.Bus, l.Bus)
		c.str(p+"path", r.Path, l.Path)
		c.str(p+"pool", r.Pool, l.Pool)
		c.str(p+"volume", r.Volume, l.Volume)
		c.optional(p+"format", r.Format, l.Format)
		c.boolean(p+"read_only", r.ReadOnly, l.ReadOnly)
	}
	for key, l := range liv {
		if _, ok := rec[key]; !ok {
			c.str("disks["+key+"]", "", l.String())
		}
	}
}

// keyDisks keys disks by target. Libvirt never defines two disks with one
// target, but a hand-edited row might; the later ones get "#n" so none is
// silently dropped.
func keyDisks(disks []Disk) map[string]Disk {
	m := make(map[string]Disk, len(disks))
	for i, d := range disks {
		key := d.Target
		if key == "" {
			key = "#" + strconv.Itoa(i)
		}
		for n := 1; ; n++ {
			if _, dup := m[key]; !dup {
				break
			}
			key = d.Target + "#" + strconv.Itoa(n)
		}
		m[key] = d
	}
	return m
}

// interfaces matches by position: libvirt keeps interface order, and a
// recorded spec may not know the MAC libvirt will assign.
func (c *comparer) interfaces(recorded, live []Interface) {
	for i := 0; i < max(len(recorded), len(live)); i++ {
		key := "interfaces[" + strconv.Itoa(i) + "]"
		switch {
		case i >= len(live):
			c.str(key, recorded[i].String(), "")
		case i >= len(recorded):
			c.str(key, "", live[i].String())
		default:
			r, l := recorded[i], live[i]
			c.str(key+".type", r.Type, l.Type)
			c.str(key+".source", r.Source, l.Source)
			c.optional(key+".model", r.Model, l.Model)
			c.optional(key+".mac", strings.ToLower(r.MAC), strings.ToLower(l.MAC))
		}
	}
}

// String renders a disk for drift output: target, then its source.
func (d Disk) String() string {
	src := d.Path
	if d.Pool != "" || d.Volume != "" {
		src = d.Pool + "/" + d.Volume
	}
	return d.Target + ":" + src
}

// String renders an interface for drift output, e.g. "network:default".
func (n Interface) String() string {
	return n.Type + ":" + n.Source
}
