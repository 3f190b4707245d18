package resources_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

var ipv4 = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)

// refreshShowsUpdate is a refresh-only step after an out-of-band change:
// the refreshed state must carry the live values (checks), and the plan
// must propose to update the VM in place.
func refreshShowsUpdate(preConfig func(), checks ...resource.TestCheckFunc) resource.TestStep {
	return resource.TestStep{
		PreConfig:          preConfig,
		RefreshState:       true,
		ExpectNonEmptyPlan: true,
		RefreshPlanChecks: resource.RefreshPlanChecks{PostRefresh: []plancheck.PlanCheck{
			plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate),
		}},
		Check: resource.ComposeAggregateTestCheckFunc(checks...),
	}
}

// applyRestores is the apply after drift: an in-place update that puts the
// configuration back, records it, and leaves an empty plan behind.
func (e *vmEnv) applyRestores(config, name string, memKiB uint64, checks ...statecheck.StateCheck) resource.TestStep {
	return resource.TestStep{
		Config: config,
		ConfigPlanChecks: resource.ConfigPlanChecks{
			PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate)},
			PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
		},
		ConfigStateChecks: append([]statecheck.StateCheck{
			expect("drift", knownvalue.ListSizeExact(0)),
			expect("config_json", configJSON(jsonMemory(memKiB))),
			expect("state", knownvalue.StringExact("running")),
		}, checks...),
		Check: resource.ComposeAggregateTestCheckFunc(
			e.checkRow(name, recordedMemory(memKiB)),
			e.checkNoWarning(name),
		),
	}
}

// TestAccVMDrift_config changes memory, then vcpu and autostart, behind
// Terraform's back. Each time refresh puts the live values in state, lists
// the fields in `drift`, warns with recorded and live values, and plans an
// in-place update; the apply restores the configuration and re-records it.
func TestAccVMDrift_config(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	name := e.name()
	config := e.testVM(name, 64, 1, "")

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{expect("drift", knownvalue.ListSizeExact(0))},
			},
			refreshShowsUpdate(func() {
				e.redefine(name, func(d *libvirtxml.Domain) { // virsh setmaxmem/setmem --config 128M
					d.Memory = &libvirtxml.DomainMemory{Value: 128, Unit: "MiB"}
					d.CurrentMemory = &libvirtxml.DomainCurrentMemory{Value: 128, Unit: "MiB"}
				})
			},
				resource.TestCheckResourceAttr(vmRes, "memory", "128"),
				resource.TestCheckResourceAttr(vmRes, "max_memory", "128"),
				resource.TestCheckResourceAttr(vmRes, "drift.#", "2"),
				driftEntry("memory", "64 MiB", "128 MiB"),
				driftEntry("max_memory", "64 MiB", "128 MiB"),
				e.expectDriftWarning(name, [3]string{"memory", "64 MiB", "128 MiB"}, [3]string{"max_memory", "64 MiB", "128 MiB (config_json max_mem)"}),
			),
			e.applyRestores(config, name, 64*1024, expect("memory", knownvalue.Int64Exact(64))),
			refreshShowsUpdate(func() {
				e.redefine(name, func(d *libvirtxml.Domain) { d.VCPU = &libvirtxml.DomainVCPU{Placement: "static", Value: 3} })
				if err := e.lv.DomainSetAutostart(e.domain(name), 1); err != nil {
					t.Fatal(err)
				}
			},
				resource.TestCheckResourceAttr(vmRes, "vcpu", "3"),
				resource.TestCheckResourceAttr(vmRes, "autostart", "true"),
				resource.TestCheckResourceAttr(vmRes, "drift.#", "3"), // <vcpu>3</vcpu> is 3 of at most 3
				driftEntry("vcpu", "1", "3"),
				driftEntry("max_vcpu", "1", "3"),
				driftEntry("autostart", "false", "true"),
				e.expectDriftWarning(name, [3]string{"autostart", "false", "true"}, [3]string{"vcpu", "1", "3"}),
			),
			e.applyRestores(config, name, 64*1024,
				expect("vcpu", knownvalue.Int64Exact(1)),
				expect("autostart", knownvalue.Bool(false)),
				expect("config_json", configJSON(func(v vminfo.VMInfo) error {
					if v.Vcpu != 1 || v.Autostart {
						return fmt.Errorf("config_json records vcpu %d autostart %t, want 1 false", v.Vcpu, v.Autostart)
					}
					return nil
				})),
			),
		},
	})
}

// TestAccVMDrift_power stops the domain, makes it transient, then
// undefines it, behind Terraform's back. A stopped VM shows running = false
// and is started again (power state is not drift); a transient one shows
// `persistent` drift and is defined again; an undefined one leaves the
// state and is created again on the same, still live, row. wait_for_ip
// fills ip_addresses on every start.
func TestAccVMDrift_power(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	name := e.name()
	config := e.testVM(name, 64, 1, `
  network_interface {
    network = "default"
  }
  wait_for_ip {
    timeout = "30s"
  }`)
	hasIP := expect("ip_addresses", knownvalue.ListPartial(map[int]knownvalue.Check{0: knownvalue.StringRegexp(ipv4)}))
	var rowID int64

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{hasIP},
				Check: e.checkRow(name, func(vm store.VM) error {
					rowID = vm.ID
					return nil
				}),
			},
			refreshShowsUpdate(func() { // virsh destroy
				if err := e.lv.DomainDestroy(e.domain(name)); err != nil {
					t.Fatal(err)
				}
			},
				resource.TestCheckResourceAttr(vmRes, "running", "false"),
				resource.TestCheckResourceAttr(vmRes, "state", "shut off"),
				resource.TestCheckResourceAttr(vmRes, "domain_id", "0"),
				resource.TestCheckResourceAttr(vmRes, "drift.#", "0"),
				e.checkNoWarning(name),
			),
			e.applyRestores(config, name, 64*1024, expect("running", knownvalue.Bool(true)), hasIP),
			refreshShowsUpdate(func() { // virsh undefine of a running domain: it turns transient
				if err := e.lv.DomainUndefine(e.domain(name)); err != nil {
					t.Fatal(err)
				}
			},
				resource.TestCheckResourceAttr(vmRes, "running", "true"),
				resource.TestCheckResourceAttr(vmRes, "drift.#", "1"),
				driftEntry("persistent", "true", "false"),
				e.expectDriftWarning(name, [3]string{"persistent", "true", "false"}),
			),
			e.applyRestores(config, name, 64*1024, expect("config_json", configJSON(func(v vminfo.VMInfo) error {
				if !v.Persistent {
					return fmt.Errorf("config_json records a transient domain")
				}
				return nil
			}))),
			{
				PreConfig:          func() { e.removeDomain(name) }, // virsh destroy; virsh undefine
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
				RefreshPlanChecks: resource.RefreshPlanChecks{PostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionCreate),
				}},
				Check: func(s *terraform.State) error {
					if _, ok := s.RootModule().Resources[vmRes]; ok {
						return fmt.Errorf("%s still in state after its domain was undefined", vmRes)
					}
					return nil
				},
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("state", knownvalue.StringExact("running")),
					expect("drift", knownvalue.ListSizeExact(0)),
				},
				Check: e.checkRow(name, func(vm store.VM) error {
					if vm.ID != rowID {
						return fmt.Errorf("row id %d, want %d: the row must be reused, not duplicated", vm.ID, rowID)
					}
					return nil
				}),
			},
		},
	})
}
