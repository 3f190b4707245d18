package resources_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
)

// TestAccNetwork_badInputQemu: on qemu:///system, where networks are real
// bridges and dnsmasq: mistakes in dhcp_host are plan errors; a bridge the
// host lacks and a CIDR overlapping another network of the same apply are
// apply errors that define nothing; once a network exists, an overlapping
// one is refused at plan time.
func TestAccNetwork_badInputQemu(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.QemuURI)
	a, b := acctest.Name("ip-bad-a"), acctest.Name("ip-bad-b")
	t.Cleanup(func() { removeLeftNetwork(e.lv, a); removeLeftNetwork(e.lv, b) })
	one := func(name, body string) string {
		return fmt.Sprintf("\nresource \"virtumancer_network\" %q {\n  host_id = virtumancer_host.h.id\n  name    = %q\n%s\n}\n", name, name, body)
	}
	isolated := func(cidr string) string { return fmt.Sprintf("  mode = \"isolated\"\n  cidr = %q", cidr) }
	hosts := func(ipA, ipB string) string {
		return isolated("10.77.45.0/24") + fmt.Sprintf(`
  dhcp_host {
    mac = "52:54:00:77:45:01"
    ip  = %q
  }
  dhcp_host {
    mac = "52:54:00:77:45:02"
    ip  = %q
  }`, ipA, ipB)
	}
	only := func(want map[string]bool) resource.TestCheckFunc {
		return func(*terraform.State) error {
			for name, exists := range want {
				ln, err := lookupNetwork(acctest.QemuURI, name)
				if err != nil {
					return err
				}
				if ln.found != exists {
					return fmt.Errorf("network %s exists=%t, want %t", name, ln.found, exists)
				}
			}
			return nil
		}
	}
	first := one(a, isolated("10.77.45.0/24"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             only(map[string]bool{a: false, b: false}),
		Steps: []resource.TestStep{
			{Config: e.hostHCL() + one(a, hosts("10.77.45.5", "10.77.45.5")), PlanOnly: true,
				ExpectError: regexp.MustCompile(words("10.77.45.5 is also the ip of dhcp_host[0]: two guests cannot share a static address"))},
			{Config: e.hostHCL() + one(a, hosts("10.77.45.5", "10.77.46.5")), PlanOnly: true,
				ExpectError: regexp.MustCompile(words("10.77.46.5 is outside cidr 10.77.45.0/24"))},
			{Config: e.hostHCL() + one(a, isolated("10.77.45.0/33")), PlanOnly: true,
				ExpectError: regexp.MustCompile(words(`"10.77.45.0/33" is not a CIDR such as`))},
			{Config: e.hostHCL() + one(a, isolated("10.77.45.7/24")), PlanOnly: true,
				ExpectError: regexp.MustCompile(words(`"10.77.45.7/24" has host bits set: use the network address 10.77.45.0/24`))},
			// Only the host knows these: the apply refuses before defining anything.
			{Config: e.hostHCL() + one(a, "  mode   = \"bridge\"\n  bridge = \"ip-nosuchbr0\""),
				ExpectError: regexp.MustCompile(`(Bridge not found|has no interface "ip-nosuchbr0")`)},
			{Config: e.hostHCL(), Check: only(map[string]bool{a: false})},
			// Two overlapping networks in one apply: the host has neither
			// when the plan is made; the second to start is refused.
			{Config: e.hostHCL() + first + one(b, isolated("10.77.45.128/25")),
				ExpectError: regexp.MustCompile(`(?s)(overlaps|already in use|in use by)`)},
			{
				// Whichever started first stands; the other was never defined.
				PreConfig: func() {
					la, errA := lookupNetwork(acctest.QemuURI, a)
					lb, errB := lookupNetwork(acctest.QemuURI, b)
					if errA != nil || errB != nil || la.found == lb.found {
						t.Errorf("after the overlapping apply: %s exists=%t (%v), %s exists=%t (%v); want exactly one", a, la.found, errA, b, lb.found, errB)
					}
				},
				Config: e.hostHCL(), Check: only(map[string]bool{a: false, b: false}),
			},
			{Config: e.hostHCL() + first, Check: only(map[string]bool{a: true})},
			// Now the host has the first: the plan shows the overlap.
			{Config: e.hostHCL() + first + one(b, isolated("10.77.45.128/25")), PlanOnly: true,
				ExpectError: regexp.MustCompile(words(fmt.Sprintf("cidr 10.77.45.128/25 overlaps 10.77.45.0/24 of network %q", a)))},
		},
	})
}
