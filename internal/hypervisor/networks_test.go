package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/netcfg"
)

// defineTestNetwork defines n on c and removes it when the test ends.
func defineTestNetwork(t *testing.T, c *Conn, n netcfg.Network) Network {
	t.Helper()
	if err := netcfg.Validate(&n); err != nil {
		t.Fatal(err)
	}
	doc, err := netcfg.XML(n)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.DefineNetwork(ctx(t), doc)
	if err != nil {
		t.Fatalf("define network %s: %v", n.Name, err)
	}
	t.Cleanup(func() { removeNetwork(t, c, n.Name) })
	return got
}

func removeNetwork(t testing.TB, c *Conn, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.StopNetwork(ctx, name); err != nil && !errors.Is(err, ErrNetworkNotFound) {
		t.Errorf("cleanup: stop network %s: %v", name, err)
	}
	if err := c.UndefineNetwork(ctx, name); err != nil && !errors.Is(err, ErrNetworkNotFound) {
		t.Errorf("cleanup: undefine network %s: %v", name, err)
	}
}

func parsedHosts(t *testing.T, c *Conn, name string) []netcfg.Host {
	t.Helper()
	n, err := c.LookupNetwork(ctx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := netcfg.Parse(n.XML)
	if err != nil {
		t.Fatal(err)
	}
	return m.Hosts
}

// TestIntegrationNetwork_testDriver walks a network's life on the
// daemon's test driver: define, start, autostart, live DHCP host updates,
// stop, undefine, and the sentinel for a network that is gone.
func TestIntegrationNetwork_testDriver(t *testing.T) {
	c := connect(t, testURI)
	name := uniqueName("net")
	a := netcfg.Host{MAC: "52:54:00:00:00:01", IP: "10.77.0.5", Name: "a"}
	b := netcfg.Host{MAC: "52:54:00:00:00:02", IP: "10.77.0.6"}
	def := defineTestNetwork(t, c, netcfg.Network{Name: name, Mode: netcfg.ModeNAT, CIDR: "10.77.0.0/24",
		DHCP: &netcfg.Range{Start: "10.77.0.10", End: "10.77.0.20"}, Hosts: []netcfg.Host{a}})
	if def.Active || !def.Persistent || def.UUID == "" {
		t.Errorf("defined network = %+v, want inactive, persistent, with a uuid", def)
	}
	if err := c.StartNetwork(ctx(t), name); err != nil {
		t.Fatal(err)
	}
	if err := c.StartNetwork(ctx(t), name); err != nil {
		t.Errorf("starting an active network: %v, want no error", err)
	}
	if err := c.SetNetworkAutostart(ctx(t), name, true); err != nil {
		t.Fatal(err)
	}
	up := []netcfg.Update{{Command: netcfg.Delete, Host: a}, {Command: netcfg.Add, Host: b}}
	if err := c.UpdateNetworkHosts(ctx(t), name, up); err != nil {
		t.Fatalf("update hosts: %v", err)
	}
	if got := parsedHosts(t, c, name); !slices.Equal(got, []netcfg.Host{b}) {
		t.Errorf("hosts after update = %v, want [%v]", got, b)
	}
	n, err := c.LookupNetwork(ctx(t), name)
	if err != nil || !n.Active || !n.Autostart || n.UUID != def.UUID {
		t.Errorf("lookup = %+v, %v; want active, autostart, uuid %s", n, err, def.UUID)
	}
	if err := c.StopNetwork(ctx(t), name); err != nil {
		t.Fatal(err)
	}
	// Updates of an inactive network go to its definition only.
	if err := c.UpdateNetworkHosts(ctx(t), name, []netcfg.Update{{Command: netcfg.Add, Host: a}}); err != nil {
		t.Fatalf("update inactive network: %v", err)
	}
	if got := parsedHosts(t, c, name); !slices.Equal(got, []netcfg.Host{b, a}) {
		t.Errorf("hosts = %v, want [%v %v]", got, b, a)
	}
	if err := c.UndefineNetwork(ctx(t), name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LookupNetwork(ctx(t), name); !errors.Is(err, ErrNetworkNotFound) {
		t.Errorf("lookup after undefine = %v, want ErrNetworkNotFound", err)
	}
}

func TestIntegrationNetwork_errors(t *testing.T) {
	c := connect(t, testURI)
	name := uniqueName("net-gone")
	for op, err := range map[string]error{
		"start":     c.StartNetwork(ctx(t), name),
		"stop":      c.StopNetwork(ctx(t), name),
		"undefine":  c.UndefineNetwork(ctx(t), name),
		"autostart": c.SetNetworkAutostart(ctx(t), name, true),
		"update":    c.UpdateNetworkHosts(ctx(t), name, nil),
	} {
		var oe *OpError
		if !errors.Is(err, ErrNetworkNotFound) || !errors.As(err, &oe) || oe.HostID != "local" {
			t.Errorf("%s of a missing network: %v, want ErrNetworkNotFound in an OpError naming host local", op, err)
		}
	}
	// A duplicate IP is refused by libvirt, and the error says how far it got.
	h := netcfg.Host{MAC: "52:54:00:00:00:07", IP: "10.79.0.7"}
	defineTestNetwork(t, c, netcfg.Network{Name: name, Mode: netcfg.ModeIsolated, CIDR: "10.79.0.0/24", Hosts: []netcfg.Host{h}})
	err := c.UpdateNetworkHosts(ctx(t), name, []netcfg.Update{{Command: netcfg.Add, Host: h}})
	if err == nil {
		t.Fatal("adding the same host twice succeeded, want libvirt's refusal")
	}
	if want := "after 0 of 1 updates"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

// TestIntegrationNetwork_leasesAndInterfaces: the test driver has no DHCP
// leases (ErrUnsupported) and one host interface, eth1.
func TestIntegrationNetwork_leasesAndInterfaces(t *testing.T) {
	c := connect(t, testURI)
	name := uniqueName("net-lease")
	defineTestNetwork(t, c, netcfg.Network{Name: name, Mode: netcfg.ModeIsolated, CIDR: "10.80.0.0/24"})
	if _, err := c.NetworkLeases(ctx(t), name); !errors.Is(err, ErrUnsupported) {
		t.Errorf("leases on the test driver = %v, want ErrUnsupported", err)
	}
	hi, err := c.LookupHostInterface(ctx(t), "eth1")
	if err != nil || hi.Type != "ethernet" || !hi.Active {
		t.Errorf("eth1 = %+v, %v; want an active ethernet interface", hi, err)
	}
	if _, err := c.LookupHostInterface(ctx(t), "nosuchbr0"); !errors.Is(err, ErrInterfaceNotFound) {
		t.Errorf("missing interface = %v, want ErrInterfaceNotFound", err)
	}
}

// TestIntegrationNetwork_users finds the running domains plugged into a
// network, and only those.
func TestIntegrationNetwork_users(t *testing.T) {
	c := connect(t, testURI)
	net := uniqueName("net-users")
	defineTestNetwork(t, c, netcfg.Network{Name: net, Mode: netcfg.ModeIsolated, CIDR: "10.81.0.0/24"})
	on, off, stopped := uniqueName("on"), uniqueName("off"), uniqueName("stopped")
	for _, d := range []struct {
		name, net string
		start     bool
	}{{on, net, true}, {off, "default", true}, {stopped, net, false}} {
		dom, err := c.DefineXML(ctx(t), domainOnNetwork(d.name, d.net))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { removeDomain(t, c, dom) })
		if d.start {
			if _, err := c.Start(ctx(t), dom); err != nil {
				t.Fatal(err)
			}
		}
	}
	users, err := c.NetworkUsers(ctx(t), net, "")
	if err != nil || !slices.Equal(users, []string{on}) {
		t.Errorf("users = %v, %v; want [%s] (running and plugged in)", users, err, on)
	}
}

func domainOnNetwork(name, network string) string {
	return fmt.Sprintf(`<domain type='test'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices><interface type='network'><source network='%s'/></interface></devices>
</domain>`, name, network)
}

func TestUsesNetwork(t *testing.T) {
	bridged := `<domain><name>x</name><devices><interface type='bridge'><source bridge='br7'/></interface></devices></domain>`
	if !usesNetwork(bridged, "n", "br7") || usesNetwork(bridged, "n", "") || usesNetwork("<nope", "n", "br7") {
		t.Error("usesNetwork misreads a bridged interface or bad XML")
	}
	if !usesNetwork(domainOnNetwork("x", "n"), "n", "") || usesNetwork(domainOnNetwork("x", "m"), "n", "") {
		t.Error("usesNetwork misreads a network interface")
	}
}

// TestIntegrationListNetworksWhileOthersUndefine: networks undefined by
// someone else between the listing and their description are left out,
// not an error (seen: a plan's overlap check failed with "no network with
// matching uuid" while another apply destroyed its network).
func TestIntegrationListNetworksWhileOthersUndefine(t *testing.T) {
	c := connect(t, testURI)
	churn := connect(t, testURI)
	prefix := uniqueName("churn")
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			n := netcfg.Network{Name: fmt.Sprintf("%s-%d", prefix, i%8), Mode: netcfg.ModeIsolated, CIDR: fmt.Sprintf("10.78.%d.0/24", i%8)}
			doc, err := netcfg.XML(n)
			if err != nil {
				done <- err
				return
			}
			if _, err := churn.DefineNetwork(context.Background(), doc); err != nil {
				done <- err
				return
			}
			if err := churn.UndefineNetwork(context.Background(), n.Name); err != nil {
				done <- err
				return
			}
		}
	}()
	t.Cleanup(func() {
		for i := range 8 {
			removeNetwork(t, c, fmt.Sprintf("%s-%d", prefix, i))
		}
	})
	var listErr error
	for range 300 {
		if _, listErr = c.ListNetworks(ctx(t)); listErr != nil {
			break
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("the churning client failed: %v", err)
	}
	if listErr != nil {
		t.Fatalf("ListNetworks while another client defines and undefines networks: %v", listErr)
	}
}
