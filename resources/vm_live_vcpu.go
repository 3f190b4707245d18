package resources

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
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
// as a restart when it goes below the vCPUs the guest booted with. It
// reports whether a decrease is left to do live.
func unplugRestart(changes []vmChange, liveDoc string, live, def vminfo.VMInfo) (liveDecrease bool) {
	c, ok := vcpuUnplugChange(liveDoc, live.Vcpu, def.Vcpu)
	if !ok {
		return def.Vcpu < live.Vcpu
	}
	for i := range changes {
		if changes[i].field == "vcpu" {
			changes[i] = c
		}
	}
	return false
}

// vcpuPlan is what a plan knows of a vcpu decrease on a running domain.
type vcpuPlan struct {
	restart vmChange // below the boot vCPUs: a restart (ok set)
	ok      bool
	unplug  bool // of vCPUs plugged in live: live if the guest releases them
}

// planVcpuUnplug reads the running domain (hostID, name) for a decrease
// from -> to; nothing when there is none or it cannot (the refresh said
// why).
func (r *vmResource) planVcpuUnplug(ctx context.Context, hostID, name string, from, to vminfo.VMInfo) vcpuPlan {
	if to.Vcpu >= from.Vcpu {
		return vcpuPlan{}
	}
	conn, dom, ok := r.planLookup(ctx, hostID, name)
	if !ok {
		return vcpuPlan{}
	}
	doc, err := conn.DomainXML(ctx, dom, false)
	if err != nil {
		return vcpuPlan{}
	}
	if c, ok := vcpuUnplugChange(doc, from.Vcpu, to.Vcpu); ok {
		return vcpuPlan{restart: c, ok: true}
	}
	var x libvirtxml.Domain
	return vcpuPlan{unplug: x.Unmarshal(doc) == nil && x.Type != "test"} // the test driver unplugs any
}

// warnUnplug is the plan's word on a decrease of vCPUs plugged in live: the
// guest must release them, and with restart = "auto" the apply restarts
// the VM when it does not (libvirt times out), so domain_id is unknown.
func warnUnplug(name, hostID string, from, to uint, diags *diag.Diagnostics) {
	diags.AddWarning("VM "+strconv.Quote(name)+" may be restarted",
		fmt.Sprintf("vm %q on host %q: vcpu %d -> %d unplugs vCPUs from the running guest, which must release them; if it "+
			"does not within libvirt's timeout, the apply restarts the VM (forced off after shutdown_timeout) with %d vCPUs. "+
			"Set restart = \"never\" to leave the count for its next boot instead.", name, hostID, from, to, to))
}

// unplugLive takes vCPUs plugged in live out of the running domain, down
// to n. When the guest does not release them, a restart the plan allowed
// (restart = "auto", domain_id unknown) applies the count: restart is
// true. With restart = "never" the count waits for the next boot (a
// warning; pending_restart stays true); otherwise it is an error.
func unplugLive(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, plan vmModel, n uint, diags *diag.Diagnostics) (restart, ok bool) {
	tflog.Info(ctx, "unplugging vcpus live", map[string]any{"vcpu": n})
	err := conn.SetVcpusLive(ctx, dom, n)
	if err == nil {
		return false, true
	}
	name := strconv.Quote(dom.Name)
	switch {
	case plan.Restart.ValueString() == vmRestartAuto && plan.DomainID.IsUnknown():
		diags.AddWarning("VM "+name+" restarted to unplug vCPUs",
			fmt.Sprintf("vm %s on host %q did not release the vCPUs to unplug (%v); it is restarted with %d vCPUs, as the plan "+
				"said it might be.", name, conn.HostID(), err, n))
		return true, true
	case plan.Restart.ValueString() == vmRestartNever:
		diags.AddWarning("VM "+name+" waits for a restart",
			fmt.Sprintf("vm %s on host %q did not release the vCPUs to unplug (%v); its definition has %d vCPUs, which the "+
				"guest gets at its next boot (restart = \"never\"; pending_restart is true until then).", name, conn.HostID(), err, n))
		return false, true
	}
	diags.AddError("Unable to change the vCPUs of the running VM", err.Error()+
		"\nThe definition has the new count; it applies at the next boot. Plan and apply again: the plan then says the VM may be restarted.")
	return false, false
}
