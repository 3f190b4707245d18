package resources_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/testguest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Tests that boot the tiny guest (internal/testguest) on qemu:///system:
// a qcow2 overlay on a base volume in a dir pool, one NIC on a
// provider-managed network. Names start with ip-, networks use
// 10.77.42.0/24 .. 10.77.49.0/24 (other tests share the daemon).

const (
	guestNet  = "virtumancer_network.n"
	guestData = "data.virtumancer_network.n"
)

// guestEnv is one guest test's world: a vmEnv on qemu:///system plus the
// names of its pool, base volume and network.
type guestEnv struct {
	*vmEnv
	vm, pool, poolDir, base, net string
	octet                        int // the network is 10.77.<octet>.0/24
}

func newGuestEnv(t *testing.T, octet int) *guestEnv {
	t.Helper()
	return newGuestEnvNamed(t, "ip", octet)
}

// newGuestEnvNamed is newGuestEnv with names starting with prefix-.
func newGuestEnvNamed(t *testing.T, prefix string, octet int) *guestEnv {
	t.Helper()
	e := &guestEnv{vmEnv: newVMEnv(t, acctest.QemuURI), octet: octet}
	id := acctest.Name(prefix)
	e.vm, e.pool, e.base, e.net = id, id+"-pool", id+"-base.raw", id+"-net"
	e.poolDir = filepath.Join("/var/lib/virtumancer-test", id)
	// Whatever a failed run left, in dependency order.
	t.Cleanup(func() {
		e.removeDomain(e.vm)
		removeLeftPool(t, acctest.QemuURI, e.pool, e.vm+".qcow2")
		removeLeftPool(t, acctest.QemuURI, e.pool, e.base)
		removeLeftNetwork(e.lv, e.net)
		_ = os.RemoveAll(e.poolDir)
	})
	return e
}

func (e *guestEnv) cidr() string         { return fmt.Sprintf("10.77.%d.0/24", e.octet) }
func (e *guestEnv) addr(host int) string { return fmt.Sprintf("10.77.%d.%d", e.octet, host) }

// hcl is the host, pool, base volume, overlay and network (with netExtra
// inside its block), the VM (with vmBody), and the network data source
// read after the VM.
func (e *guestEnv) hcl(netExtra, vmBody string) string {
	return e.hostHCL() + guestStorageHCL(e.pool, e.poolDir, e.base, testguest.Image(e.t), e.vm+".qcow2") +
		e.networkHCL(netExtra) + fmt.Sprintf(`
resource "virtumancer_vm" "t" {
  host_id     = virtumancer_host.h.id
  name        = %[1]q
  domain_type = "qemu"
  memory      = 128
  vcpu        = 1
  graphics    = "none"

  disk {
    pool   = virtumancer_volume.root.pool
    volume = virtumancer_volume.root.name
  }
%[2]s}

data "virtumancer_network" "n" {
  host_id    = virtumancer_host.h.id
  name       = virtumancer_network.n.name
  depends_on = [virtumancer_vm.t]
}
`, e.vm, vmBody)
}

// networkHCL is the test's isolated network with DHCP (extra inside its
// block).
func (e *guestEnv) networkHCL(extra string) string {
	return fmt.Sprintf(`
resource "virtumancer_network" "n" {
  host_id = virtumancer_host.h.id
  name    = %[1]q
  mode    = "isolated"
  cidr    = %[2]q
  dhcp {
    start = %[3]q
    end   = %[4]q
  }
%[5]s}
`, e.net, e.cidr(), e.addr(10), e.addr(100), extra)
}

// guestStorageHCL is a dir pool p at dir, the tiny guest image as its raw
// base volume, and the qcow2 overlay root on it: what every guest test
// boots from.
func guestStorageHCL(pool, dir, base, image, root string) string {
	return fmt.Sprintf(`
resource "virtumancer_pool" "p" {
  host_id = virtumancer_host.h.id
  name    = %[1]q
  path    = %[2]q
}

resource "virtumancer_volume" "base" {
  host_id = virtumancer_host.h.id
  pool    = virtumancer_pool.p.name
  name    = %[3]q
  format  = "raw"
  source  = %[4]q
}

resource "virtumancer_volume" "root" {
  host_id     = virtumancer_host.h.id
  pool        = virtumancer_pool.p.name
  name        = %[5]q
  base_volume = virtumancer_volume.base.name
}
`, pool, dir, base, image, root)
}

