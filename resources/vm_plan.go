package resources

import (
	"context"
	"fmt"
	"math/big"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// ValidateConfig catches combinations libvirt would only refuse at apply time.
func (r *vmResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	validateCloudInit(ctx, req, &resp.Diagnostics)
	// The rest checks only the disk blocks: read just them, not the whole
	// configuration (this runs for every VM on every plan).
	if rawLen(req.Config.Raw, "disk") <= 0 {
		return
	}
	var cfgDisks types.List
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("disk"), &cfgDisks)...)
	if resp.Diagnostics.HasError() {
		return
	}
	disks, diags := disksOf(ctx, cfgDisks)
	resp.Diagnostics.Append(diags...)
	seen := map[string]int{}
	for i, d := range disks {
		at := path.Root("disk").AtListIndex(i)
		cdrom := d.Device.ValueString() == "cdrom"
		if !cdrom && d.Path.IsNull() && d.Volume.IsNull() && !d.Device.IsUnknown() {
			resp.Diagnostics.AddAttributeError(at, "Missing disk source",
				"A disk needs `path`, or `pool` and `volume`; only a cdrom (`device = \"cdrom\"`) may be empty.")
		}
		if cdrom && !d.ReadOnly.IsNull() && !d.ReadOnly.IsUnknown() && !d.ReadOnly.ValueBool() {
			resp.Diagnostics.AddAttributeError(at.AtName("read_only"), "Invalid read_only",
				"A cdrom is always read-only; remove read_only or set it to true.")
		}
		if cdrom && d.Bus.ValueString() == "virtio" {
			resp.Diagnostics.AddAttributeError(at.AtName("bus"), "Invalid bus",
				"QEMU has no virtio cdrom; use sata, scsi or ide (or leave bus unset for sata).")
		}
		if t := d.Target.ValueString(); t != "" {
			if j, dup := seen[t]; dup {
				resp.Diagnostics.AddAttributeError(at.AtName("target"), "Duplicate disk target",
					fmt.Sprintf("Target %q is already used by disk %d; give each disk its own target or leave target unset.", t, j))
			}
			seen[t] = i
		}
	}
}

// ModifyPlan fills in what the provider knows before apply (disk bus,
// target, read_only and interface MACs it will keep) so that a plan with no
// real change stays empty, and turns leftover drift into an update that
// re-records the configuration.
//
// It runs for every VM on every plan, so it reads only the attributes it
// works on and writes back only those it changes: converting the whole
// plan, configuration and state to vmModel and back cost more than
// everything else the provider does in a plan.
func (r *vmResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	planGuestFiles(ctx, req, resp)
	if req.State.Raw.IsNull() {
		r.planNameCheck(ctx, req.Plan, &resp.Diagnostics)
	}
	diags := &resp.Diagnostics
	for _, b := range []struct {
		name string
		plan func(ctx context.Context, plan, cfg, prior types.List) (types.List, diag.Diagnostics)
	}{{"disk", planDisks}, {"network_interface", planNICs}} {
		if rawLen(req.Plan.Raw, b.name) <= 0 {
			continue // unknown or no blocks: nothing to fill in
		}
		at := path.Root(b.name)
		var planned, configured, prior types.List
		diags.Append(req.Plan.GetAttribute(ctx, at, &planned)...)
		diags.Append(req.Config.GetAttribute(ctx, at, &configured)...)
		if !req.State.Raw.IsNull() {
			diags.Append(req.State.GetAttribute(ctx, at, &prior)...)
		}
		if diags.HasError() {
			return
		}
		out, d := b.plan(ctx, planned, configured, prior)
		diags.Append(d...)
		if !d.HasError() && !out.Equal(planned) {
			diags.Append(resp.Plan.SetAttribute(ctx, at, out)...)
		}
	}
	r.planPower(ctx, req, resp) // restart and power-state warnings; domain_id unknown when the VM restarts
	rerecord := !req.State.Raw.IsNull() && (rawLen(req.State.Raw, "drift") > 0 || rawNull(req.State.Raw, "config_json"))
	if !req.State.Raw.IsNull() && !rerecord {
		planComputed(ctx, req, resp)
	}
	if rerecord {
		// Drift in a field the configuration does not pin (a disk format,
		// arch...) or a missing row: the apply redefines what the
		// configuration says and records the result, which ends the drift.
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("drift"), types.ListUnknown(driftObjType))...)
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("config_json"), types.StringUnknown())...)
	}
}

