package resources_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/resources"
)

// The modes tests own 10.77.61.0/24 .. 10.77.69.0/24 and the host bridges
// nmbr<N> inside the network namespace vmtest, where libvirtd runs.
const (
	nmRoute  = "virtumancer_network.r"
	nmOpen   = "virtumancer_network.o"
	nmBridge = "virtumancer_network.b"
)

var virbr = regexp.MustCompile(`^virbr\d+$`) // a bridge libvirt chose

// TestAccNetwork_modesRouteOpen: a route and an open network on
// qemu:///system, each with a DHCP range and a static host: both run with
// the <forward mode> of their mode, a bridge libvirt chose and a dnsmasq
// serving the range and the host; a second plan is empty; import (by id
// and by an import block) plans empty; changing route to nat is an update
// that warns of the restart, keeps the UUID and the bridge (the plan shows
// the bridge, not "known after apply"), and destroy leaves neither.
func TestAccNetwork_modesRouteOpen(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.QemuURI)
	route, open := acctest.Name("nm-route"), acctest.Name("nm-open")
	t.Cleanup(func() { removeLeftNetwork(e.lv, route); removeLeftNetwork(e.lv, open) })
	config := func(routeMode string) string {
		return e.hostHCL() + dhcpNetworkHCL("r", route, routeMode, "10.77.61") + dhcpNetworkHCL("o", open, "open", "10.77.62")
	}
	sameUUID, sameBridge := statecheck.CompareValue(compare.ValuesSame()), statecheck.CompareValue(compare.ValuesSame())
	var routeUUID, openUUID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(checkNetworkGone(acctest.QemuURI, route), checkNetworkGone(acctest.QemuURI, open),
			dnsmasqGone(route), dnsmasqGone(open)),
		Steps: []resource.TestStep{
			{
				Config: config("route"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(nmRoute, plancheck.ResourceActionCreate),
						plancheck.ExpectResourceAction(nmOpen, plancheck.ResourceActionCreate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nmRoute, tfjsonpath.New("mode"), knownvalue.StringExact("route")),
					statecheck.ExpectKnownValue(nmRoute, tfjsonpath.New("active"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(nmOpen, tfjsonpath.New("mode"), knownvalue.StringExact("open")),
					statecheck.ExpectKnownValue(nmOpen, tfjsonpath.New("active"), knownvalue.Bool(true)),
					sameUUID.AddStateValue(nmRoute, tfjsonpath.New("uuid")),
					sameBridge.AddStateValue(nmRoute, tfjsonpath.New("bridge")),
				},
				Check: resource.ComposeTestCheckFunc(
					checkNetwork(acctest.QemuURI, route, &routeUUID, hostsAre("52:54:00:77:61:05=10.77.61.5")),
					checkNetwork(acctest.QemuURI, open, &openUUID, hostsAre("52:54:00:77:62:05=10.77.62.5")),
					liveXMLHas(e, route, "<forward mode='route'/>", "<bridge name='virbr", dhcpXML("10.77.61")),
					liveXMLHas(e, open, "<forward mode='open'/>", "<bridge name='virbr", dhcpXML("10.77.62")),
					dnsmasqServes(route, "10.77.61"),
					dnsmasqServes(open, "10.77.62"),
				),
			},
			importByID(nmRoute, e.hostID+"/"+route),
			importByID(nmOpen, e.hostID+"/"+open),
			importByBlock(config("route"), nmRoute, e.hostID+"/"+route),
			importByBlock(config("route"), nmOpen, e.hostID+"/"+open),
			{
				Config: config("nat"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(nmRoute, plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(nmOpen, plancheck.ResourceActionNoop),
						plannedBridgeKept(nmRoute),
						warnsRestart(e, nmRoute, route, "Changing mode means"),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nmRoute, tfjsonpath.New("mode"), knownvalue.StringExact("nat")),
					sameUUID.AddStateValue(nmRoute, tfjsonpath.New("uuid")),
					sameBridge.AddStateValue(nmRoute, tfjsonpath.New("bridge")),
				},
				Check: resource.ComposeTestCheckFunc(
					checkNetwork(acctest.QemuURI, route, &routeUUID, hostsAre("52:54:00:77:61:05=10.77.61.5")),
					checkNetwork(acctest.QemuURI, open, &openUUID, hostsAre("52:54:00:77:62:05=10.77.62.5")),
					liveXMLHas(e, route, "<forward mode='nat'>", dhcpXML("10.77.61")),
					dnsmasqServes(route, "10.77.61"),
				),
			},
		},
	})
}

