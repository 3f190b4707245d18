package resources

import (
	"context"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/netcfg"
)

// virtumancer_network's model and its conversions to and from netcfg,
// which decides what the values mean.

type networkModel struct {
	HostID    types.String       `tfsdk:"host_id"`
	Name      types.String       `tfsdk:"name"`
	Mode      types.String       `tfsdk:"mode"`
	CIDR      types.String       `tfsdk:"cidr"`
	Bridge    types.String       `tfsdk:"bridge"`
	Autostart types.Bool         `tfsdk:"autostart"`
	DHCP      *networkDHCPModel  `tfsdk:"dhcp"`
	DHCPHosts []networkHostModel `tfsdk:"dhcp_host"`
	ID        types.String       `tfsdk:"id"`
	UUID      types.String       `tfsdk:"uuid"`
	Active    types.Bool         `tfsdk:"active"`
}

type networkDHCPModel struct {
	Start types.String `tfsdk:"start"`
	End   types.String `tfsdk:"end"`
}

type networkHostModel struct {
	MAC  types.String `tfsdk:"mac"`
	IP   types.String `tfsdk:"ip"`
	Name types.String `tfsdk:"name"`
}

func (m *networkModel) logFields(ctx context.Context) context.Context {
	ctx = tflog.SetField(ctx, "host", m.HostID.ValueString())
	return tflog.SetField(ctx, "network", m.Name.ValueString())
}

func (m *networkModel) hostID() string { return m.HostID.ValueString() }

func (m *networkModel) importID() string { return m.HostID.ValueString() + "/" + m.Name.ValueString() }

// known reports whether every value netcfg needs is known (a value from
// another resource may only be known at apply).
func (m *networkModel) known() bool {
	vals := []types.String{m.Name, m.Mode, m.CIDR}
	if m.Mode.ValueString() == netcfg.ModeBridge {
		vals = append(vals, m.Bridge) // otherwise libvirt chooses it
	}
	if m.DHCP != nil {
		vals = append(vals, m.DHCP.Start, m.DHCP.End)
	}
	for _, h := range m.DHCPHosts {
		vals = append(vals, h.MAC, h.IP, h.Name)
	}
	for _, v := range vals {
		if v.IsUnknown() {
			return false
		}
	}
	return true
}

// config is the model as netcfg sees it, not yet validated. An unknown
// bridge (libvirt chooses it) is empty.
func (m *networkModel) config() netcfg.Network {
	n := netcfg.Network{
		Name: m.Name.ValueString(), UUID: m.UUID.ValueString(), Mode: m.Mode.ValueString(),
		CIDR: m.CIDR.ValueString(), Bridge: m.Bridge.ValueString(),
	}
	if n.Mode == "" {
		n.Mode = netcfg.DefaultMode
	}
	if m.DHCP != nil {
		n.DHCP = &netcfg.Range{Start: m.DHCP.Start.ValueString(), End: m.DHCP.End.ValueString()}
	}
	for _, h := range m.DHCPHosts {
		n.Hosts = append(n.Hosts, netcfg.Host{MAC: h.MAC.ValueString(), IP: h.IP.ValueString(), Name: h.Name.ValueString()})
	}
	return n
}

// fromNetwork records what the host reports. Hosts keep the order and the
// spelling (MAC case and separators) of the prior model where they are the
// same entry, so that neither shows as a change.
func (m *networkModel) fromNetwork(hn hypervisor.Network, n netcfg.Network) {
	prior := m.config()
	m.ID = types.StringValue(m.importID())
	m.UUID = types.StringValue(hn.UUID)
	m.Active = types.BoolValue(hn.Active)
	m.Autostart = types.BoolValue(hn.Autostart)
	m.Mode = types.StringValue(n.Mode)
	m.CIDR = optString(n.CIDR)
	m.Bridge = optString(n.Bridge)
	m.DHCP = nil
	if n.DHCP != nil {
		m.DHCP = &networkDHCPModel{Start: types.StringValue(n.DHCP.Start), End: types.StringValue(n.DHCP.End)}
	}
	spelling := map[string]string{}
	for _, h := range prior.Hosts {
		if mac, err := netcfg.NormalizeMAC(h.MAC); err == nil {
			spelling[mac] = h.MAC
		}
	}
	m.DHCPHosts = nil
	for _, h := range netcfg.OrderLike(n.Hosts, normalized(prior.Hosts)) {
		mac := h.MAC
		if s, ok := spelling[mac]; ok {
			mac = s
		}
		m.DHCPHosts = append(m.DHCPHosts, networkHostModel{MAC: types.StringValue(mac), IP: types.StringValue(h.IP), Name: optString(h.Name)})
	}
}

func normalized(hosts []netcfg.Host) []netcfg.Host {
	out := make([]netcfg.Host, 0, len(hosts))
	for _, h := range hosts {
		if mac, err := netcfg.NormalizeMAC(h.MAC); err == nil {
			h.MAC = mac
		}
		out = append(out, h)
	}
	return out
}

func optString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// parseNetworkID splits host_id/name at the last '/': a network name holds
// no '/', a host id may.
func parseNetworkID(id string) (hostID, name string, ok bool) {
	i := strings.LastIndex(id, "/")
	if i <= 0 || i == len(id)-1 {
		return "", "", false
	}
	return id[:i], id[i+1:], true
}
