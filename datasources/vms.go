package datasources

import (
	"context"
	"fmt"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

var _ datasource.DataSourceWithConfigure = (*vmsDataSource)(nil)

// NewVMsDataSource is the constructor of the virtumancer_vms data source.
func NewVMsDataSource() datasource.DataSource { return &vmsDataSource{} }

type vmsDataSource struct {
	data *providerdata.Data
}

func (d *vmsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_vms"
}

func (d *vmsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The VMs recorded in the Virtumancer store (soft-deleted rows excluded), optionally filtered by host, " +
			"state and name. Configuration fields are the recorded ones; `state` is read live from each host. " +
			"A host that does not answer and a row whose config_json cannot be read are warnings, not errors.",
		Attributes: map[string]schema.Attribute{
			// Optional
			"host_id": schema.StringAttribute{Optional: true, Validators: []validator.String{validate.NonEmpty()},
				Description: "Only VMs recorded on this host."},
			"state": schema.StringAttribute{Optional: true, Validators: []validator.String{stringvalidator.OneOf(stateFilterValues...)},
				Description: "Only VMs in this state: " + validate.Quoted(stateFilterValues) + " (see `state` of the VMs)."},
			"name_regex": schema.StringAttribute{Optional: true, Validators: []validator.String{validate.Regexp()},
				Description: "Only VMs whose name matches this RE2 regular expression (unanchored: use `^...$` for a full match)."},

			// Computed
			"vms": schema.ListNestedAttribute{
				Computed:    true,
				Description: "The matching VMs, ordered by host id then name.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":      schema.StringAttribute{Computed: true, Description: "`host_id/name`, the import id of a `virtumancer_vm`."},
					"host_id": schema.StringAttribute{Computed: true, Description: "Host id."},
					"name":    schema.StringAttribute{Computed: true, Description: "Domain name."},
					"state": schema.StringAttribute{Computed: true, Description: "Power state as virsh names it, read live; `" + stateMissing +
						"` when the host answered but has no such domain; the recorded state when the host did not answer (`live` is false)."},
					"live":       schema.BoolAttribute{Computed: true, Description: "Whether `state` was read from the host."},
					"uuid":       schema.StringAttribute{Computed: true, Description: "Recorded UUID, else the live domain's; null when neither is known."},
					"vcpu":       schema.Int64Attribute{Computed: true, Description: "Recorded number of virtual CPUs; null when config_json cannot be read."},
					"memory":     schema.Int64Attribute{Computed: true, Description: "Recorded memory in MiB; null when config_json cannot be read."},
					"max_memory": schema.Int64Attribute{Computed: true, Description: "Recorded maximum memory in MiB; null when config_json cannot be read."},
					"autostart":  schema.BoolAttribute{Computed: true, Description: "Recorded autostart; null when config_json cannot be read."},
				}},
			},
			"unreachable_hosts": schema.ListAttribute{
				Computed: true, ElementType: types.StringType,
				Description: "Hosts of the listed VMs that did not answer; their VMs carry their recorded state.",
			},
		},
	}
}

func (d *vmsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerdata.From(req.ProviderData, &resp.Diagnostics)
}

func (d *vmsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	data := d.data
	if !providerdata.Configured(data, &resp.Diagnostics) {
		return
	}
	var m vmsDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rows, err := listRows(ctx, data.Store, m.HostID)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read the Virtumancer store", err.Error())
		return
	}
	if re := m.NameRegex.ValueString(); re != "" {
		pattern := regexp.MustCompile(re) // validated at plan time
		kept := rows[:0]
		for _, r := range rows {
			if pattern.MatchString(r.Name) {
				kept = append(kept, r)
			}
		}
		rows = kept
	}

	live := fetchLive(ctx, data, rows, false)
	for _, id := range sortedUnreachable(live) {
		unreachableWarning(&resp.Diagnostics, id, live[id].Err, "Its VMs are listed with the state recorded in the store.")
	}
	m.VMs = make([]vmsItemModel, 0, len(rows))
	for _, r := range rows {
		hl := live[r.HostID]
		item := vmsItem(r, hl)
		if !m.State.IsNull() && item.State.ValueString() != m.State.ValueString() {
			continue
		}
		if r.ConfigErr != nil {
			corruptRowWarning(&resp.Diagnostics, r, "It is listed with null configuration fields.")
		}
		if lv := hl.VMs[r.Name]; hl.Err == nil && lv.Err != nil {
			resp.Diagnostics.AddWarning("Unable to read a domain's state",
				fmt.Sprintf("Host %q answered but reading the state of domain %q failed: %s. It is listed with its recorded state.", r.HostID, r.Name, lv.Err))
		}
		m.VMs = append(m.VMs, item)
	}
	m.UnreachableHosts = sortedUnreachable(live)
	tflog.Debug(ctx, "listed vms", map[string]any{"rows": len(rows), "matching": len(m.VMs)})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// listRows reads the live rows of one host, or of all hosts.
func listRows(ctx context.Context, st *store.Store, hostID types.String) ([]store.VM, error) {
	if hostID.IsNull() {
		return st.ListAllVMs(ctx)
	}
	return st.ListVMs(ctx, hostID.ValueString())
}

func vmsItem(r store.VM, hl *hostLive) vmsItemModel {
	item := vmsItemModel{
		ID: types.StringValue(r.HostID + "/" + r.Name), HostID: types.StringValue(r.HostID), Name: types.StringValue(r.Name),
		UUID: types.StringNull(), Vcpu: types.Int64Null(), Memory: types.Int64Null(), MaxMemory: types.Int64Null(), Autostart: types.BoolNull(),
	}
	if r.ConfigErr == nil {
		rec := recordedOf(r.Config)
		item.UUID, item.Vcpu, item.Memory, item.MaxMemory, item.Autostart = rec.UUID, rec.Vcpu, rec.Memory, rec.MaxMemory, rec.Autostart
	}
	lv, asked := hl.VMs[r.Name]
	switch {
	case hl.Err != nil || !asked || lv.Err != nil:
		item.Live = types.BoolValue(false)
		item.State = types.StringNull()
		if r.ConfigErr == nil {
			item.State = types.StringValue(vminfo.StateName(r.Config.State))
		}
	case !lv.Exists:
		item.Live, item.State = types.BoolValue(true), types.StringValue(stateMissing)
	default:
		item.Live, item.State = types.BoolValue(true), types.StringValue(vminfo.StateName(lv.State))
		if item.UUID.IsNull() {
			item.UUID = types.StringValue(lv.Domain.UUID)
		}
	}
	return item
}

type vmsDataModel struct {
	HostID           types.String   `tfsdk:"host_id"`
	State            types.String   `tfsdk:"state"`
	NameRegex        types.String   `tfsdk:"name_regex"`
	VMs              []vmsItemModel `tfsdk:"vms"`
	UnreachableHosts []string       `tfsdk:"unreachable_hosts"`
}

type vmsItemModel struct {
	ID        types.String `tfsdk:"id"`
	HostID    types.String `tfsdk:"host_id"`
	Name      types.String `tfsdk:"name"`
	State     types.String `tfsdk:"state"`
	Live      types.Bool   `tfsdk:"live"`
	UUID      types.String `tfsdk:"uuid"`
	Vcpu      types.Int64  `tfsdk:"vcpu"`
	Memory    types.Int64  `tfsdk:"memory"`
	MaxMemory types.Int64  `tfsdk:"max_memory"`
	Autostart types.Bool   `tfsdk:"autostart"`
}
