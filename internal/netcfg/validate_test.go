package netcfg

import (
	"errors"
	"strings"
	"testing"
)

func good() Network {
	return Network{
		Name: "n", Mode: ModeNAT, CIDR: "10.77.0.0/24",
		DHCP:  &Range{Start: "10.77.0.10", End: "10.77.0.100"},
		Hosts: []Host{{MAC: "52:54:00:00:00:01", IP: "10.77.0.5", Name: "a"}, {MAC: "52:54:00:00:00:02", IP: "10.77.0.6"}},
	}
}

func TestValidateAcceptsAndNormalises(t *testing.T) {
	n := good()
	n.Hosts[0].MAC = "52-54-00-00-00-0A"
	if err := Validate(&n); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	if n.Hosts[0].MAC != "52:54:00:00:00:0a" {
		t.Errorf("mac = %q, want 52:54:00:00:00:0a", n.Hosts[0].MAC)
	}
	b := Network{Name: "b", Mode: ModeBridge, Bridge: "br0"}
	if err := Validate(&b); err != nil {
		t.Errorf("Validate(bridge) = %v", err)
	}
	for _, m := range []string{ModeIsolated, ModeRoute, ModeOpen} {
		n := Network{Name: "x", Mode: m, CIDR: "192.168.5.0/30"}
		if err := Validate(&n); err != nil {
			t.Errorf("Validate(%s /30) = %v", m, err)
		}
	}
}

// TestValidateBadInput pairs each bad input with the path and message it gets.
func TestValidateBadInput(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Network)
		path   string
		msg    string
	}{
		{"unknown mode", func(n *Network) { n.Mode = "nat6" }, "mode", `unknown mode "nat6": use one of nat, isolated, route, open, bridge`},
		{"no cidr", func(n *Network) { n.CIDR = "" }, "cidr", `a cidr is required, e.g. "10.77.0.0/24"`},
		{"malformed cidr", func(n *Network) { n.CIDR = "10.77.0/24" }, "cidr", `"10.77.0/24" is not a CIDR such as "10.77.0.0/24"`},
		{"no prefix", func(n *Network) { n.CIDR = "10.77.0.0" }, "cidr", `"10.77.0.0" is not a CIDR`},
		{"ipv6", func(n *Network) { n.CIDR = "fd00::/64" }, "cidr", `"fd00::/64" is not IPv4: only IPv4 networks are supported for now`},
		{"host bits", func(n *Network) { n.CIDR = "10.77.0.1/24" }, "cidr", `"10.77.0.1/24" has host bits set: use the network address 10.77.0.0/24`},
		{"too small", func(n *Network) { n.CIDR = "10.77.0.0/31" }, "cidr", `too small: use a prefix of /30 or shorter`},
		{"range start outside", func(n *Network) { n.DHCP.Start = "10.78.0.10" }, "dhcp.start", "10.78.0.10 is outside cidr 10.77.0.0/24"},
		{"range end outside", func(n *Network) { n.DHCP.End = "10.77.1.1" }, "dhcp.end", "10.77.1.1 is outside cidr 10.77.0.0/24"},
		{"range on gateway", func(n *Network) { n.DHCP.Start = "10.77.0.1" }, "dhcp.start", "10.77.0.1 is the gateway (the first address of 10.77.0.0/24)"},
		{"range on broadcast", func(n *Network) { n.DHCP.End = "10.77.0.255" }, "dhcp.end", "10.77.0.255 is the broadcast address of 10.77.0.0/24"},
		{"range on network", func(n *Network) { n.DHCP.Start = "10.77.0.0" }, "dhcp.start", "10.77.0.0 is the network address"},
		{"range reversed", func(n *Network) { n.DHCP.Start, n.DHCP.End = "10.77.0.100", "10.77.0.10" }, "dhcp.end", "10.77.0.10 comes before start 10.77.0.100"},
		{"range not an ip", func(n *Network) { n.DHCP.Start = "ten" }, "dhcp.start", `"ten" is not an IPv4 address`},
		{"bad mac", func(n *Network) { n.Hosts[1].MAC = "52:54:00:00:01" }, "dhcp_host[1].mac", `"52:54:00:00:01" is not a MAC address`},
		{"multicast mac", func(n *Network) { n.Hosts[1].MAC = "01:00:5e:00:00:01" }, "dhcp_host[1].mac", "01:00:5e:00:00:01 is a multicast address"},
		{"duplicate mac", func(n *Network) { n.Hosts[1].MAC = "52:54:00:00:00:01" }, "dhcp_host[1].mac", "52:54:00:00:00:01 is also the mac of dhcp_host[0]"},
		{"duplicate mac other case", func(n *Network) { n.Hosts[1].MAC = "52:54:00:00:00:01"; n.Hosts[0].MAC = "52-54-00-00-00-01" }, "dhcp_host[1].mac", "is also the mac of dhcp_host[0]"},
		{"duplicate ip", func(n *Network) { n.Hosts[1].IP = "10.77.0.5" }, "dhcp_host[1].ip", "10.77.0.5 is also the ip of dhcp_host[0]: two guests cannot share a static address"},
		{"host ip outside", func(n *Network) { n.Hosts[0].IP = "10.99.0.5" }, "dhcp_host[0].ip", "10.99.0.5 is outside cidr 10.77.0.0/24"},
		{"host ip gateway", func(n *Network) { n.Hosts[0].IP = "10.77.0.1" }, "dhcp_host[0].ip", "is the gateway"},
		{"bridge mode without bridge", func(n *Network) { *n = Network{Name: "b", Mode: ModeBridge} }, "bridge", `mode "bridge" needs the name of an existing host bridge`},
		{"bridge mode with cidr", func(n *Network) { *n = Network{Name: "b", Mode: ModeBridge, Bridge: "br0", CIDR: "10.0.0.0/24"} }, "cidr", "remove cidr"},
		{"bridge mode with dhcp", func(n *Network) {
			*n = Network{Name: "b", Mode: ModeBridge, Bridge: "br0", Hosts: []Host{{MAC: "52:54:00:00:00:01", IP: "10.0.0.2"}}}
		}, "dhcp", "remove dhcp and dhcp_host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := good()
			tc.change(&n)
			fe := findField(t, Validate(&n), tc.path)
			if !strings.Contains(fe.Msg, tc.msg) {
				t.Errorf("%s: message %q does not contain %q", tc.path, fe.Msg, tc.msg)
			}
		})
	}
}

