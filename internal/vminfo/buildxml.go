package vminfo

import (
	"fmt"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// BuildXML validates s and renders the domain XML to define. The document is
// deliberately small: what the spec says plus the few devices a usable VM
// needs, leaving every other choice (machine, controllers, video, balloon)
// to libvirt so the same XML is accepted by the test driver and by QEMU.
func BuildXML(s Spec) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	s = s.withDefaults()
	dom := &libvirtxml.Domain{
		Type:          s.DomainType,
		Name:          s.Name,
		UUID:          s.UUID,
		Memory:        &libvirtxml.DomainMemory{Value: uint(s.MaxMemoryKiB), Unit: "KiB"},
		CurrentMemory: &libvirtxml.DomainCurrentMemory{Value: uint(s.MemoryKiB), Unit: "KiB"},
		VCPU:          vcpuXML(s.Vcpu, s.MaxVcpu),
		OS: &libvirtxml.DomainOS{
			Type:        &libvirtxml.DomainOSType{Type: DefaultOSType, Arch: s.Arch, Machine: s.Machine},
			BootDevices: []libvirtxml.DomainBootDevice{{Dev: "hd"}},
		},
		Features: features(s.Arch),
		Clock:    &libvirtxml.DomainClock{Offset: "utc"},
		Devices:  devices(s),
	}
	out, err := dom.Marshal()
	if err != nil {
		return "", fmt.Errorf("vminfo: render domain XML for vm %q: %w (this is a bug in the provider)", s.Name, err)
	}
	return out, nil
}

// vcpuXML is <vcpu current=N>MAX</vcpu>: libvirt plugs vCPUs up to MAX
// into a running domain; current is left out when it equals MAX.
func vcpuXML(n, most uint) *libvirtxml.DomainVCPU {
	v := &libvirtxml.DomainVCPU{Placement: "static", Value: most}
	if n != most {
		v.Current = n
	}
	return v
}

// features turns on ACPI and APIC on x86 so the guest sees a power button:
// the provider's graceful shutdown (virDomainShutdown) depends on it.
func features(arch string) *libvirtxml.DomainFeatureList {
	if arch != "x86_64" && arch != "i686" {
		return nil
	}
	return &libvirtxml.DomainFeatureList{
		ACPI: &libvirtxml.DomainFeature{},
		APIC: &libvirtxml.DomainFeatureAPIC{},
	}
}

func devices(s Spec) *libvirtxml.DomainDeviceList {
	port := uint(0)
	devs := &libvirtxml.DomainDeviceList{
		Serials: []libvirtxml.DomainSerial{{
			Source: consoleSource(s.ConsoleLog),
			Target: &libvirtxml.DomainSerialTarget{Port: &port},
		}},
		Consoles: []libvirtxml.DomainConsole{{
			Source: consoleSource(s.ConsoleLog),
			Target: &libvirtxml.DomainConsoleTarget{Type: "serial", Port: &port},
		}},
	}
	for _, d := range s.Disks {
		devs.Disks = append(devs.Disks, diskXML(d))
		if d.Bus == "scsi" && len(devs.Controllers) == 0 {
			// Without this libvirt adds an LSI controller, which needs a
			// guest driver most modern images lack.
			devs.Controllers = append(devs.Controllers, libvirtxml.DomainController{Type: "scsi", Model: "virtio-scsi"})
		}
	}
	for _, n := range s.Interfaces {
		devs.Interfaces = append(devs.Interfaces, interfaceXML(n))
	}
	if g := graphicsXML(s.Graphics); g != nil {
		devs.Graphics = []libvirtxml.DomainGraphic{*g}
	}
	if s.GuestAgent {
		devs.Channels = []libvirtxml.DomainChannel{AgentChannelXML()}
	}
	return devs
}

// AgentChannel is the virtio-serial channel name qemu-guest-agent opens.
const AgentChannel = "org.qemu.guest_agent.0"

