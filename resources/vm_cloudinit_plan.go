package resources

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// planGuestFiles is ModifyPlan's part for the files the provider makes for
// a VM: at create, console_log is planned null when no pool will hold it;
// on update, a change of cloud_init is said in a warning, since the plan
// cannot show what a sensitive user_data change does to the guest.
func planGuestFiles(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	diags := &resp.Diagnostics
	if req.State.Raw.IsNull() {
		var ci types.Object
		var disks types.List
		diags.Append(req.Plan.GetAttribute(ctx, path.Root("cloud_init"), &ci)...)
		diags.Append(req.Plan.GetAttribute(ctx, path.Root("disk"), &disks)...)
		if !diags.HasError() && !hasConsolePool(ctx, ci, disks) {
			diags.Append(resp.Plan.SetAttribute(ctx, path.Root("console_log"), types.StringNull())...)
		}
		return
	}
	if rawNull(req.State.Raw, "cloud_init") && rawNull(req.Plan.Raw, "cloud_init") {
		return // the common case: no seed before or after
	}
	var prior, planned types.Object
	var name, recorded types.String
	var running types.Bool
	diags.Append(req.State.GetAttribute(ctx, path.Root("cloud_init"), &prior)...)
	diags.Append(req.Plan.GetAttribute(ctx, path.Root("cloud_init"), &planned)...)
	diags.Append(req.Plan.GetAttribute(ctx, path.Root("name"), &name)...)
	diags.Append(req.Plan.GetAttribute(ctx, path.Root("running"), &running)...)
	diags.Append(req.State.GetAttribute(ctx, path.Root("config_json"), &recorded)...)
	if diags.HasError() || prior.Equal(planned) {
		return
	}
	was, now := cloudInitOf(prior), cloudInitOf(planned)
	if was == nil && now != nil && attachesSeed(recorded, name.ValueString(), now.Pool) {
		diags.AddAttributeWarning(path.Root("cloud_init"), "cloud_init taken over on vm "+name.ValueString(),
			fmt.Sprintf("The domain already attaches the seed volume %q of pool %q (an imported VM): apply rewrites it "+
				"from this block, and the definition stays as it is, so the VM is not restarted. If the block says what the "+
				"VM was created with, the seed and its instance-id stay the same.",
				seedVolumeName(name.ValueString()), now.Pool.ValueString()))
		return
	}
	summary, detail := seedChangeWarning(name.ValueString(), was, now, running.ValueBool())
	diags.AddAttributeWarning(path.Root("cloud_init"), summary, detail)
}

// attachesSeed tells whether the recorded configuration (config_json)
// attaches the VM's seed volume of pool.
func attachesSeed(recorded types.String, vm string, pool types.String) bool {
	rec, err := vminfo.Parse([]byte(recorded.ValueString()))
	if err != nil {
		return false
	}
	for _, d := range rec.Disks {
		if isSeedDisk(d, vm) && d.Pool == pool.ValueString() {
			return true
		}
	}
	return false
}

// seedChangeWarning says what apply does to the guest when cloud_init
// goes from was to now (nil: no block).
func seedChangeWarning(vm string, was, now *vmCloudInitModel, running bool) (summary, detail string) {
	vol := seedVolumeName(vm)
	restart := "The VM is stopped: it boots with the change at its next start."
	if running {
		restart = "This changes the domain's definition, so the running VM is restarted."
	}
	switch {
	case was == nil:
		return "cloud_init added to vm " + vm, fmt.Sprintf("Apply creates the NoCloud seed volume %q in pool %q and attaches it "+
			"read-only as a cdrom. %s cloud-init treats the boot that first sees the seed as a new instance.",
			vol, now.Pool.ValueString(), restart)
	case now == nil:
		return "cloud_init removed from vm " + vm, fmt.Sprintf("Apply detaches the seed cdrom and deletes the volume %q from "+
			"pool %q. %s", vol, was.Pool.ValueString(), restart)
	case !was.Pool.Equal(now.Pool):
		return "cloud_init seed moves on vm " + vm, fmt.Sprintf("Apply writes the seed volume %q in pool %q, attaches it "+
			"instead of the one in pool %q and then deletes that one. %s %s", vol, now.Pool.ValueString(),
			was.Pool.ValueString(), restart, newInstanceText(was, now))
	}
	return "cloud_init changes on vm " + vm, fmt.Sprintf("Apply rewrites the seed volume %q in pool %q. The VM is not "+
		"restarted for this: a running guest keeps reading its current seed until the domain next starts (running set to "+
		"false and back, a change that needs a restart, or virsh), and a stopped one reads the new seed when it starts. %s",
		vol, now.Pool.ValueString(), newInstanceText(was, now))
}

// newInstanceText says whether cloud-init will see the new seed as a new
// instance (and so run its first-boot modules again).
func newInstanceText(was, now *vmCloudInitModel) string {
	switch {
	case now.MetaData.IsNull():
		return "With the default meta_data the instance-id carries the seed's digest, so cloud-init treats that boot " +
			"as a new instance and runs its first-boot modules again."
	case was.MetaData.Equal(now.MetaData):
		return "meta_data (and with it the instance-id) is unchanged, so cloud-init treats that boot as the same " +
			"instance: only its per-boot modules see the change."
	}
	return "meta_data changes: cloud-init treats that boot as a new instance if its instance-id changed."
}

// hasConsolePool tells whether a new VM gets a console log: it goes to
// cloud_init.pool, else to the pool of the first disk that is a volume.
func hasConsolePool(ctx context.Context, ci types.Object, disks types.List) bool {
	if c := cloudInitOf(ci); c != nil || ci.IsUnknown() {
		return true
	}
	ds, d := disksOf(ctx, disks)
	return !d.HasError() && consolePoolOf(ds) != nil || disks.IsUnknown()
}

// consolePoolOf is the pool of the first volume disk, or nil.
func consolePoolOf(disks []vmDiskModel) *types.String {
	for _, dm := range disks {
		if !dm.Pool.IsNull() {
			return &dm.Pool
		}
	}
	return nil
}
