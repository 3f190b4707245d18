package vminfo

import (
	"fmt"
	"slices"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// unmanagedTags are the device elements the provider never models.
var unmanagedTags = []string{"<hostdev", "<filesystem", "<smartcard", "<redirdev", "<tpm", "<shmem", "<vsock"}

// mayHaveUnmanaged is a cheap test on the text: false means the definition
// has no unmanaged device (interfaces and channels are counted against the
// kinds the provider writes, in either quote style); true means parse it.
func mayHaveUnmanaged(doc string) bool {
	if slices.ContainsFunc(unmanagedTags, func(t string) bool { return strings.Contains(doc, t) }) {
		return true
	}
	count := func(prefix string, values ...string) int {
		n := 0
		for _, v := range values {
			n += strings.Count(doc, prefix+"'"+v+"'") + strings.Count(doc, prefix+`"`+v+`"`)
		}
		return n
	}
	return strings.Count(doc, "<interface") > count("<interface type=", InterfaceTypes...) ||
		strings.Count(doc, "<channel") > count("name=", AgentChannel)
}

// Unmanaged describes, one short line each ("hostdev pci 0000:01:00.0",
// "interface direct eth0"), the devices of a definition that the provider
// does not model and keeps as they are on every update. Devices libvirt adds
// by itself (controllers, video, input, memballoon, consoles) and the guest
// agent channel the provider adds are left out. A definition that names none
// of the candidate elements is not parsed at all: this runs on every refresh.
func Unmanaged(domainXML string) ([]string, error) {
	if !mayHaveUnmanaged(domainXML) {
		return []string{}, nil
	}
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(domainXML); err != nil {
		return nil, fmt.Errorf("vminfo: parse domain XML: %w", err)
	}
	out := []string{}
	if dom.Devices == nil {
		return out, nil
	}
	d := dom.Devices
	for _, h := range d.Hostdevs {
		out = append(out, hostdevText(h))
	}
	for _, f := range d.Filesystems {
		out = append(out, filesystemText(f))
	}
	for _, i := range d.Interfaces {
		if kind, src := interfaceSource(i.Source); !slices.Contains(InterfaceTypes, kind) {
			out = append(out, strings.TrimSpace("interface "+kind+" "+src))
		}
	}
	for _, c := range d.Channels {
		if c.Target == nil || c.Target.VirtIO == nil || c.Target.VirtIO.Name != AgentChannel {
			out = append(out, "channel "+channelName(c))
		}
	}
	for range d.Smartcards {
		out = append(out, "smartcard")
	}
	for range d.RedirDevs {
		out = append(out, "redirdev")
	}
	for range d.TPMs {
		out = append(out, "tpm")
	}
	for _, s := range d.Shmems {
		out = append(out, "shmem "+s.Name)
	}
	if d.VSock != nil {
		out = append(out, "vsock")
	}
	return out, nil
}

func hostdevText(h libvirtxml.DomainHostdev) string {
	switch s := h.SubsysPCI; {
	case s != nil && s.Source != nil && s.Source.Address != nil:
		a := s.Source.Address
		return fmt.Sprintf("hostdev pci %04x:%02x:%02x.%x", uintOf(a.Domain), uintOf(a.Bus), uintOf(a.Slot), uintOf(a.Function))
	case s != nil:
		return "hostdev pci"
	case h.SubsysUSB != nil:
		if src := h.SubsysUSB.Source; src != nil && src.Vendor != nil && src.Product != nil {
			return "hostdev usb " + src.Vendor.ID + ":" + src.Product.ID
		}
		return "hostdev usb"
	case h.SubsysSCSI != nil:
		return "hostdev scsi"
	case h.SubsysSCSIHost != nil:
		return "hostdev scsi_host"
	case h.SubsysMDev != nil:
		return "hostdev mdev"
	default:
		return "hostdev"
	}
}

func uintOf(p *uint) uint {
	if p == nil {
		return 0
	}
	return *p
}

func filesystemText(f libvirtxml.DomainFilesystem) string {
	src := ""
	if f.Source != nil && f.Source.Mount != nil {
		src = f.Source.Mount.Dir
	}
	target := ""
	if f.Target != nil {
		target = f.Target.Dir
	}
	return strings.TrimSpace(fmt.Sprintf("filesystem %s -> %s", src, target))
}

func channelName(c libvirtxml.DomainChannel) string {
	switch t := c.Target; {
	case t != nil && t.VirtIO != nil && t.VirtIO.Name != "":
		return t.VirtIO.Name
	case t != nil && t.GuestFWD != nil:
		return "guestfwd"
	case t != nil && t.Xen != nil:
		return "xen"
	default:
		return "virtio"
	}
}
