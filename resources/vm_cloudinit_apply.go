package resources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/cloudinit"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// What apply does with the files the provider makes for a VM: the
// cloud-init seed volume and the console log (vm_console.go). Create makes
// them before the domain is defined and removes them when the create
// fails; Update rewrites the seed; destroy deletes both with the domain.

// guestFiles are the volumes a create made for the VM.
type guestFiles struct {
	seed, console *hypervisor.Volume
	digest        string // of the seed, for config_json
}

// makeGuestFiles writes the seed (cloud_init needs the domain's uuid for
// its default instance-id, so the uuid is chosen here) and the console log,
// and puts the uuid and console_log into plan.
func (r *vmResource) makeGuestFiles(ctx context.Context, conn *hypervisor.Conn, plan *vmModel, diags *diag.Diagnostics) (guestFiles, bool) {
	var f guestFiles
	if cloudInitOf(plan.CloudInit) != nil {
		if plan.UUID.IsUnknown() || plan.UUID.IsNull() { // a take-over keeps its uuid
			plan.UUID = types.StringValue(vminfo.NewUUID())
		}
		vol, digest, ok := writeSeed(ctx, conn, *plan, diags)
		if !ok {
			return f, false
		}
		f.seed, f.digest = &vol, digest
	}
	vol, ok := makeConsoleLog(ctx, conn, plan, diags)
	if !ok {
		if msg := f.remove(ctx, conn); msg != "" {
			diags.AddError("Unable to remove the VM's seed volume", msg)
		}
		return guestFiles{}, false
	}
	f.console = vol
	return f, true
}

// undoOnError removes the files again once the create has failed, so it
// leaves nothing behind; it is deferred right after makeGuestFiles.
func (f guestFiles) undoOnError(ctx context.Context, conn *hypervisor.Conn, diags *diag.Diagnostics) {
	if !diags.HasError() {
		return
	}
	if msg := f.remove(ctx, conn); msg != "" {
		diags.AddError("Unable to remove the VM's files after the failed create", msg)
		return
	}
	tflog.Info(ctx, "removed the seed and console log of the failed create")
}

// remove deletes the volumes; it returns what it could not delete, or "".
func (f guestFiles) remove(ctx context.Context, conn *hypervisor.Conn) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), vmCleanupTimeout)
	defer cancel()
	var failed []string
	for _, v := range []*hypervisor.Volume{f.seed, f.console} {
		if v == nil {
			continue
		}
		if err := conn.DeleteVolume(ctx, *v); err != nil && !hypervisor.IsNotFound(err) {
			failed = append(failed, fmt.Sprintf("%s (%v)", v.Path, err))
		}
	}
	if len(failed) == 0 {
		return ""
	}
	return "These files are left on the host: " + strings.Join(failed, "; ") + ". Delete them with `virsh vol-delete`."
}

// writeSeed builds the VM's seed and writes it as its seed volume,
// replacing the one there was; it returns the volume and the seed's digest.
func writeSeed(ctx context.Context, conn *hypervisor.Conn, m vmModel, diags *diag.Diagnostics) (hypervisor.Volume, string, bool) {
	seed, _ := m.finalSeed()
	pool := cloudInitOf(m.CloudInit).Pool.ValueString()
	at := path.Root("cloud_init")
	img, err := cloudinit.Build(seed)
	if err != nil {
		// Build's errors name the part and never quote user_data.
		diags.AddAttributeError(at, "Unable to build the cloud-init seed", err.Error()+"\nNothing was created.")
		return hypervisor.Volume{}, "", false
	}
	spec := hypervisor.VolumeSpec{Pool: pool, Name: seedVolumeName(m.Name.ValueString()), Format: "raw", CapacityBytes: uint64(len(img))}
	vol, err := replaceVolume(ctx, conn, spec)
	if err != nil {
		diags.Append(seedVolumeDiag(pool, err))
		return hypervisor.Volume{}, "", false
	}
	if err := conn.UploadVolume(ctx, vol, bytes.NewReader(img), uint64(len(img))); err != nil {
		detail := err.Error()
		if errors.Is(err, hypervisor.ErrUnsupported) {
			detail += ". This host's driver cannot upload volumes (the test driver cannot); cloud_init needs a qemu host."
		}
		diags.AddAttributeError(at, "Unable to write the cloud-init seed", detail+cleanupVolume(ctx, conn, vol))
		return hypervisor.Volume{}, "", false
	}
	digest := cloudinit.Digest(seed)
	tflog.Info(ctx, "wrote the cloud-init seed", map[string]any{"volume": vol.Name, "pool": pool, "bytes": len(img), "seed_digest": digest})
	return vol, digest, true
}

