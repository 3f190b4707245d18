package netcfg

import (
	"reflect"
	"slices"
	"testing"
)

func TestDiffLiveHostChanges(t *testing.T) {
	old := good()
	cur := good()
	cur.Hosts = []Host{
		{MAC: "52:54:00:00:00:02", IP: "10.77.0.5"},            // changed: takes a's address
		{MAC: "52:54:00:00:00:03", IP: "10.77.0.7", Name: "c"}, // new
	} // a removed
	c := Diff(old, cur)
	if len(c.Restart) != 0 {
		t.Fatalf("Restart = %v, want none", c.Restart)
	}
	want := []string{
		`delete ip-dhcp-host mac=52:54:00:00:00:01 ip=10.77.0.5 name="a"`,
		`delete ip-dhcp-host mac=52:54:00:00:00:02 ip=10.77.0.6 name=""`,
		`add-last ip-dhcp-host mac=52:54:00:00:00:02 ip=10.77.0.5 name=""`,
		`add-last ip-dhcp-host mac=52:54:00:00:00:03 ip=10.77.0.7 name="c"`,
	}
	var got []string
	for _, u := range c.Live {
		got = append(got, u.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("Live =\n%v\nwant\n%v", got, want)
	}
}

func TestDiffRestart(t *testing.T) {
	cases := map[string]struct {
		change func(*Network)
		want   []string
	}{
		"mode":          {func(n *Network) { n.Mode = ModeRoute }, []string{"mode"}},
		"cidr":          {func(n *Network) { n.CIDR = "10.78.0.0/24" }, []string{"cidr"}},
		"range":         {func(n *Network) { n.DHCP.End = "10.77.0.200" }, []string{"dhcp"}},
		"range removed": {func(n *Network) { n.DHCP = nil }, []string{"dhcp"}},
		"bridge":        {func(n *Network) { n.Bridge = "virbr5" }, []string{"bridge"}},
		"dhcp off":      {func(n *Network) { n.DHCP, n.Hosts = nil, nil }, []string{"dhcp"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			old := good()
			old.Bridge = "virbr1"
			cur := good()
			cur.Bridge = "virbr1"
			tc.change(&cur)
			c := Diff(old, cur)
			if !slices.Equal(c.Restart, tc.want) || len(c.Live) != 0 {
				t.Errorf("Diff = %+v, want Restart %v and no live updates", c, tc.want)
			}
		})
	}
}

func TestDiffFirstHostWithoutDHCPRestarts(t *testing.T) {
	old := Network{Name: "n", Mode: ModeIsolated, CIDR: "10.0.0.0/24"}
	cur := old
	cur.Hosts = []Host{{MAC: "52:54:00:00:00:01", IP: "10.0.0.3"}}
	if c := Diff(old, cur); !slices.Equal(c.Restart, []string{"dhcp_host"}) {
		t.Errorf("Diff = %+v, want a restart for dhcp_host", c)
	}
	if c := Diff(cur, old); !slices.Equal(c.Restart, []string{"dhcp_host"}) {
		t.Errorf("Diff (last host removed) = %+v, want a restart for dhcp_host", c)
	}
}

func TestDiffNoneAndUnknownBridge(t *testing.T) {
	old := good()
	old.Bridge = "virbr3"
	cur := good() // bridge not known in the plan: not a change
	if c := Diff(old, cur); !c.None() {
		t.Errorf("Diff = %+v, want none", c)
	}
}

func TestOrderLike(t *testing.T) {
	a := Host{MAC: "52:54:00:00:00:01"}
	b := Host{MAC: "52:54:00:00:00:02"}
	c := Host{MAC: "52:54:00:00:00:03"}
	got := OrderLike([]Host{c, a, b}, []Host{b, a})
	if want := []Host{b, a, c}; !reflect.DeepEqual(got, want) {
		t.Errorf("OrderLike = %v, want %v", got, want)
	}
}
