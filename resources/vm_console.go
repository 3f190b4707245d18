package resources

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
)

// console_log: the guest's serial console (ttyS0) appended to a file that
// is a volume of a storage pool, so libvirt can list, download and delete
// it on a remote host too.

const consoleSuffix = "-console.log"

// consoleRotations is how many rotated copies of a console log destroy
// looks for (virtlogd keeps max_backups of them beside it, 3 by default).
const consoleRotations = 10

// consoleVolumeName is the console log volume of the VM called vm.
func consoleVolumeName(vm string) string { return vm + consoleSuffix }

func vmConsoleLogAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		Computed: true,
		Description: "Host path of the file that receives the guest's serial console (ttyS0), so a failed boot can be " +
			"read without a VNC client (`virsh vol-download`, or `cat` on the host). It is the volume `<name>" + consoleSuffix +
			"` (raw) of `cloud_init.pool`, else of the pool of the first `disk` that is a volume, chosen when the VM is " +
			"created and kept for its life. It is appended to, so it keeps the output of earlier boots; virtlogd, which " +
			"writes it for QEMU, moves a log grown past its max_size (2 MiB by default) to `<path>.0` and so on. Destroy " +
			"deletes the log and those copies. Null when the VM has no pool to put it in (no cloud_init and disks by path only): the console is then a pty " +
			"for `virsh console`, which does not attach to a console logged to a file.",
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
}

// consolePool is where a new VM's console log goes; "" when nowhere.
func consolePool(ctx context.Context, m vmModel) string {
	if c := cloudInitOf(m.CloudInit); c != nil {
		return c.Pool.ValueString()
	}
	disks, _ := m.disks(ctx)
	if p := consolePoolOf(disks); p != nil {
		return p.ValueString()
	}
	return ""
}

// makeConsoleLog creates a new VM's console log (empty) and puts its path
// in plan.ConsoleLog, which stays null when there is no pool for it.
func makeConsoleLog(ctx context.Context, conn *hypervisor.Conn, plan *vmModel, diags *diag.Diagnostics) (*hypervisor.Volume, bool) {
	plan.ConsoleLog = types.StringNull()
	pool := consolePool(ctx, *plan)
	if pool == "" {
		return nil, true
	}
	vol, err := replaceVolume(ctx, conn, hypervisor.VolumeSpec{
		Pool: pool, Name: consoleVolumeName(plan.Name.ValueString()), Format: "raw", Empty: true,
	})
	if err != nil {
		diags.AddError("Unable to create the console log", fmt.Sprintf("%v\nconsole_log goes to cloud_init.pool, else to the "+
			"pool of the first volume disk (%q here); nothing else was created.", err, pool))
		return nil, false
	}
	plan.ConsoleLog = types.StringValue(vol.Path)
	tflog.Debug(ctx, "created the console log", map[string]any{"path": vol.Path})
	return &vol, true
}