// rawAttr is the top-level attribute name of resource data v (plan, state
// or configuration), read from the protocol value without the framework's
// schema walk; ok is false when v is null or unknown.
func rawAttr(v tftypes.Value, name string) (tftypes.Value, bool) {
	x, err := v.ApplyTerraform5AttributePathStep(tftypes.AttributeName(name))
	if err != nil {
		return tftypes.Value{}, false
	}
	a, ok := x.(tftypes.Value)
	return a, ok
}

// rawLen is the number of elements of the list attribute name of v; -1
// when it (or v) is null or unknown.
func rawLen(v tftypes.Value, name string) int {
	a, ok := rawAttr(v, name)
	if !ok || a.IsNull() || !a.IsKnown() {
		return -1
	}
	var elems []tftypes.Value
	if a.As(&elems) != nil {
		return -1
	}
	return len(elems)
}

// rawNull tells whether the attribute name of v is null.
func rawNull(v tftypes.Value, name string) bool {
	a, ok := rawAttr(v, name)
	return ok && a.IsNull()
}

// rawStringOK is the string attribute name of v; ok is false when it is
// absent, null or unknown.
func rawStringOK(v tftypes.Value, name string) (string, bool) {
	a, ok := rawAttr(v, name)
	var s string
	if !ok || !a.IsKnown() || a.IsNull() || a.As(&s) != nil {
		return "", false
	}
	return s, true
}

// rawBoolOK: see rawStringOK.
func rawBoolOK(v tftypes.Value, name string) (bool, bool) {
	a, ok := rawAttr(v, name)
	var b bool
	if !ok || !a.IsKnown() || a.IsNull() || a.As(&b) != nil {
		return false, false
	}
	return b, true
}

// rawIntOK: see rawStringOK; ok is false for a number that is no int64.
func rawIntOK(v tftypes.Value, name string) (int64, bool) {
	a, ok := rawAttr(v, name)
	var n big.Float
	if !ok || !a.IsKnown() || a.IsNull() || a.As(&n) != nil {
		return 0, false
	}
	i, acc := n.Int64()
	return i, acc == big.Exact
}

// rawString is rawStringOK's value, "" when there is none.
func rawString(v tftypes.Value, name string) string {
	s, _ := rawStringOK(v, name)
	return s
}

// rawBool is rawBoolOK's value, false when there is none.
func rawBool(v tftypes.Value, name string) bool {
	b, _ := rawBoolOK(v, name)
	return b
}

// planDisks resolves each disk's computed attributes: the configured value,
// else the prior value when the disk at that position still has the same
// source, else the provider's default (bus, read_only, target) or unknown
// (format, taken from the volume or left to libvirt at apply).
func planDisks(ctx context.Context, planList, cfgList, priorList types.List) (types.List, diag.Diagnostics) {
	planned, diags := disksOf(ctx, planList)
	configured, d := disksOf(ctx, cfgList)
	diags.Append(d...)
	old, d := disksOf(ctx, priorList)
	diags.Append(d...)
	if diags.HasError() || len(configured) != len(planned) {
		return planList, diags
	}
	reserved := map[string]bool{}
	for _, c := range configured {
		reserved[c.Target.ValueString()] = true
	}
	spec := make([]vminfo.Disk, len(planned))
	for i := range planned {
		p, c := &planned[i], configured[i]
		var was *vmDiskModel
		if i < len(old) && vmSameSource(old[i], c) {
			was = &old[i]
		}
		if c.Bus.IsNull() {
			p.Bus = types.StringValue(vminfo.DefaultBus(p.Device.ValueString()))
			if was != nil && !was.Bus.IsNull() && was.Device.Equal(p.Device) {
				p.Bus = was.Bus
			}
		}
		if c.ReadOnly.IsNull() {
			p.ReadOnly = types.BoolValue(p.Device.ValueString() == "cdrom")
			if was != nil && was.Device.Equal(p.Device) {
				p.ReadOnly = was.ReadOnly
			}
		}
		if c.Target.IsNull() {
			p.Target = types.StringNull()
			if t := targetOf(was); t != "" && !reserved[t] {
				p.Target, reserved[t] = types.StringValue(t), true
			}
		}
		if c.Format.IsNull() {
			// A path disk gets BuildXML's default; a volume's format is
			// read from the volume at apply.
			p.Format = types.StringUnknown()
			if !p.Path.IsNull() {
				p.Format = types.StringValue(vminfo.DefaultPathFormat)
			}
			if was != nil && unchangedBesideFormat(*was, *p) {
				p.Format = was.Format // kept as it is, whatever libvirt recorded
			}
		}
		spec[i] = vminfo.Disk{Device: p.Device.ValueString(), Bus: p.Bus.ValueString(), Target: p.Target.ValueString(),
			Path: "/placeholder"}
	}
	// Targets left empty are assigned exactly as BuildXML will assign them.
	assigned := vminfo.Spec{Disks: spec}.Expected().Disks
	for i := range planned {
		if planned[i].Target.IsNull() && !planned[i].Target.IsUnknown() {
			planned[i].Target = types.StringValue(assigned[i].Target)
		}
	}
	out, d := diskList(planned)
	diags.Append(d...)
	return out, diags
}

