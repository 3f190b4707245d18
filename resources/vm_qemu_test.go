package resources_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// TestAccVM_qemu runs a real TCG domain on qemu:///system with a qcow2
// volume as its disk: created running, memory changed in place (the running
// domain is restarted, same uuid, no restart left pending), imported, and
// destroyed with the volume.
func TestAccVM_qemu(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.QemuURI)
	name := e.name()
	vol := name + ".qcow2"
	sameUUID := statecheck.CompareValue(compare.ValuesSame())
	config := func(memory int) string {
		return e.hostHCL() + fmt.Sprintf(`
resource "virtumancer_volume" "root" {
  host_id  = virtumancer_host.h.id
  pool     = "default"
  name     = %q
  capacity = 16
  format   = "qcow2"
}

resource "virtumancer_vm" "t" {
  host_id          = virtumancer_host.h.id
  name             = %q
  domain_type      = "qemu"
  memory           = %d
  vcpu             = 1
  graphics         = "none"
  shutdown_timeout = "2s"

  disk {
    pool   = virtumancer_volume.root.pool
    volume = virtumancer_volume.root.name
  }
}
`, vol, name, memory)
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config(64),
				ConfigStateChecks: []statecheck.StateCheck{
					expect("state", knownvalue.StringExact("running")),
					expect("domain_id", knownvalue.Int64Func(vmPositive)),
					expect("domain_type", knownvalue.StringExact("qemu")),
					expect("disk", knownvalue.ListExact([]knownvalue.Check{knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"pool": knownvalue.StringExact("default"), "volume": knownvalue.StringExact(vol),
						"format": knownvalue.StringExact("qcow2"), "target": knownvalue.StringExact("vda"),
					})})),
					expect("drift", knownvalue.ListSizeExact(0)),
					sameUUID.AddStateValue(vmRes, attr("uuid")),
				},
				Check: e.checkRow(name, recordedMemory(64*1024)),
			},
			{
				Config: config(96),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("memory", knownvalue.Int64Exact(96)),
					expect("state", knownvalue.StringExact("running")),
					expect("pending_restart", knownvalue.Bool(false)),
					expect("config_json", configJSON(func(v vminfo.VMInfo) error {
						if v.Memory != 96*1024 {
							return fmt.Errorf("config_json memory %d", v.Memory)
						}
						return nil
					})),
					sameUUID.AddStateValue(vmRes, attr("uuid")),
				},
				Check: e.activeMemory(name, 96*1024),
			},
			{
				// shutdown_timeout is the provider's setting, not the
				// domain's: an import cannot know it and takes the default.
				ResourceName:            vmRes,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"shutdown_timeout"},
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if e.domainExists(name) {
				return fmt.Errorf("domain %s still defined", name)
			}
			return nil
		},
	})
}

// activeMemory checks the running domain's live memory: the restart after
// the redefinition must have taken it up.
func (e *vmEnv) activeMemory(name string, kib uint64) resource.TestCheckFunc {
	return func(*terraform.State) error {
		_, maxMem, mem, _, _, err := e.lv.DomainGetInfo(e.domain(name))
		if err != nil {
			return err
		}
		if mem != kib || maxMem != kib {
			return fmt.Errorf("running domain has %d/%d KiB, want %d: not restarted after the change", mem, maxMem, kib)
		}
		return nil
	}
}

// TestAccVM_parallel creates 50 VMs on one host at the CLI's default
// parallelism of 10: every row must be present exactly once.
func TestAccVM_parallel(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	prefix := e.name()
	const n = 50
	for i := range n {
		name := fmt.Sprintf("%s-%02d", prefix, i)
		t.Cleanup(func() { e.removeDomain(name) })
	}
	config := e.hostHCL() + fmt.Sprintf(`
resource "virtumancer_vm" "many" {
  count   = %d
  host_id = virtumancer_host.h.id
  name    = format("%s-%%02d", count.index)
  memory  = 32
  vcpu    = 1
}
`, n, prefix)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config,
			Check: func(*terraform.State) error {
				st := e.openStore()
				defer st.Close()
				rows, err := st.ListVMs(context.Background(), e.hostID)
				if err != nil {
					return err
				}
				seen := map[string]int{}
				for _, r := range rows {
					seen[r.Name]++
					if r.ConfigErr != nil || r.Config.Memory != 32*1024 {
						return fmt.Errorf("row %d (%s): memory %d, err %w", r.ID, r.Name, r.Config.Memory, r.ConfigErr)
					}
				}
				for i := range n {
					name := fmt.Sprintf("%s-%02d", prefix, i)
					if seen[name] != 1 {
						return fmt.Errorf("vm %s has %d rows, want 1", name, seen[name])
					}
					if !e.domainExists(name) {
						return fmt.Errorf("domain %s missing", name)
					}
				}
				if len(rows) != n {
					return fmt.Errorf("%d rows, want %d", len(rows), n)
				}
				return nil
			},
		}},
	})
}
