package resources

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// vmCleanupTimeout bounds the undefine after a failed create, which runs even
// when the create's own timeout has expired.
const vmCleanupTimeout = time.Minute

// vmWritableFor is how long a committed write vouches that the store takes
// writes (see storeWritable).
const vmWritableFor = 2 * time.Second

func vmLogFields(ctx context.Context, hostID, name string) context.Context {
	ctx = tflog.SetField(ctx, "host_id", hostID)
	return tflog.SetField(ctx, "vm", name)
}

// storeWritable makes sure the store takes writes before anything changes
// on the host, so a read-only store leaves the host untouched too. In WAL
// mode BEGIN IMMEDIATE succeeds even on a read-only file; only a write
// statement fails, so the probe runs one that matches no row (the status
// of a VM with an empty name, which cannot exist). A store that committed a
// write of this process within vmWritableFor is taken as writable without
// a probe: in a burst of applies the probes queued behind the other VMs'
// writes for half of each create's time. Should the store refuse the row
// after all, Create undefines the domain again and Update says so.
func (r *vmResource) storeWritable(ctx context.Context, op, hostID, name string, diags *diag.Diagnostics) bool {
	if r.data.Store.WroteWithin(vmWritableFor) {
		return true
	}
	err := r.data.Store.Write(ctx, func(tx *store.Tx) error { return tx.DeleteVMStatus(hostID, "") })
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrReadOnly):
		diags.AddError("The store is not writable",
			fmt.Sprintf("Cannot %s vm %q: the store %s is read-only (the file or its directory is not writable by "+
				"this process). Nothing was changed on the host. Make the file, its -wal and -shm files and its "+
				"directory writable by this user, then apply again.", op, name, r.data.Store.Path()))
	default:
		diags.AddError("The store is not writable",
			fmt.Sprintf("Cannot %s vm %q: %v\nNothing was changed on the host.", op, name, err))
	}
	return false
}

// vmResumeDescription is the part of the vm resource's description that
// says what a create does with a domain already there.
const vmResumeDescription = "A create refuses a domain of the same name that is already on the host (import it instead; the plan says so already), " +
	"unless this provider began to create it: a create writes a mark (`virtumancer-create:create`, namespace `" +
	hypervisor.CreateMarkURI + "`) into the domain's metadata, and an apply killed or cut off from libvirtd before " +
	"the VM reached a state file leaves that mark behind. The next apply takes such a domain over (its plan says so), with a warning " +
	"naming the VM: it keeps its uuid, is stopped, defined again from the configuration (seed and console log made " +
	"anew), recorded in the store (the row such a create may have written is updated) and powered as planned. The mark " +
	"stays until the VM is first read from state or updated (Terraform and OpenTofu write state only every few " +
	"seconds during an apply, so a mark removed at the end of the create could be gone from a domain no state holds); " +
	"that read removes it from the domain's metadata, which changes nothing in the store."

// nameFree refuses to create over a domain that already exists: Terraform
// does not manage it (it is not in this state), so it must be imported.
// A domain that carries the create mark is the exception: an earlier
// create of this provider defined it and was interrupted before the VM
// reached a state file, so it is returned to be taken over.
func (r *vmResource) nameFree(ctx context.Context, conn *hypervisor.Conn, name string, diags *diag.Diagnostics) (leftover *hypervisor.Domain, ok bool) {
	dom, err := conn.LookupDomain(ctx, name)
	if hypervisor.IsNotFound(err) {
		return nil, true
	}
	marked := false
	if err == nil {
		marked, err = conn.CreateMarked(ctx, dom)
	}
	switch {
	case err != nil:
		diags.AddError("Unable to check the domain name", err.Error())
	case marked:
		return &dom, true
	default:
		diags.Append(domainExistsDiag(conn.HostID(), name))
	}
	return nil, false
}