// TestAccNetwork_modesBridge: a bridge-mode network on a Linux bridge the
// test makes inside vmtest: it runs with <forward mode='bridge'/> and the
// bridge named, no address and no DHCP; a second plan is empty; import
// (by id and by an import block) plans empty; moving it to isolated with
// a cidr is an update that warns of the restart, keeps the UUID and lets
// libvirt choose a bridge of its own (unknown in the plan), and so is
// moving it back onto the host bridge; destroy leaves nothing.
func TestAccNetwork_modesBridge(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.QemuURI)
	const hostBridge = "nmbr1"
	makeHostBridge(t, hostBridge)
	name := acctest.Name("nm-bridge")
	t.Cleanup(func() { removeLeftNetwork(e.lv, name) })
	bridged := e.hostHCL() + fmt.Sprintf("\nresource \"virtumancer_network\" \"b\" {\n  host_id = virtumancer_host.h.id\n  name    = %q\n  mode    = \"bridge\"\n  bridge  = %q\n}\n", name, hostBridge)
	isolated := e.hostHCL() + fmt.Sprintf("\nresource \"virtumancer_network\" \"b\" {\n  host_id = virtumancer_host.h.id\n  name    = %q\n  mode    = \"isolated\"\n  cidr    = \"10.77.63.0/24\"\n}\n", name)
	sameUUID := statecheck.CompareValue(compare.ValuesSame())
	var uuid string
	noHosts := hostsAre()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkNetworkGone(acctest.QemuURI, name),
		Steps: []resource.TestStep{
			{
				Config: bridged,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(nmBridge, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nmBridge, tfjsonpath.New("bridge"), knownvalue.StringExact(hostBridge)),
					statecheck.ExpectKnownValue(nmBridge, tfjsonpath.New("cidr"), knownvalue.Null()),
					statecheck.ExpectKnownValue(nmBridge, tfjsonpath.New("active"), knownvalue.Bool(true)),
					sameUUID.AddStateValue(nmBridge, tfjsonpath.New("uuid")),
				},
				Check: resource.ComposeTestCheckFunc(
					checkNetwork(acctest.QemuURI, name, &uuid, noHosts),
					liveXMLHas(e, name, "<forward mode='bridge'/>", "<bridge name='"+hostBridge+"'/>"),
					liveXMLLacks(e, name, "<ip ", "<dhcp>"),
				),
			},
			importByID(nmBridge, e.hostID+"/"+name),
			importByBlock(bridged, nmBridge, e.hostID+"/"+name),
			{
				Config: isolated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(nmBridge, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(nmBridge, tfjsonpath.New("bridge")),
						warnsRestart(e, nmBridge, name, "Changing mode, cidr means"),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nmBridge, tfjsonpath.New("mode"), knownvalue.StringExact("isolated")),
					statecheck.ExpectKnownValue(nmBridge, tfjsonpath.New("bridge"), knownvalue.StringRegexp(virbr)),
					sameUUID.AddStateValue(nmBridge, tfjsonpath.New("uuid")),
				},
				Check: resource.ComposeTestCheckFunc(
					checkNetwork(acctest.QemuURI, name, &uuid, noHosts),
					liveXMLHas(e, name, "<ip address='10.77.63.1' prefix='24'", "<bridge name='virbr"),
					liveXMLLacks(e, name, "<forward", hostBridge),
				),
			},
			{
				Config: bridged,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(nmBridge, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(nmBridge, tfjsonpath.New("bridge"), knownvalue.StringExact(hostBridge)),
						warnsRestart(e, nmBridge, name, "Changing mode, cidr, bridge means"),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nmBridge, tfjsonpath.New("bridge"), knownvalue.StringExact(hostBridge)),
					sameUUID.AddStateValue(nmBridge, tfjsonpath.New("uuid")),
				},
				Check: resource.ComposeTestCheckFunc(
					checkNetwork(acctest.QemuURI, name, &uuid, noHosts),
					liveXMLHas(e, name, "<forward mode='bridge'/>", "<bridge name='"+hostBridge+"'/>"),
					liveXMLLacks(e, name, "<ip ", "virbr"),
				),
			},
		},
	})
}