// AgentChannelXML is the guest agent's channel: a unix socket libvirt
// binds and names itself (it gives the agent channel a path of its own).
func AgentChannelXML() libvirtxml.DomainChannel {
	return libvirtxml.DomainChannel{
		Source: &libvirtxml.DomainChardevSource{UNIX: &libvirtxml.DomainChardevSourceUNIX{Mode: "bind"}},
		Target: &libvirtxml.DomainChannelTarget{VirtIO: &libvirtxml.DomainChannelTargetVirtIO{Name: AgentChannel}},
	}
}

// HasAgentChannel tells whether devs has the guest agent's channel.
func HasAgentChannel(devs *libvirtxml.DomainDeviceList) bool {
	if devs == nil {
		return false
	}
	for _, c := range devs.Channels {
		if c.Target != nil && c.Target.VirtIO != nil && c.Target.VirtIO.Name == AgentChannel {
			return true
		}
	}
	return false
}

// consoleSource is where the serial console goes: a pty, which lets `virsh
// console` reach a guest that has no graphics, or the file logPath,
// appended to so a log survives restarts of the VM.
func consoleSource(logPath string) *libvirtxml.DomainChardevSource {
	if logPath == "" {
		return &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}}
	}
	return &libvirtxml.DomainChardevSource{File: &libvirtxml.DomainChardevSourceFile{Path: logPath, Append: "on"}}
}

// diskXML picks the source kind from the spec: a pool volume, a block
// device (a path under /dev, which QEMU's file driver refuses), a file, or
// none (a cdrom without media).
func diskXML(d Disk) libvirtxml.DomainDisk {
	src := &libvirtxml.DomainDiskSource{}
	switch {
	case d.Pool == "" && d.Path == "":
		src = nil
	case d.Pool != "":
		src.Volume = &libvirtxml.DomainDiskSourceVolume{Pool: d.Pool, Volume: d.Volume}
	case strings.HasPrefix(d.Path, "/dev/"):
		src.Block = &libvirtxml.DomainDiskSourceBlock{Dev: d.Path}
	default:
		src.File = &libvirtxml.DomainDiskSourceFile{File: d.Path}
	}
	out := libvirtxml.DomainDisk{
		Device: d.Device,
		Source: src,
		Target: &libvirtxml.DomainDiskTarget{Dev: d.Target, Bus: d.Bus},
	}
	if d.Format != "" {
		out.Driver = &libvirtxml.DomainDiskDriver{Name: "qemu", Type: d.Format}
	}
	if d.ReadOnly {
		out.ReadOnly = &libvirtxml.DomainDiskReadOnly{}
	}
	return out
}

func interfaceXML(n Interface) libvirtxml.DomainInterface {
	src := &libvirtxml.DomainInterfaceSource{}
	if n.Type == "bridge" {
		src.Bridge = &libvirtxml.DomainInterfaceSourceBridge{Bridge: n.Source}
	} else {
		src.Network = &libvirtxml.DomainInterfaceSourceNetwork{Network: n.Source}
	}
	out := libvirtxml.DomainInterface{Source: src}
	if n.Model != "" { // none: libvirt's default, as an imported domain may have it
		out.Model = &libvirtxml.DomainInterfaceModel{Type: n.Model}
	}
	if n.MAC != "" {
		out.MAC = &libvirtxml.DomainInterfaceMAC{Address: n.MAC}
	}
	return out
}

func graphicsXML(kind string) *libvirtxml.DomainGraphic {
	listen := []libvirtxml.DomainGraphicListener{{
		Address: &libvirtxml.DomainGraphicListenerAddress{Address: GraphicsListen},
	}}
	switch kind {
	case "vnc":
		return &libvirtxml.DomainGraphic{VNC: &libvirtxml.DomainGraphicVNC{
			Port: -1, AutoPort: "yes", Listen: GraphicsListen, Listeners: listen,
		}}
	case "spice":
		return &libvirtxml.DomainGraphic{Spice: &libvirtxml.DomainGraphicSpice{
			Port: -1, AutoPort: "yes", Listen: GraphicsListen, Listeners: listen,
		}}
	default:
		return nil
	}
}