// planNameCheck is nameFree at plan time, for a VM about to be created: a
// domain of its name that this provider did not begin to create is
// announced as refused, and one it did as taken over. It only reads
// libvirt; whatever it cannot ask (a host not yet in the store, or not
// answering) is left to Create, which asks again.
func (r *vmResource) planNameCheck(ctx context.Context, plan tfsdk.Plan, diags *diag.Diagnostics) {
	var hostID, name types.String
	diags.Append(plan.GetAttribute(ctx, path.Root("host_id"), &hostID)...)
	diags.Append(plan.GetAttribute(ctx, path.Root("name"), &name)...)
	if diags.HasError() || hostID.IsUnknown() || name.IsUnknown() || r.data == nil {
		return
	}
	conn, _, err := r.data.HostConn(ctx, hostID.ValueString())
	if err != nil {
		return
	}
	dom, err := conn.LookupDomain(ctx, name.ValueString())
	if err != nil {
		return // not there (the usual case), or Create will say why
	}
	marked, err := conn.CreateMarked(ctx, dom)
	switch {
	case err != nil:
		return
	case marked:
		diags.AddAttributeWarning(path.Root("name"), "vm "+strconv.Quote(dom.Name)+" will be taken over",
			fmt.Sprintf("Domain %q (uuid %s) on host %q was left by an interrupted apply of this provider (it carries the "+
				"create mark) and no state holds it: the apply takes it over, keeping its uuid, and defines it again from "+
				"this configuration.", dom.Name, dom.UUID, conn.HostID()))
	default:
		// A warning, not an error: a replacement plans its create with no
		// prior state too, and its old domain is gone before Create runs.
		diags.AddAttributeWarning(path.Root("name"), "Domain already exists",
			fmt.Sprintf("domain %q already exists on host %q. Unless this plan replaces the VM of that name (its domain is "+
				"destroyed first), the apply refuses to create over it: import it with `terraform import virtumancer_vm.NAME %s` "+
				"or choose another name.", dom.Name, conn.HostID(), vmID(conn.HostID(), dom.Name)))
	}
}

// domainExistsDiag refuses a domain that no create of this provider left.
func domainExistsDiag(hostID, name string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("name"), "Domain already exists",
		fmt.Sprintf("domain %q already exists on host %q; import it with `terraform import virtumancer_vm.NAME %s` "+
			"or choose another name.", name, hostID, vmID(hostID, name)))
}

// takeOver prepares the domain an interrupted create left for this create:
// the create keeps its uuid and defines it again from the plan. It is
// stopped first (pulled, not shut down: it never was in any state, so no
// one relies on its guest yet), so that its seed and console log can be
// replaced and it starts from the new definition as planned.
func takeOver(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, plan *vmModel, diags *diag.Diagnostics) bool {
	if err := conn.Destroy(ctx, dom); err != nil && !hypervisor.IsNotFound(err) {
		diags.AddError("Unable to take over the domain an interrupted create left", err.Error())
		return false
	}
	plan.UUID = types.StringValue(dom.UUID)
	tflog.Warn(ctx, "taking over the domain of an interrupted create", map[string]any{"uuid": dom.UUID})
	diags.AddWarning("Took over vm "+strconv.Quote(dom.Name)+" left by an interrupted apply",
		fmt.Sprintf("Domain %q (uuid %s) on host %q carries this provider's create mark: an earlier apply began to create "+
			"it and was stopped before the VM reached a state file. This apply took it over instead of asking for an import: "+
			"it was stopped, defined again from this configuration with the same uuid, recorded in the store and powered "+
			"as planned.", dom.Name, dom.UUID, conn.HostID()))
	return true
}

// defaultDomainType is test on the test driver, kvm where the host offers
// it, else qemu (TCG).
func defaultDomainType(ctx context.Context, conn *hypervisor.Conn) (string, error) {
	f, err := conn.Facts(ctx)
	switch {
	case err != nil:
		return "", err
	case strings.EqualFold(f.Driver, "test"):
		return "test", nil
	case f.KVM:
		return "kvm", nil
	default:
		return "qemu", nil
	}
}

// fillFormats takes each pool volume's format from the volume when the
// configuration leaves it unset, so QEMU reads a qcow2 volume as qcow2.
func fillFormats(ctx context.Context, conn *hypervisor.Conn, spec *vminfo.Spec, diags *diag.Diagnostics) bool {
	for i := range spec.Disks {
		d := &spec.Disks[i]
		if d.Format != "" || d.Volume == "" {
			continue
		}
		v, err := conn.LookupVolume(ctx, d.Pool, d.Volume)
		if err != nil {
			diags.AddAttributeError(path.Root("disk").AtListIndex(i).AtName("volume"), "Unable to find the disk's volume",
				err.Error()+"\nCreate the volume first (a virtumancer_volume resource) or fix pool and volume.")
			return false
		}
		if slices.Contains(vminfo.DiskFormats, v.Format) {
			d.Format = v.Format
		}
	}
	return true
}

func shutdownGrace(m vmModel) time.Duration {
	d, err := time.ParseDuration(m.ShutdownTimeout.ValueString())
	if err != nil {
		d, _ = time.ParseDuration(vmDefaultShutdownTimeout)
	}
	return d
}

// converge brings autostart and the power state to what the plan wants
// (restarting a running domain when restart is set), waits for an IP when
// asked, and reads back what the domain now is.
func (r *vmResource) converge(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, want vmModel, restart bool, diags *diag.Diagnostics) (liveVM, error) {
	rt, err := conn.Runtime(ctx, dom)
	if err != nil {
		return liveVM{}, err
	}
	return r.convergeFrom(ctx, conn, dom, rt, want, restart, diags)
}

