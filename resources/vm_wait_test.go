package resources_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
)

// words matches the phrase however the CLI wraps it.
func words(phrase string) string {
	parts := strings.Fields(phrase)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(parts, `\s+`)
}

// TestAccVMWait_timeoutSaysWhatTheSourceAnswered: a running domain that
// never gets an address (no disk: it stays in the firmware) fails the
// create with the source and its last answer, for each source: lease with
// no NIC answers nothing, the agent (whose channel the VM got) is not
// connected, and arp either fails or knows nothing; each time the domain
// is undefined again.
func TestAccVMWait_timeoutSaysWhatTheSourceAnswered(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.QemuURI)
	name := acctest.Name("ip-wait")
	t.Cleanup(func() { e.removeDomain(name) })
	vm := func(source string) string {
		return e.hostHCL() + fmt.Sprintf(`
resource "virtumancer_vm" "t" {
  host_id          = virtumancer_host.h.id
  name             = %q
  domain_type      = "qemu"
  memory           = 64
  vcpu             = 1
  graphics         = "none"
  shutdown_timeout = "1s"
  wait_for_ip {
    source  = %q
    timeout = "3s"
  }
}
`, name, source)
	}
	gone := func(*terraform.State) error {
		if e.domainExists(name) {
			return fmt.Errorf("domain %s was left on the host after the failed create", name)
		}
		return nil
	}
	fails := func(source, answer string) resource.TestStep {
		return resource.TestStep{
			Config: vm(source),
			ExpectError: regexp.MustCompile(`(?s)` + words(fmt.Sprintf("vm %q got no IP address from source %q within 3s:", name, source)) +
				`\s+` + answer + `.*` + words("or raise wait_for_ip.timeout") + `.*` + words("was undefined again")),
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			fails("lease", words("its last answer was empty (the lease source knows no address")),
			{Config: e.hostHCL(), Check: gone},
			fails("agent", words("its last answer was an error:")+`.*[Aa]gent.*`+words("qemu-guest-agent runs in the guest")),
			{Config: e.hostHCL(), Check: gone},
			fails("arp", `its\s+last\s+answer.*`+words("libvirt cannot read that table inside some network namespaces")),
			{Config: e.hostHCL(), Check: gone},
		},
	})
}
