package resources_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// TestAccVM_updatePlanSaysWhatChanges: an update of memory, vcpu,
// autostart and graphics plans config_json as the value apply records (so
// the plan shows those fields change and nothing else), and state, drift,
// pending_restart and ip_addresses as they stay; config_json in state
// holds no runtime field and matches the store's record after apply. A
// change the plan cannot write into config_json (a new disk) leaves it
// unknown.
func TestAccVM_updatePlanSaysWhatChanges(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	name := e.name()
	first := e.testVM(name, 64, 1, "")
	second := e.testVM(name, 96, 2, `
  max_memory = 128
  autostart  = true
  graphics   = "none"`)
	third := e.testVM(name, 96, 2, `
  max_memory = 128
  autostart  = true
  graphics   = "none"
  running    = false # the test driver attaches no disk live
  disk {
    path = "/var/lib/libvirt/images/`+name+`.img"
  }`)
	planned := func(memKiB, maxKiB uint64, vcpu uint, autostart bool, graphics string) knownvalue.Check {
		return configJSON(func(v vminfo.VMInfo) error {
			if v.Memory != memKiB || v.MaxMem != maxKiB || v.Vcpu != vcpu || v.Autostart != autostart ||
				vminfo.GraphicsName(v.Graphics) != graphics || v.Name != name || v.UUID == "" {
				return fmt.Errorf("planned config_json %+v, want memory %d max %d vcpu %d autostart %t graphics %s", v, memKiB, maxKiB, vcpu, autostart, graphics)
			}
			return nil
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: first, Check: e.stateViewIsRecord(name)},
			{
				Config: second,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(vmRes, attr("config_json"), planned(96*1024, 128*1024, 2, true, "none")),
					plancheck.ExpectKnownValue(vmRes, attr("state"), knownvalue.StringExact("running")),
					plancheck.ExpectKnownValue(vmRes, attr("pending_restart"), knownvalue.Bool(false)),
					plancheck.ExpectKnownValue(vmRes, attr("drift"), knownvalue.ListSizeExact(0)),
					plancheck.ExpectKnownValue(vmRes, attr("ip_addresses"), knownvalue.ListSizeExact(0)),
				}},
				Check: e.stateViewIsRecord(name),
			},
			{
				Config: third,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(vmRes, attr("config_json")),
					plancheck.ExpectKnownValue(vmRes, attr("drift"), knownvalue.ListSizeExact(0)),
				}},
				Check: e.stateViewIsRecord(name),
			},
			{
				Config:           third,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// stateViewIsRecord checks that config_json in state is the store's
// record of the VM without its runtime fields.
func (e *vmEnv) stateViewIsRecord(name string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		got := s.RootModule().Resources[vmRes].Primary.Attributes["config_json"]
		for _, k := range []string{`"cpu_time"`, `"uptime"`, `"state"`, `"id"`} {
			if strings.Contains(got, k) {
				return fmt.Errorf("config_json in state keeps the runtime field %s: %s", k, got)
			}
		}
		var want string
		err := e.checkRow(name, func(vm store.VM) error {
			var err error
			want, err = vm.Recorded.ConfigView()
			return err
		})(s)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("config_json in state\n%s\nwant the store's record\n%s", got, want)
		}
		return nil
	}
}
