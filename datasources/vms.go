package datasources

import (
	"context"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
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
			"A host that does not answer, a domain that cannot be read and a row whose recorded configuration cannot be read " +
			"are warnings, not errors: the VM is still listed.",
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
						"` when the host answered but has no such domain; the recorded state when the host did not answer or the domain " +
						"could not be read (`live` is false; null when the record cannot be read either)."},
					"verdict": schema.StringAttribute{Computed: true, Description: "What the VM is relative to its record: " + validate.Quoted(vmVerdicts) +
						" (the verdicts of `virtumancer_drift`)."},
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
		storeReadFailed(&resp.Diagnostics, data.Store.Path(), err)
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

	results, failures := check(ctx, data, rows)
	m.VMs = make([]vmsItemModel, 0, len(rows))
	kept := results[:0:0]
	for _, r := range results {
		item := vmsItem(r)
		if !m.State.IsNull() && item.State.ValueString() != m.State.ValueString() {
			continue
		}
		m.VMs = append(m.VMs, item)
		kept = append(kept, r)
	}
	// Warnings are about the VMs listed: a filter that leaves a VM out
	// leaves its warning out too. A host is named when any of its rows
	// was asked about.
	warnObserved(&resp.Diagnostics, kept, failures, vmsShown)
	m.UnreachableHosts = unreachableHosts(failures)
	tflog.Debug(ctx, "listed vms", map[string]any{"rows": len(rows), "matching": len(m.VMs)})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// vmsShown says what virtumancer_vms shows for a verdict it warns about.
var vmsShown = map[observe.Verdict]string{
	observe.HostUnreachable:  "Its VMs are listed with the state recorded in the store (`live` is false); the host is in `unreachable_hosts`.",
	observe.RecordUnreadable: "It is listed with its live state and null recorded attributes.",
	observe.DomainUnreadable: "It is listed with its recorded state (`live` is false).",
}

// listRows reads the live rows of one host, or of all hosts.
func listRows(ctx context.Context, st *store.Store, hostID types.String) ([]store.VM, error) {
	if hostID.IsNull() {
		return st.ListAllVMs(ctx)
	}
	return st.ListVMs(ctx, hostID.ValueString())
}

func vmsItem(r observe.Result) vmsItemModel {
	rec := recordOf(*r.Row)
	recorded := recordedOf(rec)
	s := shownOf(r, rec)
	item := vmsItemModel{
		ID: types.StringValue(r.HostID + "/" + r.Name), HostID: types.StringValue(r.HostID), Name: types.StringValue(r.Name),
		Verdict: types.StringValue(string(r.Verdict)), State: s.State, Live: types.BoolValue(s.Live),
		UUID: recorded.UUID, Vcpu: recorded.Vcpu, Memory: recorded.Memory, MaxMemory: recorded.MaxMemory, Autostart: recorded.Autostart,
	}
	if item.UUID.IsNull() && s.UUID != "" {
		item.UUID = types.StringValue(s.UUID)
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
	Verdict   types.String `tfsdk:"verdict"`
	State     types.String `tfsdk:"state"`
	Live      types.Bool   `tfsdk:"live"`
	UUID      types.String `tfsdk:"uuid"`
	Vcpu      types.Int64  `tfsdk:"vcpu"`
	Memory    types.Int64  `tfsdk:"memory"`
	MaxMemory types.Int64  `tfsdk:"max_memory"`
	Autostart types.Bool   `tfsdk:"autostart"`
}
