package datasources

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// The rendering every data source shares: observe decides each VM's
// verdict; this file turns verdicts into attributes and warnings, the same
// way in every data source.

// check classifies rows against their live domains: every host once, in
// parallel, with observe's bounded reads.
func check(ctx context.Context, data *providerdata.Data, rows []store.VM) ([]observe.Result, []observe.HostFailure) {
	return observe.Reader{}.Check(ctx, rows, dialer(data))
}

// dialer asks the provider's pool for a host's connection.
func dialer(data *providerdata.Data) observe.Dial {
	return func(ctx context.Context, hostID string) (observe.Source, error) {
		c, _, err := data.HostConn(ctx, hostID)
		if err != nil {
			// A nil *hypervisor.Conn returned as a Source would be a
			// non-nil interface holding nil: return a true nil.
			return nil, err
		}
		return c, nil
	}
}

// shown is what a data source shows of one VM's live side.
type shown struct {
	// Reachable: the host answered (every verdict but host_unreachable).
	Reachable bool
	// Live: the host answered about this domain, so State is live
	// (`missing` included); false when State is the recorded one.
	Live     bool
	State    types.String
	DomainID types.Int64
	// UUID is the live domain's; "" when it was not read.
	UUID string
}

// shownOf renders one result's live side. rec is the readable recorded
// configuration (nil when none), whose state stands in when the domain
// could not be read.
func shownOf(r observe.Result, rec *vminfo.VMInfo) shown {
	s := shown{Reachable: r.Verdict != observe.HostUnreachable, State: types.StringNull(), DomainID: types.Int64Null()}
	switch {
	case r.Live != nil:
		s.Live = true
		s.State = types.StringValue(vminfo.StateName(r.Live.Info.State))
		s.DomainID = types.Int64Value(int64(r.Live.Domain.ID))
		s.UUID = r.Live.Domain.UUID
	case r.Verdict == observe.Missing:
		s.Live = true
		s.State = types.StringValue(stateMissing)
	case rec != nil:
		s.State = types.StringValue(vminfo.StateName(rec.State))
	}
	return s
}

// recordOf is the row's recorded configuration, nil when it cannot be
// read (observe.Recorded decides which copy counts).
func recordOf(row store.VM) *vminfo.VMInfo {
	rec, err := observe.Recorded(row)
	if err != nil {
		return nil
	}
	return &rec
}

// warnObserved adds the warnings of a read, the same in every data source:
// one per host that could not be asked, one per VM whose record or domain
// cannot be read. Drifted and missing VMs are data, not warnings. shown
// says, per verdict, what the data source shows instead.
func warnObserved(diags *diag.Diagnostics, results []observe.Result, failures []observe.HostFailure, shown map[observe.Verdict]string) {
	hosts := slices.Clone(failures)
	slices.SortFunc(hosts, func(a, b observe.HostFailure) int { return strings.Compare(a.HostID, b.HostID) })
	remedy := observe.Result{Verdict: observe.HostUnreachable}.Remedy()
	for _, f := range hosts {
		diags.AddWarning("Host unreachable", fmt.Sprintf("%s. %s %s", hostProblem(f), remedy, shown[observe.HostUnreachable]))
	}
	for _, r := range results {
		switch r.Verdict {
		case observe.RecordUnreadable:
			diags.AddWarning("Unreadable recorded configuration", r.Problem()+". "+r.Remedy()+" "+shown[r.Verdict])
		case observe.DomainUnreadable:
			diags.AddWarning("Unreadable domain", r.Problem()+". "+r.Remedy()+" "+shown[r.Verdict])
		}
	}
}

// hostProblem names the host unless its error already does (the pool's
// and the connection's errors name host and redacted URI).
func hostProblem(f observe.HostFailure) string {
	msg := f.Err.Error()
	if !strings.Contains(msg, strconv.Quote(f.HostID)) {
		msg = fmt.Sprintf("host %q could not be asked: %s", f.HostID, msg)
	}
	return msg
}

// unreachableHosts lists the hosts that could not be asked, sorted.
func unreachableHosts(failures []observe.HostFailure) []string {
	out := make([]string, 0, len(failures))
	for _, f := range failures {
		out = append(out, f.HostID)
	}
	slices.Sort(out)
	return out
}

// driftFields renders drift in the user's words for a `drift`/`fields`
// list; an empty list (not null) when nothing drifted.
func driftFields(fs []observe.Field) []driftModel {
	out := make([]driftModel, 0, len(fs))
	for _, f := range fs {
		out = append(out, driftModel{
			Attribute: types.StringValue(f.Attribute), Recorded: types.StringValue(f.Recorded), Live: types.StringValue(f.Live),
			Path: types.StringValue(f.Path), Field: types.StringValue(f.Path),
		})
	}
	return out
}

// driftModel is one drifted field: observe.Field, plus `field`, the
// config_json path under its old name.
type driftModel struct {
	Attribute types.String `tfsdk:"attribute"`
	Recorded  types.String `tfsdk:"recorded"`
	Live      types.String `tfsdk:"live"`
	Path      types.String `tfsdk:"path"`
	Field     types.String `tfsdk:"field"`
}

// driftFieldAttributes is the schema of driftModel.
func driftFieldAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"attribute": schema.StringAttribute{Computed: true, Description: "The `virtumancer_vm` attribute that drifted, e.g. `max_memory` or " +
			"`disk[vda].path`; a field the resource does not model keeps its config_json path."},
		"recorded": schema.StringAttribute{Computed: true, Description: "Recorded value in the attribute's unit (`256 MiB`)."},
		"live":     schema.StringAttribute{Computed: true, Description: "Live value in the attribute's unit (`512 MiB`)."},
		"path": schema.StringAttribute{Computed: true, Description: "The field's path in config_json, e.g. `max_mem` or `disks[vda].path` " +
			"(config_json keeps Virtumancer's units: memory in KiB)."},
		"field": schema.StringAttribute{Computed: true, DeprecationMessage: "Use `path` (the same value) or `attribute`.",
			Description: "The config_json path, as `path`; kept for configurations written before `attribute` and `path` existed."},
	}
}
