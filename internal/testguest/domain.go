package testguest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// AgentChannel is the virtio-serial channel name qemu-guest-agent uses.
const AgentChannel = vminfo.AgentChannel

// SeedBuses are the buses a seed disk may use; the guest has the drivers
// of each (virtio_blk; ahci and sd_mod; virtio_scsi and sd_mod).
var SeedBuses = []string{"virtio", "sata", "scsi"}

// Domain describes a test domain that boots the guest under TCG.
type Domain struct {
	Name      string
	Disk      string // an overlay (".qcow2") or a raw copy of the image
	Seed      string // optional NoCloud seed image (WriteSeed), attached read-only (but on sata)
	SeedBus   string // the seed disk's bus: one of SeedBuses; virtio when ""
	Console   string // file that receives the serial console (ttyS0)
	Network   string // optional libvirt network for eth0
	MemoryMiB uint   // 128 when 0 (enough, verified; tests boot several at once)
}

// XML is the libvirt definition of d: domain type qemu (KVM makes no
// progress on these machines, SPEC 6), ACPI so `virsh shutdown` powers the
// guest off, the agent channel, and the serial console logged to a file.
func (d Domain) XML() (string, error) {
	if d.Name == "" || d.Disk == "" || d.Console == "" {
		return "", fmt.Errorf("testguest: domain %q needs a name, a disk and a console file (got disk %q, console %q)", d.Name, d.Disk, d.Console)
	}
	if d.SeedBus != "" && !slices.Contains(SeedBuses, d.SeedBus) {
		return "", fmt.Errorf("testguest: domain %q: seed bus %q is not one of %s", d.Name, d.SeedBus, strings.Join(SeedBuses, ", "))
	}
	mem := d.MemoryMiB
	if mem == 0 {
		mem = 128
	}
	dom := libvirtxml.Domain{
		Type:   "qemu",
		Name:   d.Name,
		Memory: &libvirtxml.DomainMemory{Value: mem, Unit: "MiB"},
		VCPU:   &libvirtxml.DomainVCPU{Value: 1},
		OS: &libvirtxml.DomainOS{
			Type:        &libvirtxml.DomainOSType{Arch: "x86_64", Type: "hvm"},
			BootDevices: []libvirtxml.DomainBootDevice{{Dev: "hd"}},
		},
		Features: &libvirtxml.DomainFeatureList{ACPI: &libvirtxml.DomainFeature{}},
		Devices:  d.devices(),
	}
	return dom.Marshal()
}

func (d Domain) devices() *libvirtxml.DomainDeviceList {
	disks := []libvirtxml.DomainDisk{fileDisk(d.Disk, "virtio", "vda", false)}
	var controllers []libvirtxml.DomainController
	switch {
	case d.Seed == "":
	case d.SeedBus == "" || d.SeedBus == "virtio":
		disks = append(disks, fileDisk(d.Seed, "virtio", "vdb", true))
	default:
		// libvirt refuses read-only SATA disks (only cdroms); the guest mounts the seed read-only anyway.
		disks = append(disks, fileDisk(d.Seed, d.SeedBus, "sda", d.SeedBus != "sata"))
		// libvirt's default SCSI controller is an LSI one the guest has no driver for.
		if d.SeedBus == "scsi" {
			controllers = append(controllers, libvirtxml.DomainController{Type: "scsi", Model: "virtio-scsi"})
		}
	}
	devs := &libvirtxml.DomainDeviceList{
		Disks:       disks,
		Controllers: controllers,
		Channels: []libvirtxml.DomainChannel{{
			Source: &libvirtxml.DomainChardevSource{UNIX: &libvirtxml.DomainChardevSourceUNIX{Mode: "bind"}},
			Target: &libvirtxml.DomainChannelTarget{VirtIO: &libvirtxml.DomainChannelTargetVirtIO{Name: AgentChannel}},
		}},
		Serials: []libvirtxml.DomainSerial{{
			Source: &libvirtxml.DomainChardevSource{File: &libvirtxml.DomainChardevSourceFile{Path: d.Console}},
			Target: &libvirtxml.DomainSerialTarget{Port: new(uint)},
		}},
	}
	if d.Network != "" {
		devs.Interfaces = []libvirtxml.DomainInterface{{
			Source: &libvirtxml.DomainInterfaceSource{Network: &libvirtxml.DomainInterfaceSourceNetwork{Network: d.Network}},
			Model:  &libvirtxml.DomainInterfaceModel{Type: "virtio"},
		}}
	}
	return devs
}

func fileDisk(path, bus, target string, readOnly bool) libvirtxml.DomainDisk {
	format := "raw"
	if strings.HasSuffix(path, ".qcow2") {
		format = "qcow2"
	}
	disk := libvirtxml.DomainDisk{
		Device: "disk",
		Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: format},
		Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: path}},
		Target: &libvirtxml.DomainDiskTarget{Dev: target, Bus: bus},
	}
	if readOnly {
		disk.ReadOnly = &libvirtxml.DomainDiskReadOnly{}
	}
	return disk
}

// AgentHostName asks the guest's agent for its hostname (guest-get-host-name),
// retrying until it answers or timeout passes (the agent starts a few
// seconds into the boot); the error carries the agent's last answer.
func AgentHostName(l *libvirt.Libvirt, dom libvirt.Domain, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		name, err := agentHostName(l, dom)
		if err == nil {
			return name, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("testguest: agent of domain %s gave no hostname within %s: %w", dom.Name, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func agentHostName(l *libvirt.Libvirt, dom libvirt.Domain) (string, error) {
	// 5 s: libvirt's own bound on one agent call, as the RPC has none.
	res, err := l.QEMUDomainAgentCommand(dom, `{"execute":"guest-get-host-name"}`, 5, 0)
	if err != nil {
		return "", err
	}
	if len(res) == 0 {
		return "", errors.New("empty answer")
	}
	var answer struct {
		Return struct {
			HostName string `json:"host-name"`
		} `json:"return"`
	}
	if err := json.Unmarshal([]byte(res[0]), &answer); err != nil {
		return "", fmt.Errorf("answer %q: %w", res[0], err)
	}
	return answer.Return.HostName, nil
}