// dhcpNetworkHCL is a network with a DHCP range .10-.50 and one static
// host (mac 52:54:00:77:<third octet>:05 at .5) in prefix.0/24.
func dhcpNetworkHCL(label, name, mode, prefix string) string {
	octet := strings.Split(prefix, ".")[2]
	return fmt.Sprintf(`
resource "virtumancer_network" %q {
  host_id = virtumancer_host.h.id
  name    = %q
  mode    = %q
  cidr    = "%s.0/24"
  dhcp {
    start = "%[4]s.10"
    end   = "%[4]s.50"
  }
  dhcp_host {
    mac = "52:54:00:77:%[5]s:05"
    ip  = "%[4]s.5"
  }
}
`, label, name, mode, prefix, octet)
}

// dhcpXML is the <dhcp> element dhcpNetworkHCL's network must have.
func dhcpXML(prefix string) string {
	octet := strings.Split(prefix, ".")[2]
	return fmt.Sprintf("<dhcp>\n      <range start='%[1]s.10' end='%[1]s.50'/>\n      <host mac='52:54:00:77:%[2]s:05' ip='%[1]s.5'/>\n    </dhcp>", prefix, octet)
}

func importByID(addr, id string) resource.TestStep {
	return resource.TestStep{
		ResourceName: addr, ImportState: true, ImportStateId: id,
		ImportStateVerify: true, ImportStateVerifyIdentifierAttribute: "id",
	}
}

// importByBlock imports through an `import { to, id }` block, which
// terraform-plugin-testing requires to plan no change.
func importByBlock(config, addr, id string) resource.TestStep {
	return resource.TestStep{
		Config: config, ResourceName: addr, ImportState: true, ImportStateId: id, ImportStateKind: resource.ImportBlockWithID,
	}
}

// liveXMLHas asserts the network's live XML, as libvirt reports it, holds
// each of want.
func liveXMLHas(e *vmEnv, name string, want ...string) resource.TestCheckFunc {
	return liveXML(e, name, func(doc string) error {
		for _, w := range want {
			if !strings.Contains(doc, w) {
				return fmt.Errorf("network %s: live xml lacks %q:\n%s", name, w, doc)
			}
		}
		return nil
	})
}

func liveXMLLacks(e *vmEnv, name string, unwanted ...string) resource.TestCheckFunc {
	return liveXML(e, name, func(doc string) error {
		for _, w := range unwanted {
			if strings.Contains(doc, w) {
				return fmt.Errorf("network %s: live xml holds %q:\n%s", name, w, doc)
			}
		}
		return nil
	})
}

func liveXML(e *vmEnv, name string, check func(string) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		n, err := e.lv.NetworkLookupByName(name)
		if err != nil {
			return fmt.Errorf("network %s: %w", name, err)
		}
		doc, err := e.lv.NetworkGetXMLDesc(n, 0)
		if err != nil {
			return fmt.Errorf("network %s: %w", name, err)
		}
		return check(doc)
	}
}

// dnsmasqServes asserts that libvirt runs a dnsmasq for the network that
// hands out dhcpNetworkHCL's range and static host: a live dnsmasq reads
// its config, and the config and hosts file (which libvirtd writes on this
// machine) carry both.
func dnsmasqServes(name, prefix string) resource.TestCheckFunc {
	octet := strings.Split(prefix, ".")[2]
	return func(*terraform.State) error {
		if !dnsmasqRuns(name) {
			return fmt.Errorf("network %s: no dnsmasq runs for it", name)
		}
		for file, want := range map[string]string{
			dnsmasqFile(name, ".conf"):      fmt.Sprintf("dhcp-range=%[1]s.10,%[1]s.50,255.255.255.0", prefix),
			dnsmasqFile(name, ".hostsfile"): fmt.Sprintf("52:54:00:77:%s:05,%s.5", octet, prefix),
		} {
			b, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("network %s: %w", name, err)
			}
			if !strings.Contains(string(b), want) {
				return fmt.Errorf("network %s: %s lacks %q:\n%s", name, file, want, b)
			}
		}
		return nil
	}
}

