package vminfo

import (
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// scanDomain fills the parts of a libvirtxml.Domain that fromDomain reads,
// and nothing else, from a definition as libvirt writes it. ok is false
// when the scanner is unsure; the caller then asks libvirtxml.
func scanDomain(doc string) (*libvirtxml.Domain, bool) {
	if !plainDoc(doc) {
		return nil, false
	}
	x := &scanner{s: doc}
	for {
		_, t, ok := x.next()
		switch {
		case !ok || t.kind == tagEnd:
			return nil, false
		case t.kind == tagStart:
			if t.name != "domain" {
				return nil, false
			}
			return x.domain(t)
		}
	}
}

func (x *scanner) domain(t tag) (*libvirtxml.Domain, bool) {
	dom := &libvirtxml.Domain{}
	typ, _, ok := attr(t.attrs, "type")
	id, _, ok2 := attr(t.attrs, "id")
	if !ok || !ok2 || !isInt(id) {
		return nil, false // libvirtxml refuses an id that is not an int
	}
	dom.Type = typ
	if t.empty {
		return dom, true
	}
	var seen seenSet
	ok = x.children("domain", func(c tag) bool {
		name, ok := element(c.name, "name", "uuid", "memory", "currentMemory", "vcpu", "os", "devices")
		if !ok || !seen.first(name) {
			return false
		}
		switch name {
		case "name":
			dom.Name, ok = x.text(c)
		case "uuid":
			dom.UUID, ok = x.text(c)
		case "memory":
			var m libvirtxml.DomainCurrentMemory
			m, ok = x.memory(c)
			dom.Memory = &libvirtxml.DomainMemory{Value: m.Value, Unit: m.Unit}
		case "currentMemory":
			var m libvirtxml.DomainCurrentMemory
			m, ok = x.memory(c)
			dom.CurrentMemory = &m
		case "vcpu":
			dom.VCPU, ok = x.vcpu(c)
		case "os":
			dom.OS, ok = x.os(c)
		case "devices":
			dom.Devices, ok = x.devices(c)
		default:
			ok = x.skip(c)
		}
		return ok
	})
	return dom, ok
}

// seenSet refuses a second element of a kind read once: encoding/xml
// merges or overwrites those in ways not worth copying.
type seenSet []string

func (s *seenSet) first(name string) bool {
	if name == "" {
		return true
	}
	for _, n := range *s {
		if n == name {
			return false
		}
	}
	*s = append(*s, name)
	return true
}

func (x *scanner) memory(t tag) (libvirtxml.DomainCurrentMemory, bool) {
	unit, _, ok := attr(t.attrs, "unit")
	text, ok2 := x.text(t)
	v, ok3 := parseUint(text)
	return libvirtxml.DomainCurrentMemory{Value: v, Unit: unit}, ok && ok2 && ok3
}

func (x *scanner) vcpu(t tag) (*libvirtxml.DomainVCPU, bool) {
	cur, _, ok := attr(t.attrs, "current")
	n, ok2 := parseUint(cur)
	text, ok3 := x.text(t)
	v, ok4 := parseUint(text)
	return &libvirtxml.DomainVCPU{Current: n, Value: v}, ok && ok2 && ok3 && ok4
}

func (x *scanner) os(t tag) (*libvirtxml.DomainOS, bool) {
	os := &libvirtxml.DomainOS{}
	if t.empty {
		return os, true
	}
	ok := x.children(t.name, func(c tag) bool {
		name, ok := element(c.name, "type")
		if !ok {
			return false
		}
		if name != "type" {
			return x.skip(c)
		}
		if os.Type != nil {
			return false
		}
		arch, _, ok := attr(c.attrs, "arch")
		typ, ok2 := x.text(c)
		os.Type = &libvirtxml.DomainOSType{Arch: arch, Type: typ}
		return ok && ok2
	})
	return os, ok
}

func (x *scanner) devices(t tag) (*libvirtxml.DomainDeviceList, bool) {
	devs := &libvirtxml.DomainDeviceList{}
	if t.empty {
		return devs, true
	}
	ok := x.children(t.name, func(c tag) bool {
		name, ok := element(c.name, "disk", "interface", "graphics", "serial")
		if !ok {
			return false
		}
		switch name {
		case "serial":
			s, isFile, ok := x.serial(c)
			if isFile {
				devs.Serials = append(devs.Serials, s)
			}
			return ok
		case "disk":
			d, ok := x.disk(c)
			devs.Disks = append(devs.Disks, d)
			return ok
		case "interface":
			i, ok := x.iface(c)
			devs.Interfaces = append(devs.Interfaces, i)
			return ok
		case "graphics":
			g, ok := graphic(c)
			devs.Graphics = append(devs.Graphics, g)
			return ok && x.skip(c)
		}
		return x.skip(c)
	})
	return devs, ok
}

func graphic(t tag) (libvirtxml.DomainGraphic, bool) {
	var g libvirtxml.DomainGraphic
	typ, found, ok := attr(t.attrs, "type")
	switch typ {
	case "vnc":
		g.VNC = &libvirtxml.DomainGraphicVNC{}
	case "spice":
		g.Spice = &libvirtxml.DomainGraphicSpice{}
	}
	return g, ok && found
}

// isInt: what encoding/xml accepts for an int (empty is 0).
func isInt(s string) bool {
	_, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return s == "" || err == nil
}
