package datasources

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

var _ datasource.DataSourceWithConfigure = (*domainsDataSource)(nil)

// NewDomainsDataSource is the constructor of the virtumancer_domains data
// source: the live domains of one host, recorded in the store or not.
func NewDomainsDataSource() datasource.DataSource { return &domainsDataSource{} }

type domainsDataSource struct {
	data *providerdata.Data
}

func (d *domainsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_domains"
}

func (d *domainsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	str := func(desc string) schema.Attribute { return schema.StringAttribute{Computed: true, Description: desc} }
	resp.Schema = schema.Schema{
		Description: "Every domain defined on one host right now, read live from libvirt, whether the store records it or not: " +
			"what `import { for_each = ... }` needs to adopt a whole host (see the guide *Adopt a host*). Each domain carries the " +
			"attributes of a `virtumancer_vm` that describes it as it is, so a `for_each` resource fed by this list plans empty " +
			"after the import. A domain whose definition cannot be read is a warning, and is left out.",
		Attributes: map[string]schema.Attribute{
			"host_id": schema.StringAttribute{Required: true, Validators: []validator.String{validate.NonEmpty()},
				Description: "Id of the `virtumancer_host` to list."},
			"name_regex": schema.StringAttribute{Optional: true, Validators: []validator.String{validate.Regexp()},
				Description: "Only domains whose name matches this RE2 regular expression (unanchored: use `^...$` for a full match)."},
			"domains": schema.ListNestedAttribute{
				Computed: true, Description: "The domains, ordered by name.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":          str("`host_id/name`, the import id of a `virtumancer_vm`."),
					"name":        str("Domain name."),
					"uuid":        str("Libvirt UUID."),
					"state":       str("Power state as virsh names it: " + validate.Quoted(vminfo.StateNames) + "."),
					"domain_type": str("Libvirt domain type (`kvm`, `qemu`, `test`)."),
					"graphics":    str("`vnc`, `spice` or `none`, as `virtumancer_vm.graphics`."),
					"recorded": schema.BoolAttribute{Computed: true,
						Description: "Whether the store has a row for the domain (Virtumancer or an import recorded it). Adopting a domain records it, so do not select domains by this: it changes once they are imported."},
					"running":    schema.BoolAttribute{Computed: true, Description: "Whether the domain is active (running, paused...), as `virtumancer_vm.running`."},
					"autostart":  schema.BoolAttribute{Computed: true, Description: "Whether libvirtd starts it at boot."},
					"vcpu":       schema.Int64Attribute{Computed: true, Description: "Virtual CPUs of the persistent definition."},
					"memory":     schema.Int64Attribute{Computed: true, Description: "Memory in MiB."},
					"max_memory": schema.Int64Attribute{Computed: true, Description: "Maximum memory in MiB."},
					"disks": schema.ListNestedAttribute{Computed: true, Description: "Disks in libvirt's order, as `virtumancer_vm` `disk` blocks.",
						NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
							"pool": str("Storage pool of `volume`; null for a path."), "volume": str("Volume name; null for a path."),
							"path": str("Host path; null for a volume or an empty cdrom."), "device": str("`disk` or `cdrom`."),
							"bus": str("Bus."), "target": str("Guest device name."), "format": str("Image format, where the definition names one."),
							"read_only": schema.BoolAttribute{Computed: true, Description: "Attached read-only."},
						}}},
					"network_interfaces": schema.ListNestedAttribute{Computed: true,
						Description: "Interfaces on a network or a bridge, in order, as `virtumancer_vm` `network_interface` blocks (others are in `unmanaged_devices`).",
						NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
							"network": str("Libvirt network; null on a bridge."), "bridge": str("Host bridge; null on a network."),
							"model": str("NIC model; null when the definition names none."), "mac": str("MAC address."),
						}}},
					"unmanaged_devices": schema.ListAttribute{Computed: true, ElementType: types.StringType,
						Description: "Devices `virtumancer_vm` does not model and keeps as they are, as its `unmanaged_devices`."},
				}},
			},
		},
	}
}

func (d *domainsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerdata.From(req.ProviderData, &resp.Diagnostics)
}

