package resources

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
)

// What a virtumancer_volume plan checks against the volume it would change:
// a capacity that shrinks is refused, and a destroy or a replacement names
// the VMs and volumes that still use the volume.

// replaced reports whether the plan replaces the volume: an attribute
// with RequiresReplace changed (the framework does not tell ModifyPlan)
// or the source's content did.
func (m *volumeModel) replaced(prior *volumeModel, sourceChanged bool) bool {
	return sourceChanged || !m.HostID.Equal(prior.HostID) || !m.Pool.Equal(prior.Pool) || !m.Name.Equal(prior.Name) ||
		!m.Format.Equal(prior.Format) || !m.BaseVolume.Equal(prior.BaseVolume)
}

// shrinkError is the plan-time refusal of a smaller capacity. A capacity
// not known yet is checked again at apply (ResizeVolume refuses too).
// users, when not empty, names what uses the volume now: a replacement
// fails too while they remain. `-replace` and a taint plan an update
// first, so they meet this check as well.
func shrinkError(plan, prior *volumeModel, users string) diag.Diagnostics {
	if plan.Capacity.IsUnknown() || plan.Capacity.IsNull() || plan.Capacity.ValueInt64() >= prior.Capacity.ValueInt64() {
		return nil
	}
	detail := fmt.Sprintf("capacity %d MiB is less than the %d MiB volume %q holds: shrinking would lose the data past the new end. "+
		"Keep capacity at %d or more. To shrink, replace the volume deliberately: give it a new name (a new, empty volume "+
		"is created and this one destroyed), or destroy it first with `terraform destroy -target=<this resource>` "+
		"(`-replace` with the smaller capacity meets this check too).",
		plan.Capacity.ValueInt64(), prior.Capacity.ValueInt64(), prior.Name.ValueString(), prior.Capacity.ValueInt64())
	if users != "" {
		detail += fmt.Sprintf(" It is used now by %s: a replacement fails as well until nothing uses it, since the apply "+
			"never deletes a volume in use. Nothing was changed.", users)
	}
	return diag.Diagnostics{diag.NewAttributeErrorDiagnostic(path.Root("capacity"), "Volume capacity cannot shrink", detail)}
}

// usersOf names what uses the volume now, for a message; "" when nothing
// does or when asking failed (Delete asks again before removing anything).
func (r *volumeResource) usersOf(ctx context.Context, v *volumeModel) string {
	if r.data == nil {
		return ""
	}
	conn, _, err := r.data.HostConn(ctx, v.HostID.ValueString())
	if err != nil {
		return ""
	}
	users, err := conn.PlanVolumeUsers(ctx, v.Pool.ValueString(), v.Name.ValueString())
	if err != nil || users.Empty() {
		return ""
	}
	return users.String()
}

// warnUsers warns when the volume that a destroy or replacement (what)
// would delete has users. In a `terraform destroy`, or when the users are
// replaced along with the volume, Terraform deletes them first and Delete
// then finds none; the warning says so rather than guess, since a plan
// cannot see what else it does. Failing to ask is a warning too: Delete
// asks again and refuses then.
func (r *volumeResource) warnUsers(ctx context.Context, prior *volumeModel, what string, diags *diag.Diagnostics) {
	if r.data == nil {
		return
	}
	name, pool, host := prior.Name.ValueString(), prior.Pool.ValueString(), prior.HostID.ValueString()
	conn, _, err := r.data.HostConn(ctx, host)
	if err != nil {
		diags.AddWarning("Unable to check what uses volume "+name,
			fmt.Sprintf("%s. Delete checks again before removing the volume and refuses while a VM or volume uses it.", err))
		return
	}
	users, err := conn.PlanVolumeUsers(ctx, pool, name)
	switch {
	case hypervisor.IsNotFound(err):
		return
	case err != nil:
		diags.AddWarning("Unable to check what uses volume "+name,
			fmt.Sprintf("%s. Delete checks again before removing the volume and refuses while a VM or volume uses it.", err))
		return
	case users.Empty():
		return
	}
	diags.AddWarning("Volume "+name+" is in use",
		fmt.Sprintf("This plan %s volume %q of pool %q on host %q, which is used now by %s. "+
			"Apply deletes it only once nothing uses it (it checks again first) and otherwise fails before removing anything. "+
			"This is fine when they go first in the same apply: `terraform destroy` does that, since it destroys the VMs and "+
			"overlays that refer to this volume before the volume. Otherwise destroy or change them first, or add "+
			"`lifecycle { replace_triggered_by = [<this volume>.path] }` to each VM and overlay that uses it, so that they are replaced along with it "+
			"(the path is new only when the volume is replaced: growing it replaces nothing).",
			what, name, pool, host, users))
}
