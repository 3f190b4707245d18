package resources

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Refresh renders what internal/observe decides about one VM: the verdict
// policy lives there; this file only turns a Result into state and
// diagnostics.

// liveVM is what a domain is right now, plus the addresses asked for.
type liveVM struct {
	observe.Live
	// ips from the wait_for_ip source; nil when not asked or not running.
	ips []string
}

// readLive reads the named domain (definitions, runtime and pending
// restart) through the observation layer.
func readLive(ctx context.Context, conn *hypervisor.Conn, name string) (liveVM, error) {
	obs, err := observe.Reader{Pending: true}.Names(ctx, conn, []string{name})
	if err != nil {
		return liveVM{}, err
	}
	return liveOf(conn, obs[0], name)
}

// readStarted is readLive of a domain converge has just started from its
// definition, with the autostart it set: running, persistent and nothing
// pending, so only the definition is read (observe.Reader.Started).
func readStarted(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, autostart bool) (liveVM, error) {
	rt := vminfo.Runtime{ID: dom.ID, State: vminfo.StateRunning, Persistent: true, Autostart: autostart}
	o, err := observe.Reader{}.Started(ctx, conn, dom, rt)
	if err != nil {
		return liveVM{}, err
	}
	return liveOf(conn, o, dom.Name)
}

// liveOf renders one observation: gone and unreadable are errors here.
func liveOf(conn *hypervisor.Conn, o observe.Observation, name string) (liveVM, error) {
	switch {
	case o.Gone:
		return liveVM{}, fmt.Errorf("host %q (%s): domain %q: %w", conn.HostID(), conn.Redacted(), name, hypervisor.ErrDomainNotFound)
	case o.Err != nil:
		return liveVM{}, fmt.Errorf("host %q (%s): domain %q: %w", conn.HostID(), conn.Redacted(), name, o.Err)
	default:
		return liveVM{Live: *o.Live}, nil
	}
}

// refresh is Read: it puts the live domain into m and renders its verdict.
// It reports gone=true when the domain no longer exists on a reachable
// host; on any error diagnostic m must not be saved.
func (r *vmResource) refresh(ctx context.Context, m *vmModel, diags *diag.Diagnostics) (gone bool) {
	hostID, name := m.HostID.ValueString(), m.Name.ValueString()
	conn := r.data.Conn(ctx, hostID, diags)
	if conn == nil {
		return false
	}
	row, ok := r.recordedRow(ctx, hostID, name, diags)
	if !ok {
		return false
	}
	// By name: a domain recreated under the same name is the one the
	// configuration describes.
	obs, err := observe.Reader{Pending: true}.Names(ctx, conn, []string{name})
	if err != nil {
		diags.AddError("Unable to read the domain", err.Error()+"\nThe state is left as it was.")
		return false
	}
	res := observe.Classify(hostID, row, obs[0])
	switch res.Verdict {
	case observe.Missing:
		tflog.Warn(ctx, "domain is gone from its host; removing it from state")
		return true
	case observe.DomainUnreadable:
		diags.AddError("Unable to read the domain", res.Problem()+"\n"+res.Remedy()+" The state is left as it was.")
		return false
	}
	ctx = tflog.SetField(ctx, "uuid", res.Live.Domain.UUID)
	warnRecreated(m, res, diags)
	live := refreshIPs(ctx, conn, m, liveVM{Live: *res.Live}, diags)
	if row != nil && len(vmTargetsOf(m.Disks)) == 0 {
		if rec, err := observe.Recorded(*row); err == nil {
			// Just imported: list disks in the order they were recorded (the
			// order of the configuration that created the VM), not libvirt's.
			live.Info.Disks = vmOrderDisks(live.Info.Disks, recordedTargets(rec.Disks))
		}
	}
	m.setLive(live)
	m.ConfigJSON, m.Drift = types.StringNull(), driftValue(nil)
	switch res.Verdict {
	case observe.InStep, observe.Drifted:
		m.ConfigJSON, m.Drift = recordedView(row.Recorded), driftValue(res.Drift)
	}
	renderVerdict(ctx, res, r.data.Store.Path(), diags)
	tflog.Debug(ctx, "read vm", map[string]any{"state": m.State.ValueString(), "verdict": string(res.Verdict), "drift": len(res.Drift)})
	return false
}

// recordedRow loads the VM's row: nil when the store has none (not an
// error: the plan then proposes an update that records the VM).
func (r *vmResource) recordedRow(ctx context.Context, hostID, name string, diags *diag.Diagnostics) (*store.VM, bool) {
	row, err := r.data.Store.GetVM(ctx, hostID, name)
	switch {
	case store.Absent(err):
		return nil, true
	case err != nil:
		diags.AddError("Unable to read the store", err.Error()+"\nThe state is left as it was.")
		return nil, false
	}
	return &row, true
}

// renderVerdict is the warning each verdict that needs attention shows.
// An unreadable record and a missing row render alike: config_json is null
// in state, so the plan proposes the update that records the VM again.
func renderVerdict(ctx context.Context, res observe.Result, storePath string, diags *diag.Diagnostics) {
	switch res.Verdict {
	case observe.Drifted:
		tflog.Warn(ctx, "drift detected", map[string]any{"fields": observe.Summary(res.Drift)})
		diags.AddWarning("Drift detected on vm "+strconv.Quote(res.Name), res.Problem()+".\n"+res.Remedy())
	case observe.NoRecord:
		diags.AddWarning("VM not recorded in the store",
			fmt.Sprintf("%s (%s; it was deleted or the store was replaced). %s", res.Problem(), storePath, res.Remedy()))
	case observe.RecordUnreadable:
		diags.AddWarning("Unreadable recorded configuration", res.Problem()+"\n"+res.Remedy())
	}
}

// warnRecreated says when the domain of this name is not the one state
// knew: another domain of that name replaced it.
func warnRecreated(m *vmModel, res observe.Result, diags *diag.Diagnostics) {
	old, uuid := m.UUID.ValueString(), res.Live.Domain.UUID
	if old == "" || strings.EqualFold(old, uuid) {
		return
	}
	diags.AddWarning("Domain was recreated outside Terraform",
		fmt.Sprintf("vm %q on host %q now has uuid %s (state had %s): another domain of that name replaced it. "+
			"The plan compares its definition with the configuration.", res.Name, res.HostID, uuid, old))
}

func recordedTargets(disks []vminfo.Disk) []string {
	out := make([]string, len(disks))
	for i, d := range disks {
		out[i] = d.Target
	}
	return out
}