func (d *domainsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if !providerdata.Configured(d.data, &resp.Diagnostics) {
		return
	}
	var m domainsModel
	if resp.Diagnostics.Append(req.Config.Get(ctx, &m)...); resp.Diagnostics.HasError() {
		return
	}
	hostID := m.HostID.ValueString()
	ctx = tflog.SetField(ctx, "host", hostID)
	conn := d.data.Conn(ctx, hostID, &resp.Diagnostics)
	if conn == nil {
		return
	}
	obs, _, err := observe.Reader{}.All(ctx, conn)
	if err != nil {
		resp.Diagnostics.AddError("Unable to list the host's domains", err.Error()+"\nCheck that the host answers, then run the plan again.")
		return
	}
	rows, err := d.data.Store.ListVMs(ctx, hostID)
	if err != nil {
		storeReadFailed(&resp.Diagnostics, d.data.Store.Path(), err)
		return
	}
	recorded := map[string]bool{}
	for _, r := range rows {
		recorded[r.Name] = true
	}
	var pattern *regexp.Regexp
	if re := m.NameRegex.ValueString(); re != "" {
		pattern = regexp.MustCompile(re) // validated at plan time
	}
	m.Domains = []domainModel{}
	for _, o := range obs {
		switch {
		case pattern != nil && !pattern.MatchString(o.Name), o.Gone:
			continue
		case o.Err != nil || o.Live == nil:
			resp.Diagnostics.AddWarning("Unreadable domain", "Domain "+o.Name+" on host "+hostID+" is left out: "+errText(o.Err))
			continue
		}
		m.Domains = append(m.Domains, domainOf(hostID, *o.Live, recorded[o.Name]))
	}
	slices.SortFunc(m.Domains, func(a, b domainModel) int { return strings.Compare(a.Name.ValueString(), b.Name.ValueString()) })
	tflog.Debug(ctx, "listed domains", map[string]any{"domains": len(m.Domains), "recorded": len(rows)})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func errText(err error) string {
	if err == nil {
		return "libvirt returned nothing for it"
	}
	return err.Error()
}

const mib = 1024 // KiB

// domainOf renders one live domain in virtumancer_vm's terms.
func domainOf(hostID string, l observe.Live, isRecorded bool) domainModel {
	v := l.Info
	out := domainModel{
		ID: types.StringValue(hostID + "/" + v.Name), Name: types.StringValue(v.Name), UUID: types.StringValue(v.UUID),
		State: types.StringValue(vminfo.StateName(v.State)), DomainType: types.StringValue(v.DomainType),
		Graphics: types.StringValue(vminfo.GraphicsName(v.Graphics)), Recorded: types.BoolValue(isRecorded),
		Running: types.BoolValue(vminfo.Active(v.State)), Autostart: types.BoolValue(v.Autostart),
		Vcpu: types.Int64Value(int64(v.Vcpu)), Memory: types.Int64Value(int64(v.Memory / mib)),
		MaxMemory: types.Int64Value(int64(v.MaxMem / mib)), Disks: []domainDiskModel{}, NICs: []domainNICModel{},
		Unmanaged: l.Unmanaged,
	}
	for _, d := range v.Disks {
		out.Disks = append(out.Disks, domainDiskModel{
			Pool: optString(d.Pool), Volume: optString(d.Volume), Path: optString(d.Path), Device: types.StringValue(d.Device),
			Bus: optString(d.Bus), Target: optString(d.Target), Format: optString(d.Format), ReadOnly: types.BoolValue(d.ReadOnly),
		})
	}
	for _, n := range v.Interfaces {
		if !slices.Contains(vminfo.InterfaceTypes, n.Type) {
			continue
		}
		nic := domainNICModel{Network: types.StringNull(), Bridge: types.StringNull(), Model: optString(n.Model), MAC: optString(strings.ToLower(n.MAC))}
		if n.Type == "bridge" {
			nic.Bridge = types.StringValue(n.Source)
		} else {
			nic.Network = types.StringValue(n.Source)
		}
		out.NICs = append(out.NICs, nic)
	}
	if out.Unmanaged == nil {
		out.Unmanaged = []string{}
	}
	return out
}

type domainsModel struct {
	HostID    types.String  `tfsdk:"host_id"`
	NameRegex types.String  `tfsdk:"name_regex"`
	Domains   []domainModel `tfsdk:"domains"`
}

type domainModel struct {
	ID         types.String      `tfsdk:"id"`
	Name       types.String      `tfsdk:"name"`
	UUID       types.String      `tfsdk:"uuid"`
	State      types.String      `tfsdk:"state"`
	DomainType types.String      `tfsdk:"domain_type"`
	Graphics   types.String      `tfsdk:"graphics"`
	Recorded   types.Bool        `tfsdk:"recorded"`
	Running    types.Bool        `tfsdk:"running"`
	Autostart  types.Bool        `tfsdk:"autostart"`
	Vcpu       types.Int64       `tfsdk:"vcpu"`
	Memory     types.Int64       `tfsdk:"memory"`
	MaxMemory  types.Int64       `tfsdk:"max_memory"`
	Disks      []domainDiskModel `tfsdk:"disks"`
	NICs       []domainNICModel  `tfsdk:"network_interfaces"`
	Unmanaged  []string          `tfsdk:"unmanaged_devices"`
}

type domainDiskModel struct {
	Pool     types.String `tfsdk:"pool"`
	Volume   types.String `tfsdk:"volume"`
	Path     types.String `tfsdk:"path"`
	Device   types.String `tfsdk:"device"`
	Bus      types.String `tfsdk:"bus"`
	Target   types.String `tfsdk:"target"`
	Format   types.String `tfsdk:"format"`
	ReadOnly types.Bool   `tfsdk:"read_only"`
}

type domainNICModel struct {
	Network types.String `tfsdk:"network"`
	Bridge  types.String `tfsdk:"bridge"`
	Model   types.String `tfsdk:"model"`
	MAC     types.String `tfsdk:"mac"`
}