// nic is a network_interface block on the test's network; mac may be "".
func nic(mac string) string {
	if mac == "" {
		return "  network_interface {\n    network = virtumancer_network.n.name\n  }\n"
	}
	return fmt.Sprintf("  network_interface {\n    network = virtumancer_network.n.name\n    mac     = %q\n  }\n", mac)
}

// quickStop: without the agent, destroy's ACPI request reaches a guest
// that has just got its lease before its /init starts acpid (it does
// after looking for the agent's port), so it is lost and only the forced
// stop after shutdown_timeout ends the guest.
const quickStop = "  shutdown_timeout = \"5s\"\n"

func waitFor(source, timeout string) string {
	return fmt.Sprintf("  wait_for_ip {\n    source  = %q\n    timeout = %q\n  }\n", source, timeout)
}

func dhcpHost(mac, ip, name string) string {
	return fmt.Sprintf("  dhcp_host {\n    mac  = %q\n    ip   = %q\n    name = %q\n  }\n", mac, ip, name)
}

// guestDestroyed: no domain, volume, pool (nor its directory) or network
// is left behind.
func (e *guestEnv) guestDestroyed() resource.TestCheckFunc {
	return resource.ComposeTestCheckFunc(
		func(*terraform.State) error {
			if e.domainExists(e.vm) {
				return fmt.Errorf("domain %s still defined after destroy", e.vm)
			}
			return nil
		},
		checkPoolGone(acctest.QemuURI, e.pool),
		checkNetworkGone(acctest.QemuURI, e.net),
		isDir(e.poolDir, false),
	)
}

func removeLeftNetwork(l *libvirt.Libvirt, name string) {
	n, err := l.NetworkLookupByName(name)
	if err != nil {
		return
	}
	_ = l.NetworkDestroy(n)
	_ = l.NetworkUndefine(n)
}

// leaseOf is the IP the network's DHCP server leased to the VM's first
// interface, asked of libvirt directly.
func (e *guestEnv) leaseOf() (mac, ip string, err error) {
	d := e.domain(e.vm)
	doc, err := e.lv.DomainGetXMLDesc(d, 0)
	if err != nil {
		return "", "", err
	}
	var x libvirtxml.Domain
	if err := x.Unmarshal(doc); err != nil {
		return "", "", err
	}
	if x.Devices == nil || len(x.Devices.Interfaces) == 0 || x.Devices.Interfaces[0].MAC == nil {
		return "", "", fmt.Errorf("domain %s has no interface with a mac", e.vm)
	}
	mac = x.Devices.Interfaces[0].MAC.Address
	n, err := e.lv.NetworkLookupByName(e.net)
	if err != nil {
		return mac, "", err
	}
	leases, _, err := e.lv.NetworkGetDhcpLeases(n, libvirt.OptString{mac}, 1, 0)
	if err != nil {
		return mac, "", err
	}
	if len(leases) != 1 {
		return mac, "", fmt.Errorf("network %s has %d leases for mac %s, want 1: %+v", e.net, len(leases), mac, leases)
	}
	return mac, leases[0].Ipaddr, nil
}

// ipsAreLease: ip_addresses is exactly the lease libvirt holds for the
// VM's mac.
func (e *guestEnv) ipsAreLease(want string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		_, ip, err := e.leaseOf()
		if err != nil {
			return err
		}
		if want != "" && ip != want {
			return fmt.Errorf("the network leased %s to the VM, want %s", ip, want)
		}
		return resource.TestCheckResourceAttr(vmRes, "ip_addresses.0", ip)(s)
	}
}

