package datasources

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
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
		Description: "Every drifted VM on every host, read live: each VM row's recorded configuration (config_json) compared with " +
			"its domain's persistent definition, field by field, for all VMs of the store, whether Terraform manages them or not. " +
			"Runtime fields (state, id, cpu time) are not drift. A host that does not answer is a warning and is listed in " +
			"`unreachable_hosts`; a row whose config_json cannot be read is a warning and is skipped.",
		Attributes: map[string]schema.Attribute{
			// Optional
			"host_id": schema.StringAttribute{Optional: true, Validators: []validator.String{validate.NonEmpty()},
				Description: "Only VMs recorded on this host."},

			// Computed
			"vms": schema.ListNestedAttribute{
				Computed:    true,
				Description: "The VMs whose live configuration differs from the recorded one, ordered by host id then name.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"host_id": schema.StringAttribute{Computed: true, Description: "Host id."},
					"name":    schema.StringAttribute{Computed: true, Description: "Domain name."},
					"fields": schema.ListNestedAttribute{
						Computed: true, Description: "The drifted fields, sorted by field path.",
						NestedObject: schema.NestedAttributeObject{Attributes: driftFieldAttributes()},
					},
				}},
			},
			"missing": schema.ListNestedAttribute{
				Computed:    true,
				Description: "VMs recorded in the store whose domain does not exist on their host (which answered).",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"host_id": schema.StringAttribute{Computed: true, Description: "Host id."},
					"name":    schema.StringAttribute{Computed: true, Description: "Domain name."},
				}},
			},
			"unreachable_hosts": schema.ListAttribute{
				Computed: true, ElementType: types.StringType,
				Description: "Hosts with VM rows that could not be asked; their VMs are neither in `vms` nor in `missing`.",
			},
		},
	}
}

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
		resp.Diagnostics.AddError("Unable to read the Virtumancer store", err.Error())
		return
	}
	readable := rows[:0:0]
	for _, r := range rows {
		if r.ConfigErr != nil {
			corruptRowWarning(&resp.Diagnostics, r, "It cannot be compared and is left out.")
			continue
		}
		readable = append(readable, r)
	}

	live := fetchLive(ctx, data, readable, true)
	for _, id := range sortedUnreachable(live) {
		unreachableWarning(&resp.Diagnostics, id, live[id].Err, "Its VMs are not compared; the host is listed in unreachable_hosts.")
	}
	m.VMs, m.Missing = []driftVMModel{}, []driftMissingModel{}
	for _, r := range readable {
		hl := live[r.HostID]
		if hl.Err != nil {
			continue
		}
		lv := hl.VMs[r.Name]
		switch {
		case lv.Err != nil:
			resp.Diagnostics.AddWarning("Unable to read a domain",
				fmt.Sprintf("Host %q answered but reading domain %q failed: %s. It is left out.", r.HostID, r.Name, lv.Err))
		case !lv.Exists:
			m.Missing = append(m.Missing, driftMissingModel{HostID: types.StringValue(r.HostID), Name: types.StringValue(r.Name)})
		default:
			if ds := vminfo.Compare(r.Config, lv.Info); len(ds) > 0 {
				tflog.Info(ctx, "drift", map[string]any{"host": r.HostID, "vm": r.Name, "summary": vminfo.DriftSummary(r.Name, ds)})
				m.VMs = append(m.VMs, driftVMModel{HostID: types.StringValue(r.HostID), Name: types.StringValue(r.Name), Fields: driftModels(ds)})
			}
		}
	}
	m.UnreachableHosts = sortedUnreachable(live)
	tflog.Debug(ctx, "compared vms", map[string]any{"rows": len(readable), "drifted": len(m.VMs), "missing": len(m.Missing)})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

type driftDataModel struct {
	HostID           types.String        `tfsdk:"host_id"`
	VMs              []driftVMModel      `tfsdk:"vms"`
	Missing          []driftMissingModel `tfsdk:"missing"`
	UnreachableHosts []string            `tfsdk:"unreachable_hosts"`
}

type driftVMModel struct {
	HostID types.String `tfsdk:"host_id"`
	Name   types.String `tfsdk:"name"`
	Fields []driftModel `tfsdk:"fields"`
}

type driftMissingModel struct {
	HostID types.String `tfsdk:"host_id"`
	Name   types.String `tfsdk:"name"`
}
