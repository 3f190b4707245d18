package resources_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/cloudinit"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/testguest"
)

// TestAccVMGuest_provisioned is a platform engineer's first VM end to end:
// a dir pool, the tiny guest as a base volume, a qcow2 overlay, a
// provider-managed network with DHCP, cloud_init and wait_for_ip on the
// agent. The guest's hostname (asked of its agent) is the one cloud-init
// gave it; its console log (console_log) shows the user-data and the lease
// it took; that lease is ip_addresses; the next plan is empty; destroy
// leaves no domain, volume, seed, console log, network or pool.
func TestAccVMGuest_provisioned(t *testing.T) {
	acctest.PreCheck(t)
	e := newGuestEnv(t, 47)
	marker := "provisioned-" + e.vm
	userData := fmt.Sprintf("#cloud-config\\n# %s\\n", marker)
	vm := nic("") + waitFor("agent", "5m") + fmt.Sprintf(`
  cloud_init {
    pool      = virtumancer_pool.p.name
    user_data = "%s"
  }
`, userData)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             e.guestDestroyed(),
		Steps: []resource.TestStep{{
			Config: e.hcl("", vm),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				expect("ip_addresses", knownvalue.ListSizeExact(1)),
			},
			Check: resource.ComposeTestCheckFunc(e.ipsAreLease(""), e.hasAgentChannel(true), e.provisioned(marker)),
		}},
	})
}

// provisioned checks what the booted guest saw and says, against state.
func (e *guestEnv) provisioned(marker string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		attrs := s.RootModule().Resources[vmRes].Primary.Attributes
		ip, logPath := attrs["ip_addresses.0"], attrs["console_log"]
		if logPath == "" {
			return fmt.Errorf("console_log is empty for a VM with a pool")
		}
		c := testguest.WaitConsole(e.t, logPath, 3*time.Minute, "the end of /init", func(c testguest.Console) bool {
			return c.Ready && c.Sections[cloudinit.UserDataFile] != "" && len(c.Leases) > 0
		})
		if !strings.Contains(c.Sections[cloudinit.UserDataFile], marker) {
			return fmt.Errorf("the console shows user-data %q, want the marker %s", c.Sections[cloudinit.UserDataFile], marker)
		}
		leased := make([]string, 0, len(c.Leases))
		for _, l := range c.Leases {
			leased = append(leased, l.IP)
		}
		if !slices.Contains(leased, ip) {
			return fmt.Errorf("the console shows the leases %q, want ip_addresses[0] %s among them", leased, ip)
		}
		host, err := testguest.AgentHostName(e.lv, e.domain(e.vm), 2*time.Minute)
		if err != nil {
			return err
		}
		if host != e.vm || c.Hostname != e.vm {
			return fmt.Errorf("the guest's hostname is %q by its agent and %q on its console, want the VM name %s (cloud-init's local-hostname)", host, c.Hostname, e.vm)
		}
		return nil
	}
}
