package resources_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
)

// recipeConfig is examples/adopt-host/main.tf as the guide shows it, with
// the test's provider block instead of its terraform block (the test serves
// the provider in-process).
func recipeConfig(t *testing.T, db string) string {
	t.Helper()
	b, err := os.ReadFile("../examples/adopt-host/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	src := regexp.MustCompile(`(?s)terraform \{.*?\n\}\n`).ReplaceAllString(string(b), "")
	if strings.Contains(src, "required_providers") {
		t.Fatal("examples/adopt-host/main.tf: the terraform block was not stripped")
	}
	return acctest.ProviderConfig(db) + src
}

// TestAccAdoptHost_recipe runs the whole-host recipe (examples/adopt-host,
// the guide "Adopt a host") on test:///default: three domains defined behind
// Terraform's back (one running, one with disks and an interface without a
// model, one bare) are listed live by virtumancer_domains before the store
// knows them, imported by one for_each import block into one for_each
// resource: every import plans as a no-op, the plan after the apply is
// empty, the store records them, and the running one kept its id.
func TestAccAdoptHost_recipe(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	e.hostID = acctest.Name("adopt-host")
	prefix := acctest.Name("adopt-r")
	defs := map[string]string{
		prefix + "-web": `<disk type='file' device='disk'><source file='/adopt/web.img'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
<interface type='network'><source network='default'/></interface>`,
		prefix + "-db":   `<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>`,
		prefix + "-bare": ``,
	}
	var webID int32
	for name, devs := range defs {
		t.Cleanup(func() { e.removeDomain(name) })
		d, err := e.lv.DomainDefineXML(fmt.Sprintf(`<domain type='test'><name>%s</name><memory unit='MiB'>96</memory><vcpu>2</vcpu>
<os><type arch='x86_64'>hvm</type></os><devices>%s</devices></domain>`, name, devs))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "-web") {
			if err := e.lv.DomainCreate(d); err != nil {
				t.Fatal(err)
			}
			d, _ = e.lv.DomainLookupByName(name)
			webID = d.ID
		}
	}
	vars := config.Variables{"host_id": config.StringVariable(e.hostID), "name_regex": config.StringVariable("^" + prefix + "-")}
	recipe := e.hostHCL()[len(acctest.ProviderConfig(e.db)):] + recipeConfig(t, e.db)
	adopted := func(name string) string { return fmt.Sprintf("virtumancer_vm.adopted[%q]", name) }
	var noop []plancheck.PlanCheck
	for name := range defs {
		noop = append(noop, plancheck.ExpectResourceAction(adopted(name), plancheck.ResourceActionNoop))
	}
	checks := []statecheck.StateCheck{
		statecheck.ExpectKnownOutputValue("adopted", knownvalue.ListExact([]knownvalue.Check{
			knownvalue.StringExact(prefix + "-bare"), knownvalue.StringExact(prefix + "-db"), knownvalue.StringExact(prefix + "-web"),
		})),
		statecheck.ExpectKnownValue(adopted(prefix+"-web"), tfjsonpath.New("network_interface").AtSliceIndex(0).AtMapKey("model"), knownvalue.Null()),
		statecheck.ExpectKnownValue(adopted(prefix+"-web"), tfjsonpath.New("running"), knownvalue.Bool(true)),
		statecheck.ExpectKnownValue(adopted(prefix+"-bare"), tfjsonpath.New("running"), knownvalue.Bool(false)),
		// A statecheck, not Check: the legacy state shim refuses for_each addresses.
		stateFunc(func() error {
			for name := range defs {
				if _, err := e.row(name); err != nil {
					return fmt.Errorf("%s not recorded in the store: %w", name, err)
				}
			}
			d, err := e.lv.DomainLookupByName(prefix + "-web")
			if err != nil {
				return err
			}
			if d.ID != webID {
				return fmt.Errorf("running domain's id went from %d to %d: adopting restarted it", webID, d.ID)
			}
			return nil
		}),
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: e.hostHCL()},
			{
				Config: recipe, ConfigVariables: vars,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             noop,
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: checks,
			},
			// A second plan, from a fresh read of the host: still empty.
			{Config: recipe, ConfigVariables: vars, PlanOnly: true},
			// Leave them out again (destroyed): terraform-plugin-testing's
			// end-of-test state shim cannot read for_each instances.
			{Config: e.hostHCL()},
		},
	})
}

// stateFunc is a state check that asks the world outside the state.
type stateFunc func() error

func (f stateFunc) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = f()
}
