package resources

import (
	"context"
	"fmt"

	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// A vcpu decrease is live only down to the vCPUs the guest booted with:
// QEMU cannot unplug those (libvirt: "failed to find appropriate
// hotpluggable vcpus to reach the desired target vcpu count"). Below that
// count the change is a restart, announced by the plan like any other.

// bootVcpus counts the enabled vCPUs of a running domain's XML that cannot
// be unplugged. libvirt lists them as hotpluggable="no" in <vcpus> once a
// vCPU was plugged in; until then a QEMU domain has no <vcpus> and every
// vCPU it has is one it booted with. The test driver unplugs any: 0.
func bootVcpus(liveDoc string) uint {
	var x libvirtxml.Domain
	if x.Unmarshal(liveDoc) != nil || x.Type == "test" {
		return 0
	}
	if x.VCPUs == nil {
		if x.VCPU == nil {
			return 0
		}
		if x.VCPU.Current > 0 {
			return x.VCPU.Current
		}
		return x.VCPU.Value
	}
	var n uint
	for _, v := range x.VCPUs.VCPU {
		if v.Enabled == "yes" && v.Hotpluggable == "no" {
			n++
		}
	}
	return n
}

// vcpuUnplugChange is the restart a decrease to want vCPUs needs on a
// running domain that booted with more than want (liveDoc is its XML);
// ok is false when the decrease is live or there is none.
func vcpuUnplugChange(liveDoc string, have, want uint) (vmChange, bool) {
	if want >= have {
		return vmChange{}, false
	}
	booted := bootVcpus(liveDoc)
	if want >= booted {
		return vmChange{}, false
	}
	rule := vmRule("vcpu.boot")
	rule.Why += fmt.Sprintf(": it booted with %d and is to have %d", booted, want)
	return vmChange{field: "vcpu", rule: rule}, true
}

// unplugRestart reclassifies the vcpu change of a redefined running domain
// as a restart when it goes below the vCPUs the guest booted with.
func unplugRestart(changes []vmChange, liveDoc string, live, def vminfo.VMInfo) {
	c, ok := vcpuUnplugChange(liveDoc, live.Vcpu, def.Vcpu)
	if !ok {
		return
	}
	for i := range changes {
		if changes[i].field == "vcpu" {
			changes[i] = c
		}
	}
}

// planVcpuUnplug is vcpuUnplugChange for a plan: it reads the running
// domain (hostID, name); nothing when it cannot (the refresh said why).
func (r *vmResource) planVcpuUnplug(ctx context.Context, hostID, name string, from, to vminfo.VMInfo) (vmChange, bool) {
	if to.Vcpu >= from.Vcpu {
		return vmChange{}, false
	}
	conn, dom, ok := r.planLookup(ctx, hostID, name)
	if !ok {
		return vmChange{}, false
	}
	doc, err := conn.DomainXML(ctx, dom, false)
	if err != nil {
		return vmChange{}, false
	}
	return vcpuUnplugChange(doc, from.Vcpu, to.Vcpu)
}
