package netcfg

import (
	"reflect"
	"strings"
	"testing"
)

func TestXMLRoundTrip(t *testing.T) {
	cases := map[string]Network{
		"nat with dhcp and hosts": good(),
		"isolated no dhcp":        {Name: "i", Mode: ModeIsolated, CIDR: "10.1.0.0/16"},
		"route hosts only":        {Name: "r", Mode: ModeRoute, CIDR: "10.2.0.0/24", Hosts: []Host{{MAC: "52:54:00:aa:bb:cc", IP: "10.2.0.9"}}},
		"open with bridge":        {Name: "o", Mode: ModeOpen, CIDR: "10.3.0.0/24", Bridge: "virbr9", UUID: "9f3c8d4e-1111-2222-3333-444455556666"},
		"bridge":                  {Name: "b", Mode: ModeBridge, Bridge: "br0"},
	}
	for name, n := range cases {
		t.Run(name, func(t *testing.T) {
			if err := Validate(&n); err != nil {
				t.Fatal(err)
			}
			doc, err := XML(n)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(doc)
			if err != nil {
				t.Fatalf("Parse(%s): %v", doc, err)
			}
			if !reflect.DeepEqual(back, n) {
				t.Errorf("round trip changed the network:\n got  %+v\n want %+v\nxml: %s", back, n, doc)
			}
		})
	}
}

func TestXMLShape(t *testing.T) {
	n := good()
	doc, err := XML(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<forward mode="nat">`, `<ip address="10.77.0.1" prefix="24">`, `<range start="10.77.0.10" end="10.77.0.100">`,
		`<host mac="52:54:00:00:00:01" name="a" ip="10.77.0.5">`} {
		if !strings.Contains(doc, want) {
			t.Errorf("xml lacks %s:\n%s", want, doc)
		}
	}
	iso, _ := XML(Network{Name: "i", Mode: ModeIsolated, CIDR: "10.1.0.0/24"})
	if strings.Contains(iso, "forward") || strings.Contains(iso, "dhcp") {
		t.Errorf("isolated network without dhcp has forward or dhcp:\n%s", iso)
	}
}

// TestParseLibvirtXML reads what libvirtd reports (netmask form, stp
// attributes, the default network of the test driver).
func TestParseLibvirtXML(t *testing.T) {
	doc := `<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
      <host mac='52:54:00:00:00:AA' name='a' ip='192.168.122.5'/>
    </dhcp>
  </ip>
</network>`
	n, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := Network{Name: "default", UUID: "dd8fe884-6c02-601e-7551-cca97df1c5df", Mode: ModeNAT, CIDR: "192.168.122.0/24", Bridge: "virbr0",
		DHCP: &Range{Start: "192.168.122.2", End: "192.168.122.254"}, Hosts: []Host{{MAC: "52:54:00:00:00:aa", IP: "192.168.122.5", Name: "a"}}}
	if !reflect.DeepEqual(n, want) {
		t.Errorf("Parse = %+v, want %+v", n, want)
	}
}

func TestParseRefusesWhatItCannotExpress(t *testing.T) {
	cases := map[string]struct{ doc, msg string }{
		"forward mode":  {`<network><name>x</name><forward mode='hostdev'/></network>`, `forward mode "hostdev"`},
		"ipv6":          {`<network><name>x</name><ip family='ipv6' address='fd00::1' prefix='64'/></network>`, "only IPv4 is managed"},
		"two ipv4":      {`<network><name>x</name><ip address='10.0.0.1' prefix='24'/><ip address='10.1.0.1' prefix='24'/></network>`, "2 IPv4 addresses"},
		"gateway":       {`<network><name>x</name><ip address='10.0.0.254' prefix='24'/></network>`, "gateway 10.0.0.254 is not the first address of 10.0.0.0/24"},
		"two ranges":    {`<network><name>x</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.3'/><range start='10.0.0.5' end='10.0.0.9'/></dhcp></ip></network>`, "2 DHCP ranges"},
		"bad netmask":   {`<network><name>x</name><ip address='10.0.0.1' netmask='255.0.255.0'/></network>`, "not contiguous"},
		"host sans mac": {`<network><name>x</name><ip address='10.0.0.1' prefix='24'><dhcp><host name='h' ip='10.0.0.4'/></dhcp></ip></network>`, `dhcp host "h"`},
		"not xml":       {`<network`, "parse network xml"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.doc)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Parse error = %v, want one containing %q", err, tc.msg)
			}
		})
	}
}

func TestParseClassfulDefault(t *testing.T) {
	n, err := Parse(`<network><name>x</name><ip address='172.16.0.1'/></network>`)
	if err != nil || n.CIDR != "172.16.0.0/16" {
		t.Errorf("Parse = %q, %v; want 172.16.0.0/16 (libvirt's classful default)", n.CIDR, err)
	}
}

func TestHostXML(t *testing.T) {
	doc, err := HostXML(Host{MAC: "52:54:00:00:00:01", IP: "10.0.0.5", Name: "w"})
	if err != nil || doc != `<host mac="52:54:00:00:00:01" name="w" ip="10.0.0.5"></host>` {
		t.Errorf("HostXML = %q, %v", doc, err)
	}
}