// definedRuntime is the runtime of a domain a create has just defined
// inactive (libvirt gave it no id): shut off, persistent, no autostart, so
// converge need not ask for it. A define that took over a running transient
// domain of that name has an id and is asked for as usual.
func definedRuntime(dom hypervisor.Domain) (vminfo.Runtime, bool) {
	if dom.ID != 0 {
		return vminfo.Runtime{}, false
	}
	return vminfo.Runtime{State: vminfo.StateShutoff, Persistent: true}, true
}

// convergeFrom is converge from the runtime rt the domain is known to have.
func (r *vmResource) convergeFrom(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, rt vminfo.Runtime, want vmModel, restart bool, diags *diag.Diagnostics) (liveVM, error) {
	var err error
	if rt.Autostart != want.Autostart.ValueBool() {
		if err := conn.SetAutostart(ctx, dom, want.Autostart.ValueBool()); err != nil {
			return liveVM{}, err
		}
	}
	active, running := vminfo.Active(rt.State), want.Running.ValueBool()
	// Resumed first even when it is to stop: libvirt refuses an ACPI
	// shutdown of a paused domain ("domain is not running").
	if err := wake(ctx, conn, dom, rt.State); err != nil {
		return liveVM{}, err
	}
	if active && (!running || restart) {
		if err := stop(ctx, conn, dom, want, restart, diags); err != nil {
			return liveVM{}, err
		}
		active = false
	}
	if rt.State == vminfo.StateCrashed { // kept by on_crash=preserve: it must go before it can start
		if err := conn.Destroy(ctx, dom); err != nil {
			return liveVM{}, err
		}
	}
	started := running && !active
	if started {
		if dom, err = conn.Start(ctx, dom); err != nil {
			return liveVM{}, err
		}
		tflog.Info(ctx, "started domain", map[string]any{"domain_id": dom.ID})
	}
	wait, wd := want.wait(ctx)
	if wd.HasError() {
		return liveVM{}, fmt.Errorf("read wait_for_ip: %v", wd)
	}
	var ips []string
	if wait != nil {
		recordWait(ctx, conn, dom, wait)
	}
	if wait != nil && running {
		if wait.Source.ValueString() == vmAgentSource {
			if err := ensureAgentLive(ctx, conn, dom); err != nil {
				return liveVM{}, err
			}
		}
		if ips, err = waitForIP(ctx, conn, dom, wait); err != nil {
			return liveVM{}, err
		}
	}
	var live liveVM
	if started {
		live, err = readStarted(ctx, conn, dom, want.Autostart.ValueBool())
	} else {
		live, err = readLive(ctx, conn, dom.Name)
	}
	live.ips = ips
	return live, err
}

// wake resumes a paused domain and wakes a pmsuspended one.
func wake(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, state int) error {
	switch state {
	case vminfo.StatePaused:
		tflog.Info(ctx, "resuming paused domain")
		return conn.Resume(ctx, dom)
	case vminfo.StatePMSuspended:
		tflog.Info(ctx, "waking pmsuspended domain")
		return conn.Wakeup(ctx, dom)
	}
	return nil
}

// stop shuts the domain down within shutdown_timeout; a forced power-off
// after it is a warning, since the guest lost what it had not written.
func stop(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, want vmModel, restart bool, diags *diag.Diagnostics) error {
	grace := shutdownGrace(want)
	forced, err := conn.Shutdown(ctx, dom, grace)
	if err != nil {
		return err
	}
	tflog.Info(ctx, "stopped domain", map[string]any{"forced": forced, "restart": restart})
	if forced {
		diags.AddWarning("VM "+strconv.Quote(dom.Name)+" was forced off",
			fmt.Sprintf("vm %q on host %q did not shut down within shutdown_timeout (%s) of the ACPI request, so it was "+
				"destroyed (like pulling the plug; the guest lost what it had not written). Raise shutdown_timeout if it "+
				"needs longer, or make the guest handle the power button (acpid) or run the guest agent.",
				dom.Name, conn.HostID(), grace))
	}
	return nil
}

// undefineAfterFailure removes a domain a failed create defined, so nothing
// is left behind, and says what happened for the diagnostic.
func undefineAfterFailure(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), vmCleanupTimeout)
	defer cancel()
	err := conn.Destroy(ctx, dom)
	if err == nil || hypervisor.IsNotFound(err) {
		err = conn.Undefine(ctx, dom)
	}
	if err != nil && !hypervisor.IsNotFound(err) {
		tflog.Error(ctx, "could not undefine after a failed create", map[string]any{"error": err.Error()})
		return fmt.Sprintf("The domain %q could not be removed again (%v); remove it with `virsh undefine %s` before retrying.",
			dom.Name, err, dom.Name)
	}
	tflog.Info(ctx, "undefined the domain of the failed create")
	return fmt.Sprintf("The domain %q was undefined again; nothing was left on the host and the store is unchanged.", dom.Name)
}

