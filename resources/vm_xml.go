package resources

import (
	"fmt"
	"slices"

	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// mergeDefinition applies the parts of built (BuildXML's rendering of the
// plan) that the provider manages — memory, vCPUs, graphics, disks,
// interfaces — onto current, the domain's persistent definition, and keeps
// everything else: devices libvirt added (controllers, video, addresses)
// and anything an imported domain had. An unchanged disk or interface keeps
// its own element, so its PCI address does not move. changed reports
// whether the result differs from current in what the provider manages.
// formats are the spec's disk formats before BuildXML's defaults: a disk
// whose format the plan leaves open ("") matches a current disk of any
// format, so an unchanged disk is never rewritten for a default.
func mergeDefinition(current, built string, formats []string) (merged string, changed bool, err error) {
	var cur, want libvirtxml.Domain
	if err := cur.Unmarshal(current); err != nil {
		return "", false, fmt.Errorf("parse the current definition: %w", err)
	}
	if err := want.Unmarshal(built); err != nil {
		return "", false, fmt.Errorf("parse the planned definition: %w (this is a bug in the provider)", err)
	}
	ci, err := vminfo.FromXML(current, vminfo.Runtime{})
	if err != nil {
		return "", false, err
	}
	wi, err := vminfo.FromXML(built, vminfo.Runtime{})
	if err != nil {
		return "", false, fmt.Errorf("%w (this is a bug in the provider)", err)
	}
	if cur.Devices == nil {
		cur.Devices = &libvirtxml.DomainDeviceList{}
	}
	wantDevs := want.Devices
	if wantDevs == nil {
		wantDevs = &libvirtxml.DomainDeviceList{}
	}

	if ci.MaxMem != wi.MaxMem || ci.Memory != wi.Memory {
		cur.Memory, cur.CurrentMemory, changed = want.Memory, want.CurrentMemory, true
	}
	if ci.Vcpu != wi.Vcpu {
		cur.VCPU, cur.VCPUs, changed = want.VCPU, nil, true
		if cur.CPU != nil && cur.CPU.Topology != nil {
			cur.CPU.Topology = nil // a topology for the old count would be refused
		}
	}
	if ci.Graphics != wi.Graphics {
		cur.Devices.Graphics, changed = wantDevs.Graphics, true
	}
	for i := range wi.Disks {
		if i < len(formats) && formats[i] == "" {
			wi.Disks[i].Format = ""
		}
	}
	disks, disksChanged := mergeDisks(cur.Devices.Disks, ci.Disks, wantDevs.Disks, wi.Disks)
	cur.Devices.Disks = disks
	nics, nicsChanged := mergeNICs(cur.Devices.Interfaces, ci.Interfaces, wantDevs.Interfaces, wi.Interfaces)
	cur.Devices.Interfaces = nics
	changed = changed || disksChanged || nicsChanged
	changed = mergeAgentChannel(cur.Devices, wantDevs) || changed
	if disksChanged {
		cur.Devices.Controllers = addControllers(cur.Devices.Controllers, wantDevs.Controllers)
	}
	if !changed {
		return current, false, nil
	}
	out, err := cur.Marshal()
	if err != nil {
		return "", false, fmt.Errorf("render the merged definition: %w", err)
	}
	return out, true, nil
}

// mergeDisks returns the planned disks in planned order, reusing the
// current element of a disk whose target and configuration are unchanged.
// A planned disk that leaves its format to libvirt matches any format.
func mergeDisks(cur []libvirtxml.DomainDisk, curInfo []vminfo.Disk, want []libvirtxml.DomainDisk, wantInfo []vminfo.Disk) ([]libvirtxml.DomainDisk, bool) {
	out := make([]libvirtxml.DomainDisk, len(want))
	changed := len(cur) != len(want)
	for i, w := range wantInfo {
		out[i] = want[i]
		j := indexDisk(curInfo, w)
		if j < 0 {
			changed = true
			continue
		}
		out[i] = cur[j]
		changed = changed || j != i
	}
	return out, changed
}

func indexDisk(disks []vminfo.Disk, w vminfo.Disk) int {
	for j, c := range disks {
		if c.Target == w.Target && c.Device == w.Device && c.Bus == w.Bus && c.Path == w.Path &&
			c.Pool == w.Pool && c.Volume == w.Volume && c.ReadOnly == w.ReadOnly &&
			(w.Format == "" || w.Format == c.Format) {
			return j
		}
	}
	return -1
}

// mergeNICs matches the managed interfaces (on a network or a bridge) by
// position, as network_interface blocks are; a planned interface without a
// MAC matches the current one's. Interfaces of other kinds (direct, user...)
// are not the configuration's to change: they follow, as they are.
func mergeNICs(cur []libvirtxml.DomainInterface, curInfo []vminfo.Interface, want []libvirtxml.DomainInterface, wantInfo []vminfo.Interface) ([]libvirtxml.DomainInterface, bool) {
	var managed, others []libvirtxml.DomainInterface
	var managedInfo []vminfo.Interface
	for i, c := range curInfo {
		if slices.Contains(vminfo.InterfaceTypes, c.Type) {
			managed, managedInfo = append(managed, cur[i]), append(managedInfo, c)
		} else {
			others = append(others, cur[i])
		}
	}
	out := make([]libvirtxml.DomainInterface, len(want), len(want)+len(others))
	changed := len(managed) != len(want)
	for i, w := range wantInfo {
		out[i] = want[i]
		if i >= len(managedInfo) {
			continue
		}
		c := managedInfo[i]
		if c.Type == w.Type && c.Source == w.Source && c.Model == w.Model && (w.MAC == "" || w.MAC == c.MAC) {
			out[i] = managed[i]
			continue
		}
		changed = true
	}
	return append(out, others...), changed
}

// addControllers adds the controllers BuildXML asked for (virtio-scsi for a
// scsi disk) whose type the domain does not have yet.
func addControllers(cur, want []libvirtxml.DomainController) []libvirtxml.DomainController {
	for _, w := range want {
		found := false
		for _, c := range cur {
			found = found || c.Type == w.Type
		}
		if !found {
			cur = append(cur, w)
		}
	}
	return cur
}