// hasAgentChannel checks the agent channel in the persistent and the live
// definition.
func (e *guestEnv) hasAgentChannel(want bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		d := e.domain(e.vm)
		for _, flags := range []libvirt.DomainXMLFlags{libvirt.DomainXMLInactive, 0} {
			doc, err := e.lv.DomainGetXMLDesc(d, flags)
			if err != nil {
				return err
			}
			var x libvirtxml.Domain
			if err := x.Unmarshal(doc); err != nil {
				return err
			}
			if got := vminfo.HasAgentChannel(x.Devices); got != want {
				return fmt.Errorf("domain %s (xml flags %d): agent channel %t, want %t", e.vm, flags, got, want)
			}
		}
		return nil
	}
}

// agentAddrs asks the guest agent out of band for the guest's addresses.
func (e *guestEnv) agentAddrs() ([]string, error) {
	ifaces, err := e.lv.DomainInterfaceAddresses(e.domain(e.vm), uint32(libvirt.DomainInterfaceAddressesSrcAgent), 0)
	var out []string
	for _, i := range ifaces {
		for _, a := range i.Addrs {
			out = append(out, a.Addr)
		}
	}
	return out, err
}

var rfc3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// TestAccVMGuest_lease: the guest takes a DHCP lease; ip_addresses is that
// lease (as libvirt and the network data source list it), the domain has no
// agent channel it did not ask for, and the next plan is empty. Switching
// to the agent restarts the VM for the channel and finds the same address.
// Destroy leaves nothing behind.
func TestAccVMGuest_lease(t *testing.T) {
	acctest.PreCheck(t)
	e := newGuestEnv(t, 42)
	ipRe := regexp.MustCompile(`^10\.77\.42\.([1-9]\d?|100)$`)
	sameIP, otherBoot := statecheck.CompareValue(compare.ValuesSame()), statecheck.CompareValue(compare.ValuesDiffer())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             e.guestDestroyed(),
		Steps: []resource.TestStep{{
			Config: e.hcl("", quickStop+nic("")+waitFor("lease", "3m")),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				expect("ip_addresses", knownvalue.ListExact([]knownvalue.Check{knownvalue.StringRegexp(ipRe)})),
				statecheck.CompareValuePairs(vmRes, tfjsonpath.New("ip_addresses").AtSliceIndex(0),
					guestData, tfjsonpath.New("leases").AtSliceIndex(0).AtMapKey("ip"), compare.ValuesSame()),
				statecheck.CompareValuePairs(vmRes, tfjsonpath.New("network_interface").AtSliceIndex(0).AtMapKey("mac"),
					guestData, tfjsonpath.New("leases").AtSliceIndex(0).AtMapKey("mac"), compare.ValuesSame()),
				statecheck.ExpectKnownValue(guestData, tfjsonpath.New("leases").AtSliceIndex(0).AtMapKey("expiry"), knownvalue.StringRegexp(rfc3339)),
				statecheck.ExpectKnownValue(guestData, tfjsonpath.New("leases").AtSliceIndex(0).AtMapKey("hostname"), knownvalue.StringExact("testguest")), // the guest without a seed calls itself so
				statecheck.ExpectKnownValue(guestData, tfjsonpath.New("cidr"), knownvalue.StringExact(e.cidr())),
				statecheck.ExpectKnownValue(guestData, tfjsonpath.New("mode"), knownvalue.StringExact("isolated")),
				statecheck.ExpectKnownValue(guestData, tfjsonpath.New("active"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue(guestData, tfjsonpath.New("dhcp").AtMapKey("start"), knownvalue.StringExact(e.addr(10))),
				statecheck.CompareValuePairs(guestNet, tfjsonpath.New("uuid"), guestData, tfjsonpath.New("uuid"), compare.ValuesSame()),
				statecheck.CompareValuePairs(guestNet, tfjsonpath.New("bridge"), guestData, tfjsonpath.New("bridge"), compare.ValuesSame()),
				sameIP.AddStateValue(vmRes, tfjsonpath.New("ip_addresses")),
				otherBoot.AddStateValue(vmRes, tfjsonpath.New("domain_id")),
			},
			Check: resource.ComposeTestCheckFunc(e.ipsAreLease(""), e.hasAgentChannel(false)),
		}, {
			// Waiting on the agent now: the running domain has no
			// virtio-serial controller to plug the channel into, so the
			// update restarts it (the plan warns); the agent then reports
			// the same lease.
			Config: e.hcl("", quickStop+nic("")+waitFor("agent", "3m")),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate)},
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				sameIP.AddStateValue(vmRes, tfjsonpath.New("ip_addresses")),
				otherBoot.AddStateValue(vmRes, tfjsonpath.New("domain_id")),
				expect("pending_restart", knownvalue.Bool(false)),
			},
			Check: resource.ComposeTestCheckFunc(e.ipsAreLease(""), e.hasAgentChannel(true)),
		}},
	})
}

