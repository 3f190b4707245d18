package datasources

import (
	"context"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
)

var _ datasource.DataSourceWithConfigure = (*driftDataSource)(nil)

// NewDriftDataSource is the constructor of the virtumancer_drift data source.
func NewDriftDataSource() datasource.DataSource { return &driftDataSource{} }

type driftDataSource struct {
	data *providerdata.Data
}

func (d *driftDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_drift"
}

func (d *driftDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Every VM of the store that needs attention, read live: each VM row's recorded configuration compared with " +
			"its domain's persistent definition, field by field, for all VMs of the store, whether Terraform manages them or not. " +
			"Runtime fields (state, id, cpu time) are not drift. `in_step` is the gate: true when no VM needs attention and every " +
			"host answered. A host that does not answer is a warning and is listed in `unreachable_hosts`; a row whose recorded " +
			"configuration cannot be read, or a domain libvirt describes in a way that cannot be read, is a warning and is listed " +
			"in `vms` with its verdict. This is the report `virtumancer-sync drift --json` prints, in HCL.",
		Attributes: map[string]schema.Attribute{
			// Optional
			"host_id": schema.StringAttribute{Optional: true, Validators: []validator.String{validate.NonEmpty()},
				Description: "Only VMs recorded on this host."},

			// Computed
			"in_step": schema.BoolAttribute{Computed: true, Description: "True when `vms` and `unreachable_hosts` are both empty: " +
				"no VM needs attention and every host answered. Gate a run on it with a `postcondition` (see the example)."},
			"vms": schema.ListNestedAttribute{
				Computed: true,
				Description: "The VMs that need attention, ordered by host id then name, one entry per VM with its `verdict`: " +
					validate.Quoted(attentionVerdicts) + ". A VM on a host that did not answer is not listed here (its host is in `unreachable_hosts`).",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"host_id": schema.StringAttribute{Computed: true, Description: "Host id."},
					"name":    schema.StringAttribute{Computed: true, Description: "Domain name."},
					"verdict": schema.StringAttribute{Computed: true, Description: "Why it needs attention: " + validate.Quoted(attentionVerdicts) + "."},
					"state": schema.StringAttribute{Computed: true, Description: "Power state as virsh names it, read live; null when the domain " +
						"is missing or could not be read."},
					"row_id": schema.Int64Attribute{Computed: true, Description: "Id of the VM's `virtual_machines` row."},
					"fields": schema.ListNestedAttribute{
						Computed: true, Description: "The drifted fields (verdict `drifted`; empty otherwise), sorted by config_json path.",
						NestedObject: schema.NestedAttributeObject{Attributes: driftFieldAttributes()},
					},
					"error": schema.StringAttribute{Computed: true, Description: "Why the record or the domain cannot be read " +
						"(verdicts `record_unreadable`, `domain_unreadable`); null otherwise."},
					"remedy": schema.StringAttribute{Computed: true, Description: "What makes the verdict go away, in one sentence."},
				}},
			},
			"missing": schema.ListNestedAttribute{
				Computed: true,
				Description: "The entries of `vms` whose verdict is `missing`: recorded in the store, but the domain does not exist " +
					"on its host (which answered).",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"host_id": schema.StringAttribute{Computed: true, Description: "Host id."},
					"name":    schema.StringAttribute{Computed: true, Description: "Domain name."},
				}},
			},
			"unreachable_hosts": schema.ListAttribute{
				Computed: true, ElementType: types.StringType,
				Description: "Hosts with VM rows that could not be asked, sorted; their VMs are not compared and not listed in `vms`.",
			},
		},
	}
}

// attentionVerdicts are the verdicts listed in `vms` (observe's Attention,
// less host_unreachable, which is listed by host).
var attentionVerdicts = slices.DeleteFunc(slices.Clone(observe.Verdicts), func(v observe.Verdict) bool {
	return !v.Attention() || v == observe.HostUnreachable
})

func (d *driftDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerdata.From(req.ProviderData, &resp.Diagnostics)
}

func (d *driftDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	data := d.data
	if !providerdata.Configured(data, &resp.Diagnostics) {
		return
	}
	var m driftDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rows, err := listRows(ctx, data.Store, m.HostID)
	if err != nil {
		storeReadFailed(&resp.Diagnostics, data.Store.Path(), err)
		return
	}
	results, failures := check(ctx, data, rows)
	warnObserved(&resp.Diagnostics, results, failures, driftShown)
	rep := observe.NewReport(results, hostErrors(failures))
	m.render(rep)
	for _, e := range rep.VMs {
		tflog.Info(ctx, "needs attention", map[string]any{"host": e.Host, "vm": e.VM, "verdict": string(e.Verdict), "line": e.Line()})
	}
	tflog.Debug(ctx, "checked vms", map[string]any{"checked": rep.Checked, "attention": len(rep.VMs), "in_step": rep.InStep})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// driftShown says what virtumancer_drift shows for a verdict it warns about.
var driftShown = map[observe.Verdict]string{
	observe.HostUnreachable:  "Its VMs are not compared; the host is listed in `unreachable_hosts` and `in_step` is false.",
	observe.RecordUnreadable: "It is listed in `vms` with verdict `record_unreadable` and `in_step` is false.",
	observe.DomainUnreadable: "It is listed in `vms` with verdict `domain_unreadable` and `in_step` is false.",
}

func hostErrors(failures []observe.HostFailure) []observe.HostError {
	out := make([]observe.HostError, len(failures))
	for i, f := range failures {
		out[i] = observe.HostError{Host: f.HostID, Error: f.Err.Error()}
	}
	return out
}

// render fills m from the report.
func (m *driftDataModel) render(rep observe.Report) {
	m.InStep = types.BoolValue(rep.InStep)
	m.VMs, m.Missing = make([]driftVMModel, 0, len(rep.VMs)), []driftMissingModel{}
	for _, e := range rep.VMs {
		m.VMs = append(m.VMs, driftVMModel{
			HostID: types.StringValue(e.Host), Name: types.StringValue(e.VM), Verdict: types.StringValue(string(e.Verdict)),
			State: optString(e.State), RowID: types.Int64Value(e.RowID), Fields: driftFields(e.Drift),
			Error: optString(e.Error), Remedy: types.StringValue(e.Remedy),
		})
		if e.Verdict == observe.Missing {
			m.Missing = append(m.Missing, driftMissingModel{HostID: types.StringValue(e.Host), Name: types.StringValue(e.VM)})
		}
	}
	m.UnreachableHosts = make([]string, 0, len(rep.UnreachableHosts))
	for _, h := range rep.UnreachableHosts {
		m.UnreachableHosts = append(m.UnreachableHosts, h.Host)
	}
}

type driftDataModel struct {
	HostID           types.String        `tfsdk:"host_id"`
	InStep           types.Bool          `tfsdk:"in_step"`
	VMs              []driftVMModel      `tfsdk:"vms"`
	Missing          []driftMissingModel `tfsdk:"missing"`
	UnreachableHosts []string            `tfsdk:"unreachable_hosts"`
}

type driftVMModel struct {
	HostID  types.String `tfsdk:"host_id"`
	Name    types.String `tfsdk:"name"`
	Verdict types.String `tfsdk:"verdict"`
	State   types.String `tfsdk:"state"`
	RowID   types.Int64  `tfsdk:"row_id"`
	Fields  []driftModel `tfsdk:"fields"`
	Error   types.String `tfsdk:"error"`
	Remedy  types.String `tfsdk:"remedy"`
}

type driftMissingModel struct {
	HostID types.String `tfsdk:"host_id"`
	Name   types.String `tfsdk:"name"`
}
