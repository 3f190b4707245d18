package resources

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// liveVM is what a domain is right now.
type liveVM struct {
	// info is the configuration read from the persistent (inactive)
	// definition plus the runtime facts: what config_json records.
	info vminfo.VMInfo
	// pending: the running domain's live configuration differs from its
	// persistent definition (a change waits for the next boot).
	pending bool
	// ips from the wait_for_ip source; nil when not asked or not running.
	ips []string
}

// readLive reads the domain's definition and runtime. ipSource, when set,
// also asks a running domain for its addresses (failures there are logged,
// not fatal: an address is an observation, not configuration).
func readLive(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, ipSource string) (liveVM, error) {
	snap, err := conn.Snapshot(ctx, dom)
	if err != nil {
		return liveVM{}, err
	}
	return liveOf(ctx, conn, snap, ipSource)
}

// liveOf is readLive on a snapshot already taken.
func liveOf(ctx context.Context, conn *hypervisor.Conn, snap hypervisor.DomainSnapshot, ipSource string) (liveVM, error) {
	rt := snap.Runtime
	info, err := vminfo.FromXML(snap.InactiveXML, rt)
	if err != nil {
		return liveVM{}, fmt.Errorf("host %q (%s): %w", conn.HostID(), conn.Redacted(), err)
	}
	live := liveVM{info: info}
	if !vminfo.Active(rt.State) || snap.LiveXML == "" {
		return live, nil
	}
	active, err := vminfo.FromXML(snap.LiveXML, rt)
	if err != nil {
		return liveVM{}, fmt.Errorf("host %q (%s): %w", conn.HostID(), conn.Redacted(), err)
	}
	if pending := info.PendingRestart(active); len(pending) > 0 {
		live.pending = true
		tflog.Debug(ctx, "restart pending", map[string]any{"fields": driftFields(pending)})
	}
	if ipSource != "" {
		ips, err := conn.InterfaceAddresses(ctx, snap.Domain, ipSource)
		if err != nil {
			tflog.Warn(ctx, "could not read ip addresses", map[string]any{"source": ipSource, "error": err.Error()})
		}
		live.ips = ips
	}
	return live, nil
}

// refresh is Read: it puts the live domain into m and compares it with the
// recorded configuration. It reports gone=true when the domain no longer
// exists on a reachable host; on any error diagnostic m must not be saved.
func (r *vmResource) refresh(ctx context.Context, m *vmModel, diags *diag.Diagnostics) (gone bool) {
	hostID, name := m.HostID.ValueString(), m.Name.ValueString()
	conn := r.data.Conn(ctx, hostID, diags)
	if conn == nil {
		return false
	}
	// One call reads the domain by name (a domain recreated under the same
	// name is the one the configuration describes), its definitions and
	// its runtime.
	snap, err := conn.Snapshot(ctx, hypervisor.Domain{Name: name})
	switch {
	case hypervisor.IsNotFound(err):
		tflog.Warn(ctx, "domain is gone from its host; removing it from state")
		return true
	case err != nil:
		diags.AddError("Unable to read the domain", err.Error()+"\nThe state is left as it was.")
		return false
	}
	dom := snap.Domain
	ctx = tflog.SetField(ctx, "uuid", dom.UUID)
	if old := m.UUID.ValueString(); old != "" && !strings.EqualFold(old, dom.UUID) {
		diags.AddWarning("Domain was recreated outside Terraform",
			fmt.Sprintf("vm %q on host %q now has uuid %s (state had %s): another domain of that name replaced it. "+
				"The plan compares its definition with the configuration.", name, hostID, dom.UUID, old))
	}
	wait, d := m.wait(ctx)
	diags.Append(d...)
	source := ""
	if wait != nil {
		source = wait.Source.ValueString()
	}
	live, err := liveOf(ctx, conn, snap, source)
	if err != nil {
		diags.AddError("Unable to read the domain", err.Error()+"\nThe state is left as it was.")
		return false
	}
	drift, recorded, ok := r.compareRecorded(ctx, hostID, name, live.info, diags)
	if !ok {
		return false
	}
	if len(vmTargetsOf(m.Disks)) == 0 && recorded.row != nil {
		// Just imported: list disks in the order they were recorded (the
		// order of the configuration that created the VM), not libvirt's.
		live.info.Disks = vmOrderDisks(live.info.Disks, recordedTargets(recorded.row.Disks))
	}
	m.setLive(live)
	m.ConfigJSON = recorded.json
	m.Drift = driftValue(drift)
	tflog.Debug(ctx, "read vm", map[string]any{"state": m.State.ValueString(), "drift": len(drift)})
	return false
}

// recordedVM is the VM's row as compareRecorded found it: its config_json
// text (null when there is no row) and, parsed, the recorded VMInfo.
type recordedVM struct {
	json types.String
	row  *vminfo.VMInfo
}

// compareRecorded loads the VM's row and compares its config_json with the
// live configuration. It warns about drift, naming every field with its
// recorded and live values, and errors (ok=false) on a row it cannot read.
// A missing row is not an error: the recorded JSON is then null and the
// plan proposes an update that records the VM.
func (r *vmResource) compareRecorded(ctx context.Context, hostID, name string, live vminfo.VMInfo, diags *diag.Diagnostics) (drift []vminfo.Drift, rec recordedVM, ok bool) {
	row, err := r.data.Store.GetVM(ctx, hostID, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		diags.AddWarning("VM not recorded in the store",
			fmt.Sprintf("vm %q on host %q has no row in %s (it was deleted or the store was replaced); "+
				"the next apply records its configuration again.", name, hostID, r.data.Store.Path()))
		return nil, recordedVM{json: types.StringNull()}, true
	case err != nil:
		diags.AddError("Unable to read the store", err.Error()+"\nThe state is left as it was.")
		return nil, rec, false
	case row.ConfigErr != nil:
		diags.AddError("Corrupt recorded configuration",
			fmt.Sprintf("%v\nRepair the JSON of virtual_machines row %d, or delete that row "+
				"(DELETE FROM virtual_machines WHERE id = %d); the next apply then records the configuration again. "+
				"The state is left as it was.", row.ConfigErr, row.ID, row.ID))
		return nil, rec, false
	}
	drift = vminfo.Compare(row.Config, live)
	if len(drift) > 0 {
		tflog.Warn(ctx, "drift detected", map[string]any{"fields": driftFields(drift)})
		diags.AddWarning("Drift detected on vm "+strconv.Quote(name),
			vminfo.DriftSummary(name, drift)+fmt.Sprintf(" (host %q).\n", hostID)+
				"The domain was changed outside Terraform; the plan shows the live values and puts the configured ones back.")
	}
	return drift, recordedVM{json: types.StringValue(row.ConfigJSON), row: &row.Config}, true
}

func recordedTargets(disks []vminfo.Disk) []string {
	out := make([]string, len(disks))
	for i, d := range disks {
		out[i] = d.Target
	}
	return out
}

func driftFields(d []vminfo.Drift) string {
	names := make([]string, len(d))
	for i, x := range d {
		names[i] = x.Field
	}
	return strings.Join(names, ",")
}