// TestAccVMGuest_agent: waiting on the agent gives the domain the agent
// channel by itself; ip_addresses is what the agent reports (without lo's
// and link-local addresses); the next plan is empty and an import block
// against the same HCL plans no change.
func TestAccVMGuest_agent(t *testing.T) {
	acctest.PreCheck(t)
	e := newGuestEnv(t, 43)
	config := e.hcl("", nic("")+waitFor("agent", "5m"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             e.guestDestroyed(),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("ip_addresses", knownvalue.ListSizeExact(1)),
				},
				Check: resource.ComposeTestCheckFunc(e.hasAgentChannel(true), e.ipsAreLease(""), func(s *terraform.State) error {
					addrs, err := e.agentAddrs()
					if err != nil {
						return fmt.Errorf("asking the agent: %w", err)
					}
					got := s.RootModule().Resources[vmRes].Primary.Attributes["ip_addresses.0"]
					if !slices.Contains(addrs, got) || !slices.Contains(addrs, "127.0.0.1") {
						return fmt.Errorf("the agent reports %q; want it to hold ip_addresses[0] %q (and lo's 127.0.0.1, which the provider leaves out)", addrs, got)
					}
					return nil
				}),
			},
			{
				Config:          config,
				ResourceName:    vmRes,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
			},
		},
	})
}

// TestAccVMGuest_staticLease: a dhcp_host entry for the VM's mac gives the
// guest its fixed address; adding another entry later changes the network
// live (same UUID) and the guest keeps running (same domain id), and the
// VM's plan stays empty meanwhile.
func TestAccVMGuest_staticLease(t *testing.T) {
	acctest.PreCheck(t)
	e := newGuestEnv(t, 44)
	mac := "52:54:00:77:44:10"
	fixed := dhcpHost(mac, e.addr(50), "fixed")
	later := dhcpHost("52:54:00:77:44:11", e.addr(51), "later")
	vm := quickStop + nic(mac) + waitFor("lease", "3m")
	sameNet, sameDomain := statecheck.CompareValue(compare.ValuesSame()), statecheck.CompareValue(compare.ValuesSame())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             e.guestDestroyed(),
		Steps: []resource.TestStep{
			{
				Config: e.hcl(fixed, vm),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("ip_addresses", knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(e.addr(50))})),
					sameNet.AddStateValue(guestNet, tfjsonpath.New("uuid")),
					sameDomain.AddStateValue(vmRes, tfjsonpath.New("domain_id")),
				},
				Check: e.ipsAreLease(e.addr(50)),
			},
			{
				Config: e.hcl(fixed+later, vm),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(guestNet, plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionNoop),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameNet.AddStateValue(guestNet, tfjsonpath.New("uuid")),
					sameDomain.AddStateValue(vmRes, tfjsonpath.New("domain_id")),
					expect("state", knownvalue.StringExact("running")),
					expect("ip_addresses", knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(e.addr(50))})),
					statecheck.ExpectKnownValue(guestData, tfjsonpath.New("dhcp_host"), knownvalue.ListSizeExact(2)),
				},
				Check: func(*terraform.State) error {
					ln, err := lookupNetwork(acctest.QemuURI, e.net)
					if err != nil {
						return err
					}
					if !ln.active {
						return fmt.Errorf("network %s is not active after the live change", e.net)
					}
					var hosts []string
					for _, h := range ln.net.Hosts {
						hosts = append(hosts, h.MAC+"="+h.IP)
					}
					if want := mac + "=" + e.addr(50) + ",52:54:00:77:44:11=" + e.addr(51); strings.Join(hosts, ",") != want {
						return fmt.Errorf("network hosts %v, want %s", hosts, want)
					}
					return nil
				},
			},
		},
	})
}