// redefined is what redefine did: the changes a running domain still
// lacks (none when it is not running), and whether the memory changed.
type redefined struct {
	changes       []vmChange
	memoryChanged bool
	vcpuDown      uint // a live decrease to this many vCPUs is to be done (0: none)
}

// redefine applies the planned definition when it differs from the
// persistent one, and classifies what the running domain now lacks.
func (r *vmResource) redefine(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, plan vmModel, diags *diag.Diagnostics) (redefined, bool) {
	spec, d := plan.spec(ctx)
	diags.Append(d...)
	if diags.HasError() || !fillFormats(ctx, conn, &spec, diags) {
		return redefined{}, false
	}
	built, err := vminfo.BuildXML(spec)
	if err != nil {
		diags.AddError("Invalid VM configuration", err.Error())
		return redefined{}, false
	}
	current, err := conn.DomainXML(ctx, dom, true)
	if err != nil {
		diags.AddError("Unable to read the domain definition", err.Error())
		return redefined{}, false
	}
	formats := make([]string, len(spec.Disks))
	for i, d := range spec.Disks {
		formats[i] = d.Format
	}
	merged, changed, err := mergeDefinition(current, built, formats)
	if err != nil {
		diags.AddError("Unable to merge the domain definition", err.Error())
		return redefined{}, false
	}
	rt, err := conn.Runtime(ctx, dom)
	if err != nil {
		diags.AddError("Unable to read the domain", err.Error())
		return redefined{}, false
	}
	// A domain made transient behind our back (undefined while running)
	// needs its definition back even when nothing changed.
	if changed || !rt.Persistent {
		if _, err := conn.DefineXML(ctx, merged); err != nil {
			diags.AddError("Unable to redefine the domain", err.Error()+"\nThe previous definition is unchanged.")
			return redefined{}, false
		}
		tflog.Info(ctx, "redefined domain")
	}
	if !vminfo.Active(rt.State) {
		return redefined{}, true
	}
	return pendingChanges(ctx, conn, dom, current, diags)
}

// pendingChanges compares the running domain with its new definition, by
// vminfo.PendingRestart's rules, and classifies what differs.
func pendingChanges(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, before string, diags *diag.Diagnostics) (redefined, bool) {
	defDoc, err := conn.DomainXML(ctx, dom, true)
	var liveDoc string
	if err == nil {
		liveDoc, err = conn.DomainXML(ctx, dom, false)
	}
	if err != nil {
		diags.AddError("Unable to read the redefined domain", err.Error())
		return redefined{}, false
	}
	old, err1 := vminfo.FromXML(before, vminfo.Runtime{})
	def, err2 := vminfo.FromXML(defDoc, vminfo.Runtime{})
	live, err3 := vminfo.FromXML(liveDoc, vminfo.Runtime{})
	if err := firstError(err1, err2, err3); err != nil {
		diags.AddError("Unable to read the redefined domain", err.Error())
		return redefined{}, false
	}
	out := redefined{changes: classify(def.PendingRestart(live), live, def), memoryChanged: old.Memory != def.Memory}
	if unplugRestart(out.changes, liveDoc, live, def) {
		out.vcpuDown = def.Vcpu
	}
	if out.memoryChanged {
		out.changes = append(out.changes, vmChange{field: "memory", rule: vmRule("memory")})
	}
	return out, true
}

// adopt records an imported domain's configuration when the store has no
// row for it yet; an existing row stays the recorded configuration.
func (r *vmResource) adopt(ctx context.Context, hostID, name string, diags *diag.Diagnostics) bool {
	timeout := r.data.CallTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, 4*timeout) // a few calls, each bounded by CallTimeout
	defer cancel()
	conn := r.data.Conn(ctx, hostID, diags)
	if conn == nil {
		return false
	}
	dom, err := conn.LookupDomain(ctx, name)
	if hypervisor.IsNotFound(err) {
		diags.AddError("Domain not found", fmt.Sprintf("domain %q does not exist on host %q (%s); check the import id `host_id/name`.",
			name, hostID, conn.Redacted()))
		return false
	}
	if err != nil {
		diags.AddError("Unable to find the domain", err.Error())
		return false
	}
	live, err := readLive(ctx, conn, dom.Name)
	if err != nil {
		diags.AddError("Unable to read the domain", err.Error())
		return false
	}
	var inserted, revived bool
	err = r.data.Store.Write(ctx, func(tx *store.Tx) error {
		var err error
		inserted, revived, _, err = tx.InsertVMIfAbsent(hostID, name, live.Info)
		return err
	})
	if err != nil {
		diags.AddError("Unable to record the imported VM", err.Error())
		return false
	}
	tflog.Info(ctx, "imported vm", map[string]any{"uuid": dom.UUID, "recorded": inserted || revived})
	return true
}
