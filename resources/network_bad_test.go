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

// TestAccNetwork_badInput: each mistake is a clear error, at plan time
// where the configuration alone shows it, at apply (before anything is
// defined) where only the host knows; no network is left behind.
func TestAccNetwork_badInput(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	name := acctest.Name("acc-net-bad")
	cfg := func(body string) string {
		return networkConfig(db, hostID, acctest.TestURI, fmt.Sprintf("  name = %q\n%s", name, body))
	}
	hosts := func(a, b string) string {
		return fmt.Sprintf("  cidr = \"10.93.0.0/24\"\n  dhcp_host {\n    mac = %q\n    ip = \"10.93.0.5\"\n  }\n  dhcp_host {\n    mac = %q\n    ip = \"10.93.0.6\"\n  }\n", a, b)
	}
	plan := func(body, msg string) resource.TestStep {
		return resource.TestStep{Config: cfg(body), PlanOnly: true, ExpectError: regexp.MustCompile(msg)}
	}
	apply := func(body, msg string) resource.TestStep {
		return resource.TestStep{Config: cfg(body), ExpectError: regexp.MustCompile(msg)}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkNetworkGone(acctest.TestURI, name),
		Steps: []resource.TestStep{
			plan(`  cidr = "10.93.0/24"`, `"10.93.0/24" is not a CIDR such as`),
			plan(`  cidr = "fd00::/64"`, `only IPv4 networks are supported`),
			plan(`  cidr = "10.93.0.0/24"
  dhcp {
    start = "10.94.0.10"
    end   = "10.93.0.20"
  }`, `10.94.0.10 is outside cidr 10.93.0.0/24`),
			plan(hosts("52:54:00:bb:00:01", "52-54-00-BB-00-01"), `52:54:00:bb:00:01 is also the mac of\s+dhcp_host\[0\]`),
			plan(`  mode = "bridge"`, `needs the name of an existing host bridge`),
			plan("  cidr = \"10.93.0.0/24\"\n  dhcp {\n    start = \"10.93.0.10\"\n  }", `A dhcp block needs both start and end`),
			plan("  cidr = \"10.93.0.0/24\"\n  bridge = \"virbr9\"", `libvirt chooses the bridge`),
			// Only the host knows these, and the host row is made by the same apply.
			apply("  mode = \"bridge\"\n  bridge = \"nosuchbr0\"", `has no interface "nosuchbr0"`),
			apply("  mode = \"bridge\"\n  bridge = \"eth1\"", `"eth1" of host "[^"]+" is of type ethernet,\s+not\s+a\s+bridge`),
			apply(`  cidr = "192.168.0.0/16"`, `overlaps 192.168.122.0/24 of network\s+"default"`),
			{
				Config: cfg("  mode = \"isolated\"\n  cidr = \"10.93.0.0/24\""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(netAddr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("dhcp"), knownvalue.Null()),
					statecheck.ExpectKnownValue(netAddr, tfjsonpath.New("dhcp_host"), knownvalue.ListExact(nil)),
				},
			},
			// Now the host answers at plan time: the overlap shows in the plan.
			plan(`  cidr = "192.168.122.128/25"`, `overlaps 192.168.122.0/24 of network\s+"default"`),
		},
	})
}
