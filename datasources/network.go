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

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/netcfg"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
)

var _ datasource.DataSourceWithConfigure = (*networkDataSource)(nil)

// NewNetworkDataSource is the constructor of the virtumancer_network data source.
func NewNetworkDataSource() datasource.DataSource { return &networkDataSource{} }

type networkDataSource struct {
	data *providerdata.Data
}

func (d *networkDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_network"
}

func (d *networkDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, Description: desc}
	}
	resp.Schema = schema.Schema{
		Description: "A libvirt network of a host, read live: its configuration in the terms of the `virtumancer_network` " +
			"resource and the DHCP leases it has handed out now. Any network of the host can be read, managed by Terraform or not, " +
			"as long as its forward mode is one the resource knows.",
		Attributes: map[string]schema.Attribute{
			// Required
			"host_id": schema.StringAttribute{Required: true, Validators: []validator.String{validate.NonEmpty()},
				Description: "Id of the host (a `virtumancer_host`) the network lives on."},
			"name": schema.StringAttribute{Required: true, Validators: []validator.String{validate.NonEmpty()},
				Description: "Network name on the host, e.g. `default`."},

			// Computed
			"id":        computed("`host_id/name`."),
			"uuid":      computed("libvirt UUID of the network."),
			"mode":      computed("Forwarding mode: one of " + validate.Quoted(netcfg.Modes) + "."),
			"cidr":      computed("IPv4 network, e.g. `10.77.0.0/24`; null in mode `bridge`."),
			"bridge":    computed("Host bridge the network's guests are plugged into, e.g. `virbr1`."),
			"active":    schema.BoolAttribute{Computed: true, Description: "Whether the network runs."},
			"autostart": schema.BoolAttribute{Computed: true, Description: "Whether the host starts the network when it boots."},
			"dhcp": schema.SingleNestedAttribute{
				Computed: true, Description: "DHCP range, both ends included; null when the network has none.",
				Attributes: map[string]schema.Attribute{
					"start": computed("First address of the range."),
					"end":   computed("Last address of the range."),
				},
			},
			"dhcp_host": schema.ListNestedAttribute{
				Computed: true, Description: "Static DHCP leases, in the network's order.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"mac":  computed("MAC address, lower case with colons."),
					"ip":   computed("The address the guest with this MAC gets."),
					"name": computed("Host name DHCP hands the guest; null when none."),
				}},
			},
			"leases": schema.ListNestedAttribute{
				Computed: true,
				Description: "The DHCP leases the network's DHCP server holds now, dynamic and static alike; empty while the network " +
					"is stopped, and on drivers that keep no leases (the test driver).",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"mac":      computed("MAC address of the guest interface."),
					"ip":       computed("Leased IPv4 address."),
					"hostname": computed("Host name the guest sent; null when it sent none."),
					"expiry":   computed("When the lease expires, RFC 3339 in UTC."),
				}},
			},
		},
	}
}

func (d *networkDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerdata.From(req.ProviderData, &resp.Diagnostics)
}

func (d *networkDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if !providerdata.Configured(d.data, &resp.Diagnostics) {
		return
	}
	var m networkDataModel
	if resp.Diagnostics.Append(req.Config.Get(ctx, &m)...); resp.Diagnostics.HasError() {
		return
	}
	hostID, name := m.HostID.ValueString(), m.Name.ValueString()
	ctx = tflog.SetField(tflog.SetField(ctx, "host", hostID), "network", name)
	conn := d.data.Conn(ctx, hostID, &resp.Diagnostics)
	if conn == nil {
		return
	}
	hn, err := conn.LookupNetwork(ctx, name)
	if errors.Is(err, hypervisor.ErrNetworkNotFound) {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Network not found",
			fmt.Sprintf("Host %q has no network %q; `virsh net-list --all` lists the networks it has.", hostID, name))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to read the network", err.Error())
		return
	}
	n, err := netcfg.Parse(hn.XML)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Unable to read the network", err.Error()+".")
		return
	}
	leases, err := activeLeases(ctx, conn, hn)
	if err != nil {
		resp.Diagnostics.AddError("Unable to list the network's DHCP leases", err.Error())
		return
	}
	m.fill(hn, n, leases)
	tflog.Debug(ctx, "read network", map[string]any{"active": hn.Active, "leases": len(leases)})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// activeLeases asks a running network for its leases; a stopped one has
// none, and a driver that keeps none (the test driver) answers none too.
func activeLeases(ctx context.Context, conn *hypervisor.Conn, hn hypervisor.Network) ([]hypervisor.Lease, error) {
	if !hn.Active {
		return nil, nil
	}
	leases, err := conn.NetworkLeases(ctx, hn.Name)
	if errors.Is(err, hypervisor.ErrUnsupported) {
		tflog.Debug(ctx, "the driver keeps no DHCP leases", map[string]any{"error": err.Error()})
		return nil, nil
	}
	return leases, err
}

type networkDataModel struct {
	HostID    types.String       `tfsdk:"host_id"`
	Name      types.String       `tfsdk:"name"`
	ID        types.String       `tfsdk:"id"`
	UUID      types.String       `tfsdk:"uuid"`
	Mode      types.String       `tfsdk:"mode"`
	CIDR      types.String       `tfsdk:"cidr"`
	Bridge    types.String       `tfsdk:"bridge"`
	Active    types.Bool         `tfsdk:"active"`
	Autostart types.Bool         `tfsdk:"autostart"`
	DHCP      *networkDataRange  `tfsdk:"dhcp"`
	DHCPHosts []networkDataHost  `tfsdk:"dhcp_host"`
	Leases    []networkDataLease `tfsdk:"leases"`
}

type networkDataRange struct {
	Start types.String `tfsdk:"start"`
	End   types.String `tfsdk:"end"`
}

type networkDataHost struct {
	MAC  types.String `tfsdk:"mac"`
	IP   types.String `tfsdk:"ip"`
	Name types.String `tfsdk:"name"`
}

type networkDataLease struct {
	MAC      types.String `tfsdk:"mac"`
	IP       types.String `tfsdk:"ip"`
	Hostname types.String `tfsdk:"hostname"`
	Expiry   types.String `tfsdk:"expiry"`
}

func (m *networkDataModel) fill(hn hypervisor.Network, n netcfg.Network, leases []hypervisor.Lease) {
	m.ID = types.StringValue(m.HostID.ValueString() + "/" + hn.Name)
	m.UUID = types.StringValue(hn.UUID)
	m.Mode = types.StringValue(n.Mode)
	m.CIDR = optString(n.CIDR)
	m.Bridge = optString(n.Bridge)
	m.Active, m.Autostart = types.BoolValue(hn.Active), types.BoolValue(hn.Autostart)
	m.DHCP = nil
	if n.DHCP != nil {
		m.DHCP = &networkDataRange{Start: types.StringValue(n.DHCP.Start), End: types.StringValue(n.DHCP.End)}
	}
	m.DHCPHosts = make([]networkDataHost, 0, len(n.Hosts))
	for _, h := range n.Hosts {
		m.DHCPHosts = append(m.DHCPHosts, networkDataHost{MAC: types.StringValue(h.MAC), IP: types.StringValue(h.IP), Name: optString(h.Name)})
	}
	m.Leases = make([]networkDataLease, 0, len(leases))
	for _, l := range leases {
		m.Leases = append(m.Leases, networkDataLease{
			MAC: types.StringValue(l.MAC), IP: types.StringValue(l.IP), Hostname: optString(l.Hostname),
			Expiry: types.StringValue(l.Expiry.UTC().Format(time.RFC3339)),
		})
	}
}
