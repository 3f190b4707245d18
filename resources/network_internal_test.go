package resources

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/netcfg"
)

func TestParseNetworkID(t *testing.T) {
	for id, want := range map[string][2]string{"local/lab": {"local", "lab"}, "a/b/lab": {"a/b", "lab"}} {
		h, n, ok := parseNetworkID(id)
		if !ok || h != want[0] || n != want[1] {
			t.Errorf("parseNetworkID(%q) = %q, %q, %t; want %v", id, h, n, ok, want)
		}
	}
	for _, bad := range []string{"", "lab", "/lab", "local/"} {
		if _, _, ok := parseNetworkID(bad); ok {
			t.Errorf("parseNetworkID(%q) accepted a bad id", bad)
		}
	}
}

// TestFromNetworkKeepsOrderAndSpelling: libvirt's order and MAC spelling
// do not show as a change of the user's dhcp_host list.
func TestFromNetworkKeepsOrderAndSpelling(t *testing.T) {
	m := networkModel{HostID: types.StringValue("h"), Name: types.StringValue("n"), DHCPHosts: []networkHostModel{
		{MAC: types.StringValue("52-54-00-00-00-0B"), IP: types.StringValue("10.0.0.6")},
		{MAC: types.StringValue("52:54:00:00:00:0a"), IP: types.StringValue("10.0.0.5")},
	}}
	live := netcfg.Network{Name: "n", Mode: netcfg.ModeIsolated, CIDR: "10.0.0.0/24", Hosts: []netcfg.Host{
		{MAC: "52:54:00:00:00:0a", IP: "10.0.0.5"}, {MAC: "52:54:00:00:00:0b", IP: "10.0.0.6"},
	}}
	m.fromNetwork(hypervisor.Network{UUID: "u", Active: true}, live)
	if got := m.DHCPHosts[0].MAC.ValueString(); got != "52-54-00-00-00-0B" || m.DHCPHosts[1].IP.ValueString() != "10.0.0.5" {
		t.Errorf("hosts = %+v, want the prior order and spelling", m.DHCPHosts)
	}
	if m.ID.ValueString() != "h/n" || !m.Bridge.IsNull() || m.DHCP != nil || m.Mode.ValueString() != "isolated" {
		t.Errorf("model = %+v", m)
	}
}
