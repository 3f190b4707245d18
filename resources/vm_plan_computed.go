package resources

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// On an update the framework plans every computed attribute unknown, so a
// one-line change printed config_json whole with pending_restart, state,
// drift and ip_addresses as "(known after apply)". planComputed plans each
// of them as the value apply will set wherever that value is certain, and
// leaves unknown only what apply alone can tell (domain_id across a
// possible restart, addresses waited for).

// vmComputedAttrs are the attributes only the provider sets; the others
// come from the configuration, and their changes decide what is planned.
var vmComputedAttrs = map[string]bool{
	"id": true, "uuid": true, "domain_id": true, "state": true, "config_json": true, "drift": true,
	"pending_restart": true, "console_log": true, "ip_addresses": true, "unmanaged_devices": true,
}

// vmViewAttrs are the configuration attributes config_json records one to
// one, so the plan can write their new values into it (see predictView).
var vmViewAttrs = map[string]bool{"memory": true, "max_memory": true, "vcpu": true, "max_vcpu": true, "autostart": true, "graphics": true}

// vmUnrecordedAttrs change how the provider acts, not what config_json
// records.
var vmUnrecordedAttrs = map[string]bool{"running": true, "shutdown_timeout": true, "timeouts": true, "wait_for_ip": true, "restart": true}

// planComputed runs on updates only (state and plan both known).
func planComputed(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	plan, state := resp.Plan.Raw, req.State.Raw
	if plan.Equal(state) {
		return
	}
	changed, ok := changedConfigAttrs(plan, state)
	if !ok {
		return
	}
	diags := &resp.Diagnostics
	if rawLen(plan, "drift") < 0 {
		// Apply records the configuration it applied: nothing drifts after it.
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("drift"), driftValue(nil))...)
	}
	if rawNull(plan, "wait_for_ip") {
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("ip_addresses"), vmStringList(nil))...)
	}
	running, known := rawBoolOK(plan, "running")
	if !known {
		return
	}
	want := vminfo.StateName(vminfo.StateShutoff)
	if running {
		want = vminfo.StateName(vminfo.StateRunning)
	}
	if prior, ok := rawStringOK(state, "state"); ok && prior == want {
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("state"), types.StringValue(want))...)
		if !running {
			diags.Append(resp.Plan.SetAttribute(ctx, path.Root("domain_id"), types.Int64Value(0))...)
		}
	}
	if restart, _ := rawStringOK(plan, "restart"); !running || restart != "never" {
		// A stopped domain has no live definition to differ from the
		// persistent one, and a running one is restarted when it must be.
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("pending_restart"), types.BoolValue(false))...)
	}
	if view, ok := predictView(plan, state, changed); ok {
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("config_json"), types.StringValue(view))...)
	}
}

// changedConfigAttrs lists the configuration attributes whose planned
// value differs from the prior state; ok is false when either cannot be
// read as an object.
func changedConfigAttrs(plan, state tftypes.Value) (changed []string, ok bool) {
	var p, s map[string]tftypes.Value
	if plan.As(&p) != nil || state.As(&s) != nil {
		return nil, false
	}
	for name, v := range p {
		if !vmComputedAttrs[name] && !v.Equal(s[name]) {
			changed = append(changed, name)
		}
	}
	return changed, true
}

// vmMaxViewMiB keeps the KiB conversion of predictView exact; larger sizes
// are refused by the schema anyway.
const vmMaxViewMiB = 1 << 53

// predictView is config_json (as state holds it, see recordedView) after
// apply records the plan: the prior value with the planned memory, vcpu,
// their maxima, autostart and graphics. ok is false when anything else recorded changes
// (disks, interfaces, the seed...), when a value is unknown, or when there
// is no prior record to start from (apply records one).
func predictView(plan, state tftypes.Value, changed []string) (string, bool) {
	for _, name := range changed {
		if !vmViewAttrs[name] && !vmUnrecordedAttrs[name] {
			return "", false
		}
	}
	prior, ok := rawStringOK(state, "config_json")
	if !ok {
		return "", false
	}
	info, err := vminfo.Parse([]byte(prior))
	if err != nil {
		return "", false
	}
	memory, ok1 := rawIntOK(plan, "memory")
	maxMemory, ok2 := rawIntOK(plan, "max_memory")
	vcpu, ok3 := rawIntOK(plan, "vcpu")
	autostart, ok4 := rawBoolOK(plan, "autostart")
	graphics, ok5 := rawStringOK(plan, "graphics")
	maxVcpu, ok6 := rawIntOK(plan, "max_vcpu")
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || memory < 1 || maxMemory < memory || maxMemory > vmMaxViewMiB ||
		vcpu < 1 || maxVcpu < vcpu {
		return "", false
	}
	info.Memory, info.MaxMem = uint64(memory)*vmMiB, uint64(maxMemory)*vmMiB
	info.Vcpu, info.MaxVcpu, info.Autostart = uint(vcpu), uint(maxVcpu), autostart
	info.Graphics = vminfo.Graphics{VNC: graphics == "vnc", Spice: graphics == "spice"}
	view, err := info.ConfigView()
	return view, err == nil
}

// recordedView is config_json as state holds it: the VM's recorded
// configuration without the runtime fields (id, state, cpu_time, uptime)
// that `domain_id` and `state` show, so it changes only with the
// configuration.
func recordedView(info vminfo.VMInfo) types.String {
	view, err := info.ConfigView()
	if err != nil {
		return types.StringNull() // plain fields only: it does not fail
	}
	return types.StringValue(view)
}

// appliedView is config_json after an apply recorded info. When the plan
// promised a value, state must hold that one (anything else fails the
// apply as an inconsistent result); should the record differ, the next
// refresh shows the record.
func appliedView(ctx context.Context, info vminfo.VMInfo, planned types.String) types.String {
	got := recordedView(info)
	if planned.IsUnknown() || planned.IsNull() || planned.Equal(got) {
		return got
	}
	tflog.Warn(ctx, "the recorded configuration differs from the plan's prediction; state holds the prediction until the next refresh",
		map[string]any{"planned": planned.ValueString(), "recorded": got.ValueString()})
	return planned
}
