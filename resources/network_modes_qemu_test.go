package resources_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
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
	var routeUUID, openUUID, vm string
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
				PreConfig: func() { vm = plugGuest(e, route) },
				Config:    config("nat"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(nmRoute, plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(nmOpen, plancheck.ResourceActionNoop),
						plannedBridgeKept(nmRoute),
						warnsRestart(e, nmRoute, route, "Changing mode means", func() string {
							return "Running VMs plugged into it: " + vm + ". They lose their link: libvirt does not plug them back in when the network starts again"
						}),
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
					// What the warning says: the guest stays unplugged.
					func(s *terraform.State) error { return tapIn(e, vm, "")(s) },
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
	var uuid, vm string
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
				PreConfig: func() { vm = plugGuest(e, name) },
				Config:    isolated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(nmBridge, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(nmBridge, tfjsonpath.New("bridge")),
						warnsRestart(e, nmBridge, name, "Changing mode, cidr means", func() string {
							return "Running VMs plugged into it: " + vm + `. They stay plugged into host bridge "` + hostBridge + `"`
						}),
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
					func(s *terraform.State) error { return tapIn(e, vm, hostBridge)(s) }, // what the warning says
				),
			},
			{
				Config: bridged,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(nmBridge, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(nmBridge, tfjsonpath.New("bridge"), knownvalue.StringExact(hostBridge)),
						// The guest sits on the host bridge, not on the bridge of the
						// isolated network: the restart does not touch it.
						warnsRestart(e, nmBridge, name, "Changing mode, cidr, bridge means", func() string { return "No running VM uses it now." }),
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
					func(s *terraform.State) error { return tapIn(e, vm, hostBridge)(s) },
				),
			},
		},
	})
}
