package datasources

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

var _ datasource.DataSourceWithConfigure = (*vmDataSource)(nil)

// NewVMDataSource is the constructor of the virtumancer_vm data source.
func NewVMDataSource() datasource.DataSource { return &vmDataSource{} }

type vmDataSource struct {
	data *providerdata.Data
}

func (d *vmDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_vm"
}

func (d *vmDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attrs := map[string]schema.Attribute{
		// Required
		"host_id": schema.StringAttribute{Required: true, Validators: []validator.String{validate.NonEmpty()},
			Description: "Id of the host the VM is recorded on."},
		"name": schema.StringAttribute{Required: true, Validators: []validator.String{validate.NonEmpty()},
			Description: "Domain name of the VM."},

		// Computed: the row
		"id":          schema.StringAttribute{Computed: true, Description: "`host_id/name`, the import id of a `virtumancer_vm`."},
		"config_json": schema.StringAttribute{Computed: true, Description: "The recorded configuration exactly as stored (Virtumancer's VMInfo; memory in KiB)."},
		"created_at":  schema.StringAttribute{Computed: true, Description: "When the row was created (RFC 3339)."},
		"updated_at":  schema.StringAttribute{Computed: true, Description: "When the row was last written (RFC 3339)."},

		// Computed: live
		"verdict": schema.StringAttribute{Computed: true, Description: "What the VM is relative to its record: " + validate.Quoted(vmVerdicts) +
			" (the verdicts of `virtumancer_drift`)."},
		"reachable": schema.BoolAttribute{Computed: true, Description: "Whether the host answered. When it did not, `state` is the recorded one and `domain_id` and `drift` are null."},
		"state": schema.StringAttribute{Computed: true, Description: "Power state as virsh names it (" + validate.Quoted(vminfo.StateNames) +
			"), read live; `" + stateMissing + "` when the host answered but has no such domain; the recorded state when the host did not answer " +
			"or the domain could not be read (null when the record cannot be read either)."},
		"domain_id": schema.Int64Attribute{Computed: true, Description: "Libvirt id of the running domain; 0 when it is not running. Null when the domain could not be read or is missing."},
		"drift": schema.ListNestedAttribute{
			Computed: true,
			Description: "Configuration fields whose live value differs from the recorded one, in the attributes' units (empty when none). " +
				"Null when nothing was compared: the host did not answer, the domain is missing or unreadable, or the record cannot be read.",
			NestedObject: schema.NestedAttributeObject{Attributes: driftFieldAttributes()},
		},
	}
	for k, v := range recordedAttributes() {
		attrs[k] = v
	}
	resp.Schema = schema.Schema{
		Description: "One VM recorded in the Virtumancer store: its recorded configuration (the row's config_json, in the units " +
			"of `virtumancer_vm`), plus its live state, `verdict` and drift when the host answers. Works for VMs Terraform does not manage. " +
			"A host that does not answer, a domain that cannot be read and a recorded configuration that cannot be read are warnings, " +
			"not errors (the last leaves the recorded attributes null and still shows the live state).",
		Attributes: attrs,
	}
}

