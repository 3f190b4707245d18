package datasources

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

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
		"reachable": schema.BoolAttribute{Computed: true, Description: "Whether the host answered. When it did not, `state` is the recorded one and `domain_id` and `drift` are null."},
		"state": schema.StringAttribute{Computed: true, Description: "Power state as virsh names it (" + validate.Quoted(vminfo.StateNames) +
			"), read live; `" + stateMissing + "` when the host answered but has no such domain; the state recorded in config_json when the host did not answer."},
		"domain_id": schema.Int64Attribute{Computed: true, Description: "Libvirt id of the running domain; 0 when it is not running. Null when the domain could not be read."},
		"drift": schema.ListNestedAttribute{
			Computed: true,
			Description: "Configuration fields whose live value differs from the recorded one (empty when none). " +
				"Null when the host did not answer or the domain is missing.",
			NestedObject: schema.NestedAttributeObject{Attributes: driftFieldAttributes()},
		},
	}
	for k, v := range recordedAttributes() {
		attrs[k] = v
	}
	resp.Schema = schema.Schema{
		Description: "One VM recorded in the Virtumancer store: its recorded configuration (the row's config_json, in the units " +
			"of `virtumancer_vm`), plus its live state and drift when the host answers. Works for VMs Terraform does not manage.",
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

func driftFieldAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"field":    schema.StringAttribute{Computed: true, Description: "Field path in config_json, e.g. `memory` or `disks[vda].path`."},
		"recorded": schema.StringAttribute{Computed: true, Description: "Recorded value."},
		"live":     schema.StringAttribute{Computed: true, Description: "Live value."},
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
		resp.Diagnostics.AddError("Unable to read the Virtumancer store", err.Error())
		return
	}
	if row.ConfigErr != nil {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Unreadable config_json",
			fmt.Sprintf("VM %q on host %q (row %d) has a config_json that cannot be read: %s. "+
				"Import the VM with a virtumancer_vm resource (or fix the row in Virtumancer) to record its configuration again.",
				name, hostID, row.ID, row.ConfigErr))
		return
	}

	m.ID = types.StringValue(hostID + "/" + name)
	m.ConfigJSON = types.StringValue(row.ConfigJSON)
	m.CreatedAt = timeValue(row.CreatedAt)
	m.UpdatedAt = timeValue(row.UpdatedAt)
	m.recordedModel = recordedOf(row.Config)

	hl := fetchLive(ctx, data, []store.VM{row}, true)[hostID]
	lv := hl.VMs[name]
	switch {
	case hl.Err != nil:
		unreachableWarning(&resp.Diagnostics, hostID, hl.Err, "state is the recorded one; domain_id and drift are null.")
		m.Reachable = types.BoolValue(false)
		m.State = types.StringValue(vminfo.StateName(row.Config.State))
		m.DomainID, m.Drift = types.Int64Null(), nil
	case lv.Err != nil:
		resp.Diagnostics.AddError("Unable to read the domain", fmt.Sprintf("Host %q answered but reading domain %q failed: %s", hostID, name, lv.Err))
		return
	case !lv.Exists:
		m.Reachable = types.BoolValue(true)
		m.State = types.StringValue(stateMissing)
		m.DomainID, m.Drift = types.Int64Null(), nil
	default:
		m.Reachable = types.BoolValue(true)
		m.State = types.StringValue(vminfo.StateName(lv.State))
		m.DomainID = types.Int64Value(int64(lv.Domain.ID))
		m.Drift = driftModels(vminfo.Compare(row.Config, lv.Info))
		if m.UUID.IsNull() {
			m.UUID = types.StringValue(lv.Domain.UUID)
		}
	}
	tflog.Debug(ctx, "read vm", map[string]any{"state": m.State.ValueString()})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
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

type driftModel struct {
	Field    types.String `tfsdk:"field"`
	Recorded types.String `tfsdk:"recorded"`
	Live     types.String `tfsdk:"live"`
}

// recordedOf converts config_json's VMInfo into the resource's units (MiB).
// A nil Disks or Interfaces (not recorded) stays null; an empty one is [].
func recordedOf(v vminfo.VMInfo) recordedModel {
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

func driftModels(ds []vminfo.Drift) []driftModel {
	out := make([]driftModel, 0, len(ds))
	for _, d := range ds {
		out = append(out, driftModel{Field: types.StringValue(d.Field), Recorded: types.StringValue(d.Recorded), Live: types.StringValue(d.Live)})
	}
	return out
}
