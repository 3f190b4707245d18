package vminfo

import (
	"libvirt.org/go/libvirtxml"
)

// diskSourceAttrs names the <source> attributes read per disk type, as
// libvirtxml picks the source struct from the disk's type.
var diskSourceAttrs = map[string][]string{
	"file":   {"file"},
	"block":  {"dev"},
	"dir":    {"dir"},
	"volume": {"pool", "volume"},
}

func (x *scanner) disk(t tag) (libvirtxml.DomainDisk, bool) {
	var d libvirtxml.DomainDisk
	device, _, ok := attr(t.attrs, "device")
	typ, found, ok2 := attr(t.attrs, "type")
	if !found {
		typ = "file"
	}
	srcAttrs, known := diskSourceAttrs[typ]
	if !ok || !ok2 || !known {
		return d, false // other kinds have typed sources: libvirtxml reads them
	}
	d.Device = device
	src := make([]string, len(srcAttrs))
	if t.empty {
		d.Source = diskSource(typ, src)
		return d, true
	}
	var seen seenSet
	ok = x.children(t.name, func(c tag) bool {
		name, ok := element(c.name, "driver", "source", "target", "readonly")
		if !ok || !seen.first(name) {
			return false
		}
		switch name {
		case "driver":
			d.Driver = &libvirtxml.DomainDiskDriver{}
			d.Driver.Type, _, ok = attr(c.attrs, "type")
		case "target":
			var ok2 bool
			d.Target = &libvirtxml.DomainDiskTarget{}
			d.Target.Dev, _, ok = attr(c.attrs, "dev")
			d.Target.Bus, _, ok2 = attr(c.attrs, "bus")
			ok = ok && ok2
		case "readonly":
			d.ReadOnly = &libvirtxml.DomainDiskReadOnly{}
		case "source":
			for i, a := range srcAttrs {
				var ok2 bool
				src[i], _, ok2 = attr(c.attrs, a)
				ok = ok && ok2
			}
		}
		return ok && x.skip(c)
	})
	// With or without <source>: libvirtxml makes the struct from the type.
	d.Source = diskSource(typ, src)
	return d, ok
}

func diskSource(typ string, v []string) *libvirtxml.DomainDiskSource {
	s := &libvirtxml.DomainDiskSource{}
	switch typ {
	case "file":
		s.File = &libvirtxml.DomainDiskSourceFile{File: v[0]}
	case "block":
		s.Block = &libvirtxml.DomainDiskSourceBlock{Dev: v[0]}
	case "dir":
		s.Dir = &libvirtxml.DomainDiskSourceDir{Dir: v[0]}
	case "volume":
		s.Volume = &libvirtxml.DomainDiskSourceVolume{Pool: v[0], Volume: v[1]}
	}
	return s
}

// ifaceSourceAttr names the <source> attribute read per interface type;
// other types are read as "other" (readInterface) whatever their source.
var ifaceSourceAttr = map[string]string{"network": "network", "bridge": "bridge", "direct": "dev", "user": "", "ethernet": ""}

func (x *scanner) iface(t tag) (libvirtxml.DomainInterface, bool) {
	var i libvirtxml.DomainInterface
	typ, found, ok := attr(t.attrs, "type")
	if !ok || !found {
		return i, false // libvirtxml refuses an interface without a type
	}
	srcAttr := ifaceSourceAttr[typ]
	src := ""
	if !t.empty {
		var seen seenSet
		ok = x.children(t.name, func(c tag) bool {
			name, ok := element(c.name, "mac", "model", "source")
			if !ok || !seen.first(name) {
				return false
			}
			switch name {
			case "mac":
				i.MAC = &libvirtxml.DomainInterfaceMAC{}
				i.MAC.Address, _, ok = attr(c.attrs, "address")
			case "model":
				i.Model = &libvirtxml.DomainInterfaceModel{}
				i.Model.Type, _, ok = attr(c.attrs, "type")
			case "source":
				if srcAttr != "" {
					src, _, ok = attr(c.attrs, srcAttr)
				}
			}
			return ok && x.skip(c)
		})
	}
	i.Source = ifaceSource(typ, src)
	return i, ok
}

func ifaceSource(typ, v string) *libvirtxml.DomainInterfaceSource {
	s := &libvirtxml.DomainInterfaceSource{}
	switch typ {
	case "network":
		s.Network = &libvirtxml.DomainInterfaceSourceNetwork{Network: v}
	case "bridge":
		s.Bridge = &libvirtxml.DomainInterfaceSourceBridge{Bridge: v}
	case "direct":
		s.Direct = &libvirtxml.DomainInterfaceSourceDirect{Dev: v}
	case "user":
		s.User = &libvirtxml.DomainInterfaceSourceUser{}
	case "ethernet":
		s.Ethernet = &libvirtxml.DomainInterfaceSourceEthernet{}
	}
	return s
}

// serial reads a <serial>: only a file-backed one matters (its path is
// the console log), so others are skipped. A serial without a type is a
// pty, as libvirtxml reads it.
func (x *scanner) serial(t tag) (s libvirtxml.DomainSerial, isFile, ok bool) {
	typ, _, ok := attr(t.attrs, "type")
	if !ok || typ != "file" {
		return s, false, ok && x.skip(t)
	}
	file := &libvirtxml.DomainChardevSourceFile{}
	s.Source = &libvirtxml.DomainChardevSource{File: file}
	if t.empty {
		return s, true, true
	}
	var seen seenSet
	ok = x.children(t.name, func(c tag) bool {
		name, ok := element(c.name, "source")
		if !ok || !seen.first(name) {
			return false
		}
		if name == "source" {
			file.Path, _, ok = attr(c.attrs, "path")
		}
		return ok && x.skip(c)
	})
	return s, true, ok
}
