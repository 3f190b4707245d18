package resources_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
)

// TestAccIdentity_allResources: every resource records its identity (SPEC
// 4b), and `import { identity = ... }` brings each back with an empty plan
// (the import step's plan must be empty). Identity needs Terraform/OpenTofu
// 1.12: on an older CLI (terraform 1.11 here) the version check skips the
// test; import by id keeps working there (every resource test imports by id).
func TestAccIdentity_allResources(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	e.hostID = acctest.Name("adopt-host")
	vm := acctest.Name("adopt-id")
	e.t.Cleanup(func() { e.removeDomain(vm) })
	pool, net, vol := vm+"-pool", vm+"-net", vm+".qcow2"
	config := e.hostHCL() + fmt.Sprintf(`
resource "virtumancer_pool" "p" {
  host_id = virtumancer_host.h.id
  name    = %[1]q
  path    = "/%[1]s"
}

resource "virtumancer_volume" "v" {
  host_id  = virtumancer_host.h.id
  pool     = virtumancer_pool.p.name
  name     = %[2]q
  capacity = 16
}

resource "virtumancer_network" "n" {
  host_id = virtumancer_host.h.id
  name    = %[3]q
  mode    = "isolated"
  cidr    = "10.77.121.0/24"
}

resource "virtumancer_vm" "t" {
  host_id = virtumancer_host.h.id
  name    = %[4]q
  memory  = 64
  vcpu    = 1
  disk {
    pool   = virtumancer_pool.p.name
    volume = virtumancer_volume.v.name
  }
  network_interface {
    network = virtumancer_network.n.name
  }
}
`, pool, vol, net, vm)
	ids := map[string]map[string]knownvalue.Check{
		"virtumancer_host.h":    {"id": knownvalue.StringExact(e.hostID)},
		"virtumancer_pool.p":    {"host_id": knownvalue.StringExact(e.hostID), "name": knownvalue.StringExact(pool)},
		"virtumancer_volume.v":  {"host_id": knownvalue.StringExact(e.hostID), "pool": knownvalue.StringExact(pool), "name": knownvalue.StringExact(vol)},
		"virtumancer_network.n": {"host_id": knownvalue.StringExact(e.hostID), "name": knownvalue.StringExact(net)},
		vmRes:                   {"host_id": knownvalue.StringExact(e.hostID), "name": knownvalue.StringExact(vm)},
	}
	steps := []resource.TestStep{{Config: config}}
	for addr, want := range ids {
		steps[0].ConfigStateChecks = append(steps[0].ConfigStateChecks, statecheck.ExpectIdentity(addr, want))
		steps = append(steps, resource.TestStep{
			Config: config, ResourceName: addr, ImportState: true, ImportStateKind: resource.ImportBlockWithResourceIdentity,
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_12_0)},
		CheckDestroy: func(s *terraform.State) error {
			if e.domainExists(vm) {
				return fmt.Errorf("domain %s still exists after destroy", vm)
			}
			return checkPoolGone(acctest.TestURI, pool)(s) // and its volume with it
		},
		Steps: steps,
	})
}
