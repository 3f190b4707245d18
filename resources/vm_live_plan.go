package resources

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// planPower is the plan's word on the running VM: a paused or pmsuspended
// domain is resumed (and shut down if running = false), a crashed one is
// started again, and a change that needs a restart is announced (or, with
// restart = "never", said to wait for the next boot). domain_id stays known
// unless the VM starts, stops or restarts.
func (r *vmResource) planPower(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	st, pl := req.State.Raw, resp.Plan.Raw // the plan with disks and MACs filled in
	if st.IsNull() {
		return
	}
	name, hostID := rawString(st, "name"), rawString(st, "host_id")
	state := rawString(st, "state")
	wasRunning, _ := rawBoolOK(st, "running")
	wantRunning, _ := rawBoolOK(pl, "running")
	diags := &resp.Diagnostics
	keepID := wasRunning == wantRunning
	switch {
	case state == "paused" || state == "pmsuspended":
		// running counts it as running, so nothing else would show: the
		// update rewrites what it reads back.
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("state"), types.StringUnknown())...)
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("config_json"), types.StringUnknown())...)
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("pending_restart"), types.BoolUnknown())...)
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("ip_addresses"), types.ListUnknown(types.StringType))...)
		what := "resumes it"
		if !wantRunning {
			what = "resumes it, then shuts it down (libvirt refuses an ACPI shutdown of a paused domain)"
		}
		diags.AddWarning("VM "+strconv.Quote(name)+" is "+state,
			fmt.Sprintf("vm %q on host %q is %s; running = %t, so the apply %s.", name, hostID, state, wantRunning, what))
	case !wasRunning && wantRunning && r.crashed(ctx, hostID, name, state):
		diags.AddWarning("VM "+strconv.Quote(name)+" crashed",
			fmt.Sprintf("vm %q on host %q crashed (libvirt state %q, reason crashed); the apply starts it again. "+
				"Its console log or the host's qemu log may say why.", name, hostID, state))
	}
	if keepID && wasRunning && !pl.Equal(st) && r.planRestart(ctx, req.State, resp.Plan, diags) {
		keepID = false
	}
	if !keepID {
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("domain_id"), types.Int64Unknown())...)
	}
}

// crashed tells whether the stopped domain crashed: state "crashed", or
// shut off with reason crashed (QEMU's default on_crash), which only
// libvirt can say.
func (r *vmResource) crashed(ctx context.Context, hostID, name, state string) bool {
	if state == "crashed" {
		return true
	}
	conn, dom, ok := r.planLookup(ctx, hostID, name)
	if !ok {
		return false
	}
	s, reason, err := conn.StateReason(ctx, dom)
	return err == nil && vminfo.Runtime{State: s, Reason: reason}.Crashed()
}

// planLookup finds the domain a plan asks libvirt about; ok is false when
// it cannot (the refresh already said why).
func (r *vmResource) planLookup(ctx context.Context, hostID, name string) (*hypervisor.Conn, hypervisor.Domain, bool) {
	if r.data == nil {
		return nil, hypervisor.Domain{}, false
	}
	conn, _, err := r.data.HostConn(ctx, hostID)
	if err != nil {
		return nil, hypervisor.Domain{}, false
	}
	dom, err := conn.LookupDomain(ctx, name)
	return conn, dom, err == nil
}

// planRestart warns of the changes from state to plan that a running VM
// takes only at a restart, by vmChangeRules, and tells whether the apply
// restarts it (restart = "auto"). A restart an earlier apply left pending
// is taken now too, when restart becomes auto.
func (r *vmResource) planRestart(ctx context.Context, state tfsdk.State, planned tfsdk.Plan, diags *diag.Diagnostics) bool {
	var prior, plan vmModel
	diags.Append(getVM(ctx, state, &prior)...)
	diags.Append(getVM(ctx, planned, &plan)...)
	if diags.HasError() || !plan.Running.ValueBool() {
		return false
	}
	from, d := prior.spec(ctx)
	diags.Append(d...)
	to, d := plan.spec(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return false
	}
	changes := needRestart(vmChanges(from.Expected(), to.Expected()))
	vcpus := r.planVcpuUnplug(ctx, plan.HostID.ValueString(), plan.Name.ValueString(), from.Expected(), to.Expected())
	if vcpus.ok {
		changes = append(changes, vcpus.restart)
	}
	if r.warnAgentRestart(ctx, state.Raw, planned.Raw, diags) {
		changes = append(changes, vmChange{field: "wait_for_ip.source", rule: vmChangeRule{Mode: vmRestart,
			Why: "the agent channel needs a virtio-serial controller, which QEMU cannot plug in live"}})
	}
	if prior.PendingRestart.ValueBool() {
		changes = append(changes, vmChange{field: "pending_restart", rule: vmChangeRule{Mode: vmRestart,
			Why: "changes an earlier apply left for the next boot"}})
	}
	name, hostID := plan.Name.ValueString(), plan.HostID.ValueString()
	if len(changes) == 0 && vcpus.unplug && plan.Restart.ValueString() == vmRestartAuto {
		warnUnplug(name, hostID, from.Expected().Vcpu, to.Expected().Vcpu, diags)
		return true
	}
	if len(changes) == 0 {
		return false
	}
	if plan.Restart.ValueString() == vmRestartNever {
		diags.AddWarning("VM "+strconv.Quote(name)+" needs a restart it will not get",
			fmt.Sprintf("vm %q on host %q: %s. With restart = \"never\" the apply changes only its definition; the running "+
				"guest keeps its configuration and pending_restart is true until it restarts.", name, hostID, changeList(changes)))
		return false
	}
	diags.AddWarning("VM "+strconv.Quote(name)+" will be restarted",
		fmt.Sprintf("vm %q on host %q is running; the apply shuts it down (forced off after shutdown_timeout) and starts it "+
			"again for: %s. Set restart = \"never\" to change only its definition.", name, hostID, changeList(changes)))
	return true
}
