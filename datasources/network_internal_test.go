package datasources

import (
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/netcfg"
)

// fill renders the network in the resource's terms: empty lists rather
// than nulls, absent values (no DHCP range, no hostname) as nulls, and the
// lease expiry as RFC 3339 in UTC whatever the zone it was read in.
func TestNetworkDataFill(t *testing.T) {
	m := networkDataModel{HostID: types.StringValue("kvm1")}
	hn := hypervisor.Network{Name: "lab", UUID: "u", Active: true}
	n := netcfg.Network{Mode: netcfg.ModeIsolated, CIDR: "10.77.0.0/24", Bridge: "virbr3",
		Hosts: []netcfg.Host{{MAC: "52:54:00:00:00:01", IP: "10.77.0.5"}}}
	expiry := time.Date(2026, 12, 2, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	m.fill(hn, n, []hypervisor.Lease{{MAC: "52:54:00:00:00:02", IP: "10.77.0.23", Expiry: expiry}})
	switch {
	case m.ID.ValueString() != "kvm1/lab" || m.Mode.ValueString() != "isolated" || !m.Active.ValueBool():
		t.Errorf("id/mode/active = %s/%s/%s", m.ID, m.Mode, m.Active)
	case m.DHCP != nil:
		t.Errorf("dhcp = %+v, want nil for a network without a range", m.DHCP)
	case len(m.DHCPHosts) != 1 || !m.DHCPHosts[0].Name.IsNull():
		t.Errorf("dhcp_host = %+v, want one entry with a null name", m.DHCPHosts)
	case len(m.Leases) != 1 || m.Leases[0].Expiry.ValueString() != "2026-12-02T08:30:00Z" || !m.Leases[0].Hostname.IsNull():
		t.Errorf("leases = %+v, want one with expiry 2026-12-02T08:30:00Z and a null hostname", m.Leases)
	}
	m.fill(hn, netcfg.Network{Mode: netcfg.ModeBridge, Bridge: "br0"}, nil)
	if m.Leases == nil || len(m.Leases) != 0 || m.DHCPHosts == nil || !m.CIDR.IsNull() {
		t.Errorf("bridge mode, no leases: leases %v, dhcp_host %v, cidr %s; want empty lists and a null cidr", m.Leases, m.DHCPHosts, m.CIDR)
	}
}