// recordedAttributes are the configuration fields read from config_json,
// named as in the virtumancer_vm resource.
func recordedAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"uuid":        schema.StringAttribute{Computed: true, Description: "Libvirt UUID: the recorded one, else the live domain's."},
		"vcpu":        schema.Int64Attribute{Computed: true, Description: "Recorded number of virtual CPUs."},
		"memory":      schema.Int64Attribute{Computed: true, Description: "Recorded memory in MiB."},
		"max_memory":  schema.Int64Attribute{Computed: true, Description: "Recorded maximum memory in MiB."},
		"autostart":   schema.BoolAttribute{Computed: true, Description: "Recorded autostart."},
		"persistent":  schema.BoolAttribute{Computed: true, Description: "Recorded persistence (a defined, not transient, domain)."},
		"graphics":    schema.StringAttribute{Computed: true, Description: "Recorded remote console: " + validate.Quoted(vminfo.GraphicsValues) + "."},
		"domain_type": schema.StringAttribute{Computed: true, Description: "Recorded libvirt domain type (" + validate.Quoted(vminfo.DomainTypes) + "); null when not recorded (rows written by Virtumancer)."},
		"disk": schema.ListNestedAttribute{
			Computed:    true,
			Description: "Recorded disks, in order; null when not recorded (rows written by Virtumancer).",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"device":    schema.StringAttribute{Computed: true, Description: "Device kind: " + validate.Quoted(vminfo.DiskDevices) + "."},
				"target":    schema.StringAttribute{Computed: true, Description: "Guest device name, e.g. `vda`."},
				"bus":       schema.StringAttribute{Computed: true, Description: "Bus: " + validate.Quoted(vminfo.DiskBuses) + "."},
				"pool":      schema.StringAttribute{Computed: true, Description: "Storage pool of `volume`; null for a path disk."},
				"volume":    schema.StringAttribute{Computed: true, Description: "Volume name; null for a path disk."},
				"path":      schema.StringAttribute{Computed: true, Description: "Host path; null for a volume disk."},
				"format":    schema.StringAttribute{Computed: true, Description: "Image format, null when not recorded."},
				"read_only": schema.BoolAttribute{Computed: true, Description: "Attached read-only."},
			}},
		},
		"network_interface": schema.ListNestedAttribute{
			Computed:    true,
			Description: "Recorded network interfaces, in order; null when not recorded (rows written by Virtumancer).",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"network": schema.StringAttribute{Computed: true, Description: "Libvirt network; null for a bridge interface."},
				"bridge":  schema.StringAttribute{Computed: true, Description: "Host bridge; null for a network interface."},
				"model":   schema.StringAttribute{Computed: true, Description: "NIC model, null when not recorded."},
				"mac":     schema.StringAttribute{Computed: true, Description: "MAC address, null when not recorded."},
			}},
		},
	}
}

func (d *vmDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerdata.From(req.ProviderData, &resp.Diagnostics)
}

func (d *vmDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	data := d.data
	if !providerdata.Configured(data, &resp.Diagnostics) {
		return
	}
	var m vmDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	hostID, name := m.HostID.ValueString(), m.Name.ValueString()
	ctx = tflog.SetField(ctx, "host", hostID)
	ctx = tflog.SetField(ctx, "vm", name)

	row, err := data.Store.GetVM(ctx, hostID, name)
	if errors.Is(err, store.ErrNotFound) {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "VM not found",
			fmt.Sprintf("The store %s has no VM %q on host %q (deleted rows do not count). List the VMs with the virtumancer_vms data source.",
				data.Store.Path(), name, hostID))
		return
	}
	if err != nil {
		storeReadFailed(&resp.Diagnostics, data.Store.Path(), err)
		return
	}
	results, failures := check(ctx, data, []store.VM{row})
	warnObserved(&resp.Diagnostics, results, failures, vmShown)
	m.render(row, results[0])
	tflog.Debug(ctx, "read vm", map[string]any{"verdict": m.Verdict.ValueString(), "state": m.State.ValueString()})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// vmVerdicts are the verdicts a virtumancer_vm data source can show: its
// row exists, so never no_record.
var vmVerdicts = slices.DeleteFunc(slices.Clone(observe.Verdicts), func(v observe.Verdict) bool { return v == observe.NoRecord })

// vmShown says what virtumancer_vm shows for a verdict it warns about.
var vmShown = map[observe.Verdict]string{
	observe.HostUnreachable:  "`reachable` is false, `state` is the recorded one, and `domain_id` and `drift` are null.",
	observe.RecordUnreadable: "Its recorded attributes and `drift` are null; `state` and `domain_id` are read live.",
	observe.DomainUnreadable: "`state` is the recorded one; `domain_id` and `drift` are null.",
}

// render fills m from the row and its verdict.
func (m *vmDataModel) render(row store.VM, r observe.Result) {
	m.ID = types.StringValue(row.HostID + "/" + row.Name)
	m.ConfigJSON = types.StringValue(row.ConfigJSON)
	m.CreatedAt = timeValue(row.CreatedAt)
	m.UpdatedAt = timeValue(row.UpdatedAt)
	rec := recordOf(row)
	m.recordedModel = recordedOf(rec)
	s := shownOf(r, rec)
	m.Verdict = types.StringValue(string(r.Verdict))
	m.Reachable, m.State, m.DomainID = types.BoolValue(s.Reachable), s.State, s.DomainID
	m.Drift = nil
	if r.Verdict == observe.InStep || r.Verdict == observe.Drifted {
		m.Drift = driftFields(observe.Words(r.Drift))
	}
	if m.UUID.IsNull() && s.UUID != "" {
		m.UUID = types.StringValue(s.UUID)
	}
}

