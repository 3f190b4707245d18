package vminfo

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// FromXML builds a VMInfo from a domain definition. Callers pass the
// persistent (inactive) XML, because that is what the next boot uses and what
// the provider defines (SPEC 3); runtime facts come from rt. Uptime is -1
// because libvirt does not report it, which is what Virtumancer stores.
//
// Definitions libvirt writes are read by a scanner of only the elements
// VMInfo needs (fromxml_scan.go), several times faster than libvirtxml's
// full Domain; anything it is unsure of goes through libvirtxml, the
// reference, so errors and odd documents read exactly as before.
func FromXML(domainXML string, rt Runtime) (VMInfo, error) {
	dom, ok := scanDomain(domainXML)
	if !ok {
		return fromXMLReference(domainXML, rt)
	}
	return fromDomain(dom, rt)
}

// fromXMLReference reads the definition with libvirtxml alone: what
// FromXML must agree with (tests compare the two).
func fromXMLReference(domainXML string, rt Runtime) (VMInfo, error) {
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(domainXML); err != nil {
		return VMInfo{}, fmt.Errorf("vminfo: parse domain XML: %w", err)
	}
	return fromDomain(&dom, rt)
}

// fromDomain maps a parsed definition and runtime facts to a VMInfo.
func fromDomain(dom *libvirtxml.Domain, rt Runtime) (VMInfo, error) {
	v := VMInfo{
		ID:         rt.ID,
		Name:       dom.Name,
		State:      rt.State,
		CPUTime:    rt.CPUTime,
		Uptime:     -1,
		Persistent: rt.Persistent,
		Autostart:  rt.Autostart,
		UUID:       strings.ToLower(dom.UUID),
		DomainType: dom.Type,
		Vcpu:       vcpuCount(dom.VCPU),
		MaxVcpu:    vcpuMax(dom.VCPU),
	}
	if err := readMemory(dom, &v); err != nil {
		return VMInfo{}, fmt.Errorf("vminfo: domain %q: %w", dom.Name, err)
	}
	if dom.OS != nil && dom.OS.Type != nil {
		v.OSType, v.Arch = dom.OS.Type.Type, dom.OS.Type.Arch
	}
	// Non-nil even when empty: a definition we read records "no disks", as
	// opposed to a Virtumancer row that never recorded them.
	v.Disks, v.Interfaces = []Disk{}, []Interface{}
	if dom.Devices != nil {
		v.Graphics = readGraphics(dom.Devices.Graphics)
		for _, d := range dom.Devices.Disks {
			v.Disks = append(v.Disks, readDisk(d))
		}
		for _, i := range dom.Devices.Interfaces {
			v.Interfaces = append(v.Interfaces, readInterface(i))
		}
		v.ConsoleLog = consoleLog(dom.Devices.Serials)
	}
	return v, nil
}

// vcpuCount mirrors virDomainGetInfo's nrVirtCpu, which Virtumancer stores:
// the current count when the definition has one, and libvirt's default of
// one vCPU when the element is absent.
func vcpuCount(c *libvirtxml.DomainVCPU) uint {
	switch {
	case c == nil:
		return 1
	case c.Current > 0:
		return c.Current
	default:
		return c.Value
	}
}

// vcpuMax is <vcpu>'s value, the most vCPUs the domain can have live.
func vcpuMax(c *libvirtxml.DomainVCPU) uint {
	if c == nil || c.Value == 0 {
		return 1
	}
	return c.Value
}

// readMemory maps <memory> to max_mem and <currentMemory> to memory, as
// virDomainGetInfo does; libvirt treats a missing currentMemory as equal to
// memory.
func readMemory(dom *libvirtxml.Domain, v *VMInfo) error {
	if dom.Memory == nil {
		return errors.New("definition has no <memory> element")
	}
	maxKiB, err := toKiB(uint64(dom.Memory.Value), dom.Memory.Unit)
	if err != nil {
		return fmt.Errorf("<memory>: %w", err)
	}
	v.MaxMem, v.Memory = maxKiB, maxKiB
	if dom.CurrentMemory != nil {
		cur, err := toKiB(uint64(dom.CurrentMemory.Value), dom.CurrentMemory.Unit)
		if err != nil {
			return fmt.Errorf("<currentMemory>: %w", err)
		}
		v.Memory = cur
	}
	return nil
}