// replaceVolume creates spec's volume, deleting one of that name first: the
// seed and the console log belong to the VM of their name, so one already
// there is a leftover (or the seed being rewritten).
func replaceVolume(ctx context.Context, conn *hypervisor.Conn, spec hypervisor.VolumeSpec) (hypervisor.Volume, error) {
	vol, err := conn.CreateVolume(ctx, spec)
	if !errors.Is(err, hypervisor.ErrVolumeExists) {
		return vol, err
	}
	old := hypervisor.Volume{Pool: spec.Pool, Name: spec.Name}
	if err := conn.DeleteVolume(ctx, old); err != nil && !hypervisor.IsNotFound(err) {
		return hypervisor.Volume{}, err
	}
	tflog.Debug(ctx, "replaced a volume", map[string]any{"volume": spec.Name, "pool": spec.Pool})
	return conn.CreateVolume(ctx, spec)
}

func seedVolumeDiag(pool string, err error) diag.Diagnostic {
	if errors.Is(err, hypervisor.ErrPoolNotFound) {
		return diag.NewAttributeErrorDiagnostic(path.Root("cloud_init").AtName("pool"), "Storage pool not found",
			fmt.Sprintf("%s. cloud_init.pool %q must name a pool of the host (a virtumancer_pool, or see `virsh pool-list "+
				"--all`). Nothing was created.", err, pool))
	}
	return diag.NewAttributeErrorDiagnostic(path.Root("cloud_init"), "Unable to create the cloud-init seed volume", err.Error())
}

// updateSeed writes the seed when the block is new or changed, before the
// redefinition that attaches it.
func updateSeed(ctx context.Context, conn *hypervisor.Conn, prior, plan vmModel, diags *diag.Diagnostics) bool {
	if cloudInitOf(plan.CloudInit) == nil || prior.CloudInit.Equal(plan.CloudInit) {
		return true
	}
	_, _, ok := writeSeed(ctx, conn, plan, diags)
	return ok
}

// dropOldSeed deletes the seed volume the definition no longer attaches
// (the block removed, or its pool changed). The VM itself is in step by
// then, so a failure is a warning naming the file left behind.
func dropOldSeed(ctx context.Context, conn *hypervisor.Conn, prior, plan vmModel, diags *diag.Diagnostics) {
	was, now := cloudInitOf(prior.CloudInit), cloudInitOf(plan.CloudInit)
	if was == nil || (now != nil && now.Pool.Equal(was.Pool)) {
		return
	}
	old := hypervisor.Volume{Pool: was.Pool.ValueString(), Name: seedVolumeName(plan.Name.ValueString())}
	if err := conn.DeleteVolume(ctx, old); err != nil && !hypervisor.IsNotFound(err) {
		diags.AddWarning("Unable to delete the old cloud-init seed", fmt.Sprintf("%v. The VM no longer uses volume %q of pool %q; "+
			"delete it with `virsh vol-delete --pool %s %s`.", err, old.Name, old.Pool, old.Pool, old.Name))
		return
	}
	tflog.Info(ctx, "deleted the old cloud-init seed", map[string]any{"volume": old.Name, "pool": old.Pool})
}

// removeGuestFiles deletes the seed and the console log once the domain is
// gone. The seed is looked for in cloud_init.pool and in the pools of the
// recorded disks (an imported VM's state has no cloud_init block).
func removeGuestFiles(ctx context.Context, conn *hypervisor.Conn, state vmModel, diags *diag.Diagnostics) {
	name := state.Name.ValueString()
	var failed []string
	for _, pool := range seedPools(state) {
		v := hypervisor.Volume{Pool: pool, Name: seedVolumeName(name)}
		if err := conn.DeleteVolume(ctx, v); err != nil && !hypervisor.IsNotFound(err) {
			failed = append(failed, fmt.Sprintf("volume %q of pool %q (%v)", v.Name, pool, err))
		}
	}
	if p := state.ConsoleLog.ValueString(); p != "" {
		if _, err := conn.DeleteVolumeAt(ctx, p, consoleRotations); err != nil {
			failed = append(failed, fmt.Sprintf("the console log %s (%v)", p, err))
		}
	}
	if len(failed) > 0 {
		diags.AddError("Unable to delete the VM's files", fmt.Sprintf("The domain %q is gone, but not %s. Run destroy again, "+
			"or delete them with `virsh vol-delete`.", name, strings.Join(failed, "; ")))
		return
	}
	tflog.Debug(ctx, "deleted the vm's seed and console log")
}

// seedPools lists the pools that may hold the VM's seed.
func seedPools(state vmModel) []string {
	var pools []string
	if c := cloudInitOf(state.CloudInit); c != nil {
		pools = append(pools, c.Pool.ValueString())
	}
	rec, err := vminfo.Parse([]byte(state.ConfigJSON.ValueString()))
	if err != nil {
		return pools
	}
	for _, d := range rec.Disks {
		if isSeedDisk(d, state.Name.ValueString()) && (len(pools) == 0 || pools[0] != d.Pool) {
			pools = append(pools, d.Pool)
		}
	}
	return pools
}
