package resources_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
)

// TestAccNetwork_qemu: a real NAT network with DHCP on qemu:///system (its
// bridge and dnsmasq live in the tests' network namespace, SPEC 6): the
// bridge is the one libvirt chose, import plans empty, a static host added
// live keeps the network (same UUID), and destroy removes it.
func TestAccNetwork_qemu(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	name := acctest.Name("acc-qnet")
	var uuid string
	body := func(extra string) string {
		return fmt.Sprintf(`  name = %q
  cidr = "10.77.41.0/24"
  dhcp {
    start = "10.77.41.10"
    end   = "10.77.41.100"
  }
  dhcp_host {
    mac = "52:54:00:77:41:01"
    ip  = "10.77.41.5"
  }
%s`, name, extra)
	}
	second := `  dhcp_host {
    mac = "52:54:00:77:41:02"
    ip  = "10.77.41.6"
  }
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkNetworkGone(acctest.QemuURI, name),
		Steps: []resource.TestStep{
			{
				Config: networkConfig(db, hostID, acctest.QemuURI, body("")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("active"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("bridge"), knownvalue.StringRegexp(regexp.MustCompile(`^virbr\d+$`))),
				},
				Check: checkNetwork(acctest.QemuURI, name, &uuid, hostsAre("52:54:00:77:41:01=10.77.41.5")),
			},
			{
				ResourceName:                         netAddr,
				ImportState:                          true,
				ImportStateId:                        hostID + "/" + name,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "id",
			},
			{
				Config: networkConfig(db, hostID, acctest.QemuURI, body(second)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(netAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkNetwork(acctest.QemuURI, name, &uuid, hostsAre("52:54:00:77:41:01=10.77.41.5", "52:54:00:77:41:02=10.77.41.6")),
			},
		},
	})
}
