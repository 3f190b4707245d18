package resources_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// testVM renders the VM used by the test-driver tests; extra goes inside
// the resource block.
func (e *vmEnv) testVM(name string, memory, vcpu int, extra string) string {
	return e.hostHCL() + fmt.Sprintf(`
resource "virtumancer_vm" "t" {
  host_id = virtumancer_host.h.id
  name    = %q
  memory  = %d
  vcpu    = %d
%s
}
`, name, memory, vcpu, extra)
}

// TestAccVM_lifecycle covers create, update in place (with a restart and
// without), power off, import (command and import block), destroy, and
// re-creating a name whose row was soft-deleted (the row is revived).
func TestAccVM_lifecycle(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	name := e.name()
	sameUUID := statecheck.CompareValue(compare.ValuesSame())
	var rowID int64

	create := e.testVM(name, 64, 1, `
  disk {
    path = "/var/lib/libvirt/images/`+name+`.img"
  }
  network_interface {
    network = "default"
  }`)
	update := e.testVM(name, 128, 2, `
  autostart = true
  graphics  = "spice"
  disk {
    path = "/var/lib/libvirt/images/`+name+`.img"
  }
  disk {
    path   = "/var/lib/libvirt/images/`+name+`.iso"
    device = "cdrom"
  }
  disk {
    path = "/var/lib/libvirt/images/`+name+`-data.img"
  }
  network_interface {
    network = "default"
  }`)
	stopped := e.testVM(name, 128, 2, `
  autostart = true
  graphics  = "spice"
  running   = false
  disk {
    path = "/var/lib/libvirt/images/`+name+`.img"
  }
  disk {
    path   = "/var/lib/libvirt/images/`+name+`.iso"
    device = "cdrom"
  }
  disk {
    path = "/var/lib/libvirt/images/`+name+`-data.img"
  }
  network_interface {
    network = "default"
  }`)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: create,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(vmRes, attr("disk").AtSliceIndex(0).AtMapKey("target"), knownvalue.StringExact("vda")),
					plancheck.ExpectKnownValue(vmRes, attr("max_memory"), knownvalue.Int64Exact(64)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("id", knownvalue.StringExact("h/"+name)),
					expect("state", knownvalue.StringExact("running")),
					expect("running", knownvalue.Bool(true)),
					expect("domain_id", knownvalue.Int64Func(vmPositive)),
					expect("domain_type", knownvalue.StringExact("test")),
					expect("max_memory", knownvalue.Int64Exact(64)),
					expect("graphics", knownvalue.StringExact("vnc")),
					expect("drift", knownvalue.ListSizeExact(0)),
					expect("pending_restart", knownvalue.Bool(false)),
					expect("disk", knownvalue.ListExact([]knownvalue.Check{knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"target": knownvalue.StringExact("vda"), "bus": knownvalue.StringExact("virtio"),
						"device": knownvalue.StringExact("disk"), "read_only": knownvalue.Bool(false),
					})})),
					expect("network_interface", knownvalue.ListExact([]knownvalue.Check{knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"network": knownvalue.StringExact("default"), "model": knownvalue.StringExact("virtio"),
						"mac": knownvalue.StringRegexp(macRe),
					})})),
					expect("config_json", configJSON(jsonMemory(64*1024))),
					sameUUID.AddStateValue(vmRes, attr("uuid")),
				},
				Check: resource.ComposeTestCheckFunc(
					e.checkRow(name, func(vm store.VM) error {
						rowID = vm.ID
						return recordedMemory(64 * 1024)(vm)
					}),
					e.checkNoWarning(name),
				),
			},
			{
				// Memory, vcpu, graphics and a new disk change the
				// definition: updated in place, restarted, same domain.
				Config: update,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(vmRes, attr("disk").AtSliceIndex(1).AtMapKey("target"), knownvalue.StringExact("sda")),
					plancheck.ExpectKnownValue(vmRes, attr("disk").AtSliceIndex(1).AtMapKey("bus"), knownvalue.StringExact("sata")),
					// libvirt stores this one before the cdrom; state keeps the configured order.
					plancheck.ExpectKnownValue(vmRes, attr("disk").AtSliceIndex(2).AtMapKey("target"), knownvalue.StringExact("vdb")),
					plancheck.ExpectUnknownValue(vmRes, attr("config_json")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("memory", knownvalue.Int64Exact(128)),
					expect("max_memory", knownvalue.Int64Exact(128)),
					expect("vcpu", knownvalue.Int64Exact(2)),
					expect("autostart", knownvalue.Bool(true)),
					expect("graphics", knownvalue.StringExact("spice")),
					expect("state", knownvalue.StringExact("running")),
					expect("pending_restart", knownvalue.Bool(false)),
					expect("disk", knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"target": knownvalue.StringExact("vda")}),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"target": knownvalue.StringExact("sda"), "read_only": knownvalue.Bool(true),
							"device": knownvalue.StringExact("cdrom"), "format": knownvalue.StringExact("raw"),
						}),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"target": knownvalue.StringExact("vdb")}),
					})),
					expect("config_json", configJSON(jsonMemory(128*1024))),
					sameUUID.AddStateValue(vmRes, attr("uuid")),
				},
				Check: e.checkRow(name, recordedMemory(128*1024)),
			},
			{
				Config: stopped,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("state", knownvalue.StringExact("shut off")),
					expect("running", knownvalue.Bool(false)),
					expect("domain_id", knownvalue.Int64Exact(0)),
					sameUUID.AddStateValue(vmRes, attr("uuid")),
				},
			},
			{
				ResourceName:      vmRes,
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				// An import block against matching HCL must plan no change.
				Config:          stopped,
				ResourceName:    vmRes,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
			},
			{
				// Removing the VM from the configuration destroys it.
				Config: e.hostHCL(),
				Check: func(*terraform.State) error {
					if e.domainExists(name) {
						return fmt.Errorf("domain %s still defined after destroy", name)
					}
					if _, err := e.row(name); !errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("row of %s still live after destroy: %w", name, err)
					}
					return nil
				},
			},
			{
				// Same name again: the soft-deleted row is revived.
				Config: create,
				Check: e.checkRow(name, func(vm store.VM) error {
					if vm.ID != rowID {
						return fmt.Errorf("row id %d, want the revived row %d", vm.ID, rowID)
					}
					return nil
				}),
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if e.domainExists(name) {
				return fmt.Errorf("domain %s still defined", name)
			}
			st := e.openStore()
			defer st.Close()
			rows, err := st.ListVMs(context.Background(), e.hostID)
			if err != nil {
				return err
			}
			if len(rows) != 0 {
				return fmt.Errorf("live rows after destroy: %v", rows)
			}
			return nil
		},
	})
}

var macRe = regexp.MustCompile(`^52:54:00(:[0-9a-f]{2}){3}$`)

func vmPositive(v int64) error {
	if v <= 0 {
		return fmt.Errorf("got %d, want > 0", v)
	}
	return nil
}