// findField returns the FieldError for path in err, failing when absent.
func findField(t *testing.T, err error, path string) *FieldError {
	t.Helper()
	if err == nil {
		t.Fatalf("Validate accepted the input; want an error at %s", path)
	}
	var all []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		all = j.Unwrap()
	} else {
		all = []error{err}
	}
	for _, e := range all {
		var fe *FieldError
		if errors.As(e, &fe) && fe.Path() == path {
			return fe
		}
	}
	t.Fatalf("no error at %s in: %v", path, err)
	return nil
}

func TestValidateReportsEveryMistake(t *testing.T) {
	n := good()
	n.DHCP.Start = "10.78.0.1"
	n.Hosts[1].IP = "10.77.0.5"
	err := Validate(&n)
	_ = findField(t, err, "dhcp.start")
	_ = findField(t, err, "dhcp_host[1].ip")
}

func TestGatewayAndOverlaps(t *testing.T) {
	g, err := Gateway("10.77.0.0/24")
	if err != nil || g.String() != "10.77.0.1" {
		t.Errorf("Gateway = %v, %v; want 10.77.0.1", g, err)
	}
	if _, err := Gateway("bad"); err == nil {
		t.Error("Gateway(bad) gave no error")
	}
	if !Overlaps("10.77.0.0/16", "10.77.5.0/24") || Overlaps("10.77.0.0/24", "10.78.0.0/24") {
		t.Error("Overlaps is wrong for nested or disjoint networks")
	}
}