func timeValue(t time.Time) types.String {
	if t.IsZero() {
		return types.StringNull()
	}
	return types.StringValue(t.UTC().Format(time.RFC3339Nano))
}

func optString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

type vmDataModel struct {
	HostID     types.String `tfsdk:"host_id"`
	Name       types.String `tfsdk:"name"`
	ID         types.String `tfsdk:"id"`
	ConfigJSON types.String `tfsdk:"config_json"`
	CreatedAt  types.String `tfsdk:"created_at"`
	UpdatedAt  types.String `tfsdk:"updated_at"`
	Verdict    types.String `tfsdk:"verdict"`
	Reachable  types.Bool   `tfsdk:"reachable"`
	State      types.String `tfsdk:"state"`
	DomainID   types.Int64  `tfsdk:"domain_id"`
	Drift      []driftModel `tfsdk:"drift"`
	recordedModel
}

// recordedModel is the configuration read from config_json.
type recordedModel struct {
	UUID             types.String     `tfsdk:"uuid"`
	Vcpu             types.Int64      `tfsdk:"vcpu"`
	Memory           types.Int64      `tfsdk:"memory"`
	MaxMemory        types.Int64      `tfsdk:"max_memory"`
	Autostart        types.Bool       `tfsdk:"autostart"`
	Persistent       types.Bool       `tfsdk:"persistent"`
	Graphics         types.String     `tfsdk:"graphics"`
	DomainType       types.String     `tfsdk:"domain_type"`
	Disk             []diskModel      `tfsdk:"disk"`
	NetworkInterface []interfaceModel `tfsdk:"network_interface"`
}

type diskModel struct {
	Device   types.String `tfsdk:"device"`
	Target   types.String `tfsdk:"target"`
	Bus      types.String `tfsdk:"bus"`
	Pool     types.String `tfsdk:"pool"`
	Volume   types.String `tfsdk:"volume"`
	Path     types.String `tfsdk:"path"`
	Format   types.String `tfsdk:"format"`
	ReadOnly types.Bool   `tfsdk:"read_only"`
}

type interfaceModel struct {
	Network types.String `tfsdk:"network"`
	Bridge  types.String `tfsdk:"bridge"`
	Model   types.String `tfsdk:"model"`
	MAC     types.String `tfsdk:"mac"`
}

// recordedOf converts the recorded VMInfo into the resource's units (MiB);
// every attribute is null when the record cannot be read (nil). A nil Disks
// or Interfaces (not recorded) stays null; an empty one is [].
func recordedOf(rec *vminfo.VMInfo) recordedModel {
	if rec == nil {
		return recordedModel{
			UUID: types.StringNull(), Vcpu: types.Int64Null(), Memory: types.Int64Null(), MaxMemory: types.Int64Null(),
			Autostart: types.BoolNull(), Persistent: types.BoolNull(), Graphics: types.StringNull(), DomainType: types.StringNull(),
		}
	}
	v := *rec
	r := recordedModel{
		UUID:       optString(v.UUID),
		Vcpu:       types.Int64Value(int64(v.Vcpu)),
		Memory:     types.Int64Value(int64(v.Memory / 1024)),
		MaxMemory:  types.Int64Value(int64(v.MaxMem / 1024)),
		Autostart:  types.BoolValue(v.Autostart),
		Persistent: types.BoolValue(v.Persistent),
		Graphics:   types.StringValue(vminfo.GraphicsName(v.Graphics)),
		DomainType: optString(v.DomainType),
	}
	if v.Disks != nil {
		r.Disk = make([]diskModel, 0, len(v.Disks))
		for _, d := range v.Disks {
			r.Disk = append(r.Disk, diskModel{
				Device: optString(d.Device), Target: optString(d.Target), Bus: optString(d.Bus),
				Pool: optString(d.Pool), Volume: optString(d.Volume), Path: optString(d.Path),
				Format: optString(d.Format), ReadOnly: types.BoolValue(d.ReadOnly),
			})
		}
	}
	if v.Interfaces != nil {
		r.NetworkInterface = make([]interfaceModel, 0, len(v.Interfaces))
		for _, n := range v.Interfaces {
			im := interfaceModel{Network: types.StringNull(), Bridge: types.StringNull(), Model: optString(n.Model), MAC: optString(n.MAC)}
			if n.Type == "bridge" {
				im.Bridge = optString(n.Source)
			} else {
				im.Network = optString(n.Source)
			}
			r.NetworkInterface = append(r.NetworkInterface, im)
		}
	}
	return r
}
