package resources_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/netcfg"
)

const netAddr = "virtumancer_network.n"

// networkConfig is a host plus one network with the given body.
func networkConfig(db, hostID, uri, body string) string {
	return hostConfig(db, hostID, uri) + fmt.Sprintf(`
resource "virtumancer_network" "n" {
  host_id = virtumancer_host.h.id
%s
}
`, body)
}

// liveNetwork is the network as libvirt reports it, asked out of band;
// found is false when it does not exist.
type liveNetwork struct {
	found, active bool
	uuid          string
	net           netcfg.Network
}

func lookupNetwork(uri, name string) (liveNetwork, error) {
	l, err := acctest.Dial(uri)
	if err != nil {
		return liveNetwork{}, err
	}
	defer func() { _ = l.Disconnect() }()
	n, err := l.NetworkLookupByName(name)
	var lerr libvirt.Error
	if errors.As(err, &lerr) && libvirt.ErrorNumber(lerr.Code) == libvirt.ErrNoNetwork {
		return liveNetwork{}, nil
	}
	if err != nil {
		return liveNetwork{}, err
	}
	active, err := l.NetworkIsActive(n)
	if err != nil {
		return liveNetwork{}, err
	}
	doc, err := l.NetworkGetXMLDesc(n, 0)
	if err != nil {
		return liveNetwork{}, err
	}
	parsed, err := netcfg.Parse(doc)
	return liveNetwork{found: true, active: active == 1, uuid: parsed.UUID, net: parsed}, err
}

// checkNetwork asserts the live network with check, recording its uuid
// into *uuid when uuid is not nil and empty, comparing it otherwise.
func checkNetwork(uri, name string, uuid *string, check func(liveNetwork) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ln, err := lookupNetwork(uri, name)
		if err != nil {
			return err
		}
		if !ln.found || !ln.active {
			return fmt.Errorf("network %s: found=%t active=%t, want an active network", name, ln.found, ln.active)
		}
		if uuid != nil && *uuid == "" {
			*uuid = ln.uuid
		} else if uuid != nil && *uuid != ln.uuid {
			return fmt.Errorf("network %s has uuid %s, want %s (it was replaced, not updated)", name, ln.uuid, *uuid)
		}
		return check(ln)
	}
}

func checkNetworkGone(uri, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ln, err := lookupNetwork(uri, name)
		if err != nil {
			return err
		}
		if ln.found {
			return fmt.Errorf("network %s still exists", name)
		}
		return nil
	}
}

func hostsAre(want ...string) func(liveNetwork) error {
	return func(ln liveNetwork) error {
		var got []string
		for _, h := range ln.net.Hosts {
			got = append(got, h.MAC+"="+h.IP)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			return fmt.Errorf("dhcp hosts = %v, want %v", got, want)
		}
		return nil
	}
}

// TestAccNetwork_testDriver: a NAT network with a DHCP range and a static
// host on the test driver: create, import, a host added live (same UUID,
// MAC spelt in upper case with dashes), a CIDR change that redefines it in
// place, and destroy.
func TestAccNetwork_testDriver(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	name := acctest.Name("acc-net")
	var uuid string
	body := func(prefix, extra string) string {
		return fmt.Sprintf(`  name = %q
  cidr = "%s.0/24"
  dhcp {
    start = "%[2]s.10"
    end   = "%[2]s.100"
  }
  dhcp_host {
    mac  = "52:54:00:aa:00:01"
    ip   = "%[2]s.5"
    name = "web"
  }
%s`, name, prefix, extra)
	}
	second := `  dhcp_host {
    mac = "52-54-00-AA-00-02"
    ip  = "10.91.0.6"
  }
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkNetworkGone(acctest.TestURI, name),
		Steps: []resource.TestStep{
			{
				Config: networkConfig(db, hostID, acctest.TestURI, body("10.91.0", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(netAddr, plancheck.ResourceActionCreate),
						plancheck.ExpectKnownValue(netAddr, tfjsonpath.New("mode"), knownvalue.StringExact("nat")),
						plancheck.ExpectKnownValue(netAddr, tfjsonpath.New("active"), knownvalue.Bool(true)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("id"), knownvalue.StringExact(hostID+"/"+name)),
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("active"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("autostart"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("uuid"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f-]{36}$`))),
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("bridge"), knownvalue.Null()), // the test driver picks none
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("dhcp_host").AtSliceIndex(0).AtMapKey("name"), knownvalue.StringExact("web")),
				},
				Check: checkNetwork(acctest.TestURI, name, &uuid, hostsAre("52:54:00:aa:00:01=10.91.0.5")),
			},
			{
				ResourceName:                         netAddr,
				ImportState:                          true,
				ImportStateId:                        hostID + "/" + name,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "id",
			},
			{
				Config: networkConfig(db, hostID, acctest.TestURI, body("10.91.0", second+"  autostart = true\n")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(netAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("autostart"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("dhcp_host").AtSliceIndex(1).AtMapKey("mac"), knownvalue.StringExact("52-54-00-AA-00-02")),
				},
				Check: checkNetwork(acctest.TestURI, name, &uuid, hostsAre("52:54:00:aa:00:01=10.91.0.5", "52:54:00:aa:00:02=10.91.0.6")),
			},
			{
				Config: networkConfig(db, hostID, acctest.TestURI, body("10.92.0", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(netAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("cidr"), knownvalue.StringExact("10.92.0.0/24")),
				},
				Check: checkNetwork(acctest.TestURI, name, &uuid, hostsAre("52:54:00:aa:00:01=10.92.0.5")),
			},
		},
	})
}