// toKiB converts a libvirt scaled integer to KiB the way libvirt does
// (virScaleInteger, which refuses more than 2^64-1 bytes, then rounding up
// to whole KiB). Units are case-insensitive; no unit means KiB; "KB", "MB"...
// are powers of 1000 while "k", "KiB", "M", "MiB"... are powers of 1024.
func toKiB(value uint64, unit string) (uint64, error) {
	scale, err := unitBytes(unit)
	if err != nil {
		return 0, err
	}
	hi, bytes := bits.Mul64(value, scale)
	if hi != 0 {
		return 0, fmt.Errorf("%d %s does not fit in 64 bits of bytes, which libvirt refuses too", value, unit)
	}
	return bytes/1024 + min(bytes%1024, 1), nil
}

// unitBytes returns how many bytes one unit is, following libvirt's
// virScaleInteger so any unit libvirt accepts is read the same way here.
func unitBytes(unit string) (uint64, error) {
	u := strings.ToLower(strings.TrimSpace(unit))
	switch u {
	case "":
		return 1024, nil
	case "b", "byte", "bytes":
		return 1, nil
	}
	exp := strings.IndexByte("kmgtpe", u[0]) + 1
	var base uint64
	switch {
	case exp == 0:
		return 0, fmt.Errorf("unknown memory unit %q", unit)
	case len(u) == 1 || u[1:] == "ib":
		base = 1024
	case u[1:] == "b":
		base = 1000
	default:
		return 0, fmt.Errorf("unknown memory unit %q", unit)
	}
	scale := uint64(1)
	for range exp {
		scale *= base
	}
	return scale, nil
}

func readGraphics(gs []libvirtxml.DomainGraphic) Graphics {
	var g Graphics
	for _, x := range gs {
		g.VNC = g.VNC || x.VNC != nil
		g.Spice = g.Spice || x.Spice != nil
	}
	return g
}

// readDisk records the source by kind: file and block devices as Path (both
// are paths on the host), pool volumes as Pool+Volume. Other kinds (network,
// nvme...) keep an empty source; they are not something we define.
func readDisk(d libvirtxml.DomainDisk) Disk {
	out := Disk{Device: d.Device, ReadOnly: d.ReadOnly != nil}
	if out.Device == "" {
		out.Device = "disk" // libvirt's default device
	}
	if d.Target != nil {
		out.Target, out.Bus = d.Target.Dev, d.Target.Bus
	}
	if d.Driver != nil {
		out.Format = d.Driver.Type
	}
	if s := d.Source; s != nil {
		switch {
		case s.File != nil:
			out.Path = s.File.File
		case s.Block != nil:
			out.Path = s.Block.Dev
		case s.Dir != nil:
			out.Path = s.Dir.Dir
		case s.Volume != nil:
			out.Pool, out.Volume = s.Volume.Pool, s.Volume.Volume
		}
	}
	return out
}

// consoleLog is the path of the first serial port that writes to a file.
func consoleLog(serials []libvirtxml.DomainSerial) string {
	for _, s := range serials {
		if s.Source != nil && s.Source.File != nil {
			return s.Source.File.Path
		}
	}
	return ""
}

// readInterface records network and bridge interfaces fully; other kinds get
// their libvirt type name so a change of kind still shows as drift.
func readInterface(i libvirtxml.DomainInterface) Interface {
	var out Interface
	if i.MAC != nil {
		out.MAC = strings.ToLower(i.MAC.Address)
	}
	if i.Model != nil {
		out.Model = i.Model.Type
	}
	out.Type, out.Source = interfaceSource(i.Source)
	return out
}

func interfaceSource(s *libvirtxml.DomainInterfaceSource) (kind, name string) {
	switch {
	case s == nil:
		return "", ""
	case s.Network != nil:
		return "network", s.Network.Network
	case s.Bridge != nil:
		return "bridge", s.Bridge.Bridge
	case s.Direct != nil:
		return "direct", s.Direct.Dev
	case s.User != nil:
		return "user", ""
	case s.Ethernet != nil:
		return "ethernet", ""
	default:
		return "other", ""
	}
}