func targetOf(d *vmDiskModel) string {
	if d == nil {
		return ""
	}
	return d.Target.ValueString()
}

// vmSameSource tells whether the prior disk a and configured disk b point at
// the same image.
func vmSameSource(a, b vmDiskModel) bool {
	return a.Path.ValueString() == b.Path.ValueString() && a.Pool.ValueString() == b.Pool.ValueString() &&
		a.Volume.ValueString() == b.Volume.ValueString()
}

// unchangedBesideFormat tells whether a disk keeps its definition, so its
// format (whatever libvirt recorded) stays too.
func unchangedBesideFormat(was, now vmDiskModel) bool {
	return vmSameSource(was, now) && was.Device.Equal(now.Device) && was.Bus.Equal(now.Bus) &&
		was.ReadOnly.Equal(now.ReadOnly) && was.Target.Equal(now.Target)
}

// planNICs keeps the MAC libvirt assigned, and the model it has (none
// included: an imported interface may have no <model>), for an interface
// whose network or bridge did not change; a new interface gets its MAC at
// apply and the default model.
func planNICs(ctx context.Context, planList, cfgList, priorList types.List) (types.List, diag.Diagnostics) {
	planned, diags := nicsOf(ctx, planList)
	configured, d := nicsOf(ctx, cfgList)
	diags.Append(d...)
	old, d := nicsOf(ctx, priorList)
	diags.Append(d...)
	if diags.HasError() || len(configured) != len(planned) {
		return planList, diags
	}
	for i := range planned {
		same := i < len(old) && old[i].Network.Equal(configured[i].Network) && old[i].Bridge.Equal(configured[i].Bridge)
		if configured[i].Model.IsNull() {
			planned[i].Model = types.StringValue(vminfo.DefaultInterfaceModel)
			if same {
				planned[i].Model = old[i].Model
			}
		}
		if configured[i].MAC.IsNull() {
			planned[i].MAC = types.StringUnknown()
			if same {
				planned[i].MAC = old[i].MAC
			}
		}
	}
	out, d := nicList(planned)
	diags.Append(d...)
	return out, diags
}

// keptAtLeast plans a maximum (max_memory, max_vcpu) that is not
// configured: the prior value while it is at least the attribute it bounds,
// else that attribute's planned value (so at create it equals it). A
// lowered memory or vcpu then stays within the running maximum: live.
func keptAtLeast(of string) planmodifier.Int64 { return keptAtLeastModifier{of: of} }

type keptAtLeastModifier struct{ of string }

func (m keptAtLeastModifier) Description(context.Context) string {
	return "defaults to " + m.of + " at create, then kept while at least " + m.of
}
func (m keptAtLeastModifier) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (m keptAtLeastModifier) PlanModifyInt64(ctx context.Context, req planmodifier.Int64Request, resp *planmodifier.Int64Response) {
	if !req.ConfigValue.IsNull() {
		return
	}
	var bound types.Int64
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root(m.of), &bound)...)
	resp.PlanValue = bound
	if !req.StateValue.IsNull() && !req.StateValue.IsUnknown() && !bound.IsUnknown() &&
		req.StateValue.ValueInt64() >= bound.ValueInt64() {
		resp.PlanValue = req.StateValue
	}
}