// dnsmasqGone: the network's dnsmasq stopped and its files are removed.
// (libvirt 9.0 leaves the pid file itself behind.)
func dnsmasqGone(name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if dnsmasqRuns(name) {
			return fmt.Errorf("network %s was destroyed but its dnsmasq still runs", name)
		}
		for _, f := range []string{dnsmasqFile(name, ".conf"), dnsmasqFile(name, ".hostsfile")} {
			switch _, err := os.Stat(f); {
			case err == nil:
				return fmt.Errorf("network %s was destroyed but %s is still there", name, f)
			case !errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("network %s: %w", name, err)
			}
		}
		return nil
	}
}

func dnsmasqFile(name, ext string) string { return "/var/lib/libvirt/dnsmasq/" + name + ext }

// dnsmasqRuns: the process of the network's pid file runs with its config.
func dnsmasqRuns(name string) bool {
	b, err := os.ReadFile("/run/libvirt/network/" + name + ".pid")
	if err != nil {
		return false
	}
	cmd, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/cmdline")
	return err == nil && strings.Contains(string(cmd), "--conf-file="+dnsmasqFile(name, ".conf"))
}

// makeHostBridge creates a Linux bridge inside vmtest, where libvirtd runs,
// and removes it when the test ends.
func makeHostBridge(t *testing.T, name string) {
	t.Helper()
	ip := func(args ...string) error {
		out, err := exec.Command("ip", append([]string{"-n", "vmtest", "link"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip -n vmtest link %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	_ = ip("del", name) // left by an interrupted run
	if err := ip("add", name, "type", "bridge"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ip("del", name); err != nil {
			t.Error(err)
		}
	})
	if err := ip("set", name, "up"); err != nil {
		t.Fatal(err)
	}
}

type netPlanCheck func(plancheck.CheckPlanRequest, *plancheck.CheckPlanResponse)

func (f netPlanCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	f(req, resp)
}

// change returns the before and after values of addr's planned change.
func change(req plancheck.CheckPlanRequest, addr string) (before, after map[string]any, err error) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != addr || rc.Change == nil {
			continue
		}
		before, _ = rc.Change.Before.(map[string]any)
		after, _ = rc.Change.After.(map[string]any)
		return before, after, nil
	}
	return nil, nil, fmt.Errorf("no planned change of %s", addr)
}

// plannedBridgeKept: the plan shows the bridge the network has, known.
func plannedBridgeKept(addr string) plancheck.PlanCheck {
	return netPlanCheck(func(req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
		before, after, err := change(req, addr)
		if err == nil && (before["bridge"] == nil || after["bridge"] != before["bridge"]) {
			err = fmt.Errorf("%s: planned bridge %v, want the current one %v, known", addr, after["bridge"], before["bridge"])
		}
		resp.Error = err
	})
}

// warnsRestart runs the network's ModifyPlan on the planned change (the
// CLI prints its warnings, terraform-plugin-testing does not expose them)
// and wants the restart warning, starting with why and saying that no
// running VM uses the network.
func warnsRestart(e *vmEnv, addr, name, why string) plancheck.PlanCheck {
	return netPlanCheck(func(req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
		before, after, err := change(req, addr)
		if err != nil {
			resp.Error = err
			return
		}
		st := e.openStore()
		defer st.Close()
		pool := hypervisor.NewPool(hypervisor.Options{})
		defer pool.Close()
		data := &providerdata.Data{Store: st, Pool: pool, CallTimeout: 30 * time.Second}
		diags := resources.PlanNetworkForTest(context.Background(), data, e.hostID, name, planned(before), planned(after))
		wantSummary := "Network " + name + " will be redefined and restarted"
		for _, d := range diags.Warnings() {
			if d.Summary() == wantSummary && strings.HasPrefix(d.Detail(), why) && strings.Contains(d.Detail(), "No running VM uses it now.") {
				return
			}
		}
		resp.Error = fmt.Errorf("%s: no warning %q with a detail starting %q and naming no running VM among %v", addr, wantSummary, why, diags)
	})
}

func planned(v map[string]any) resources.NetworkForTest {
	s := func(k string) string { x, _ := v[k].(string); return x }
	return resources.NetworkForTest{Mode: s("mode"), CIDR: s("cidr"), Bridge: s("bridge"), UUID: s("uuid")}
}
