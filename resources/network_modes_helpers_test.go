package resources_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/resources"
)

// Helpers of TestAccNetwork_modes*: network HCL, what libvirt and its
// dnsmasq run, host bridges and guests made out of band, and plan checks.

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

// firmwareGuest defines and starts, out of band, a domain with no disk
// (it stays in the firmware, running) and one interface on network, and
// undefines it when the test ends. It returns the domain's name.
func firmwareGuest(e *vmEnv, network string) string {
	e.t.Helper()
	name := acctest.Name("nm-vm")
	e.t.Cleanup(func() { e.removeDomain(name) })
	doc := fmt.Sprintf(`<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
<devices><interface type='network'><source network='%s'/><model type='virtio'/></interface></devices></domain>`, name, network)
	d, err := e.lv.DomainDefineXML(doc)
	if err == nil {
		err = e.lv.DomainCreate(d)
	}
	if err != nil {
		e.t.Fatalf("starting guest %s on network %s: %v", name, network, err)
	}
	return name
}

// tapMaster is the bridge the running domain's first tap is plugged into
// ("" when none), asked of the kernel inside vmtest.
func tapMaster(e *vmEnv, domain string) (tap, master string, err error) {
	doc, err := e.lv.DomainGetXMLDesc(e.domain(domain), 0)
	if err != nil {
		return "", "", err
	}
	i := strings.Index(doc, "<target dev='")
	if i < 0 {
		return "", "", fmt.Errorf("domain %s has no tap in its live xml", domain)
	}
	tap = doc[i+len("<target dev='"):]
	tap = tap[:strings.IndexByte(tap, '\'')]
	out, err := exec.Command("ip", "-n", "vmtest", "-o", "link", "show", "dev", tap).CombinedOutput()
	if err != nil {
		return tap, "", fmt.Errorf("ip -n vmtest link show dev %s: %w: %s", tap, err, out)
	}
	f := strings.Fields(string(out))
	if i := slices.Index(f, "master"); i >= 0 && i+1 < len(f) {
		master = f[i+1]
	}
	return tap, master, nil
}

// tapIn asserts which bridge the domain's tap is plugged into: want, or
// none when want is "".
func tapIn(e *vmEnv, domain, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		tap, master, err := tapMaster(e, domain)
		if err == nil && master != want {
			err = fmt.Errorf("tap %s of %s is plugged into %q, want %q", tap, domain, master, want)
		}
		return err
	}
}

// plugGuest starts a firmwareGuest on network and fails the test unless
// its tap is plugged into the network's bridge.
func plugGuest(e *vmEnv, network string) string {
	e.t.Helper()
	vm := firmwareGuest(e, network)
	ln, err := lookupNetwork(e.uri, network)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := tapIn(e, vm, ln.net.Bridge)(nil); err != nil {
		e.t.Fatal(err)
	}
	return vm
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
// and wants the restart warning, its detail starting with why and holding
// users() (what it says of the running VMs; a func, as the guests may be
// made after the test case).
func warnsRestart(e *vmEnv, addr, name, why string, users func() string) plancheck.PlanCheck {
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
			if d.Summary() == wantSummary && strings.HasPrefix(d.Detail(), why) && strings.Contains(d.Detail(), users()) {
				return
			}
		}
		resp.Error = fmt.Errorf("%s: no warning %q with a detail starting %q and holding %q among %v", addr, wantSummary, why, users(), diags)
	})
}

func planned(v map[string]any) resources.NetworkForTest {
	s := func(k string) string { x, _ := v[k].(string); return x }
	return resources.NetworkForTest{Mode: s("mode"), CIDR: s("cidr"), Bridge: s("bridge"), UUID: s("uuid")}
}
