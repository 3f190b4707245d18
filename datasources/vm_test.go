package datasources_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
)

// TestAccDataSourceVM: one VM's recorded configuration and live side: a
// running domain with no drift, a shut-off one whose vcpu drifted, a row
// on a host that does not answer (recorded state, null drift), a missing
// domain, a corrupt row (live state, null record, a warning naming the row
// and the remedy); an unknown VM is an error.
func TestAccDataSourceVM(t *testing.T) {
	acctest.PreCheck(t)
	e := newLiveEnv(t)
	before := storetest.Snapshot(t, e.db)
	vm := func(label, host, name string) string {
		return hcl("data \"virtumancer_vm\" %q {\n  host_id = %q\n  name    = %q\n}\n", label, host, name)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: e.config(vm("run", e.up, e.run) + vm("off", e.up, e.off) + vm("far", e.down, e.far) + vm("gone", e.up, e.gone) + vm("bad", e.up, e.bad)),
				ConfigStateChecks: []statecheck.StateCheck{
					expectKnown("data.virtumancer_vm.run", "id", str(e.up+"/"+e.run)),
					expectKnown("data.virtumancer_vm.run", "verdict", str("in_step")),
					expectKnown("data.virtumancer_vm.run", "reachable", knownvalue.Bool(true)),
					expectKnown("data.virtumancer_vm.run", "state", str("running")),
					expectKnown("data.virtumancer_vm.run", "domain_id", knownvalue.Int64Func(func(v int64) error {
						if v <= 0 {
							return errorf("domain_id %d, want > 0 for a running domain", v)
						}
						return nil
					})),
					expectKnown("data.virtumancer_vm.run", "drift", knownvalue.ListExact([]knownvalue.Check{})),
					expectKnown("data.virtumancer_vm.run", "memory", knownvalue.Int64Exact(64)),
					expectKnown("data.virtumancer_vm.run", "max_memory", knownvalue.Int64Exact(64)),
					expectKnown("data.virtumancer_vm.run", "domain_type", str("test")),
					expectKnown("data.virtumancer_vm.run", "graphics", str("none")),
					expectKnown("data.virtumancer_vm.run", "uuid", knownvalue.StringRegexp(uuidRe)),
					expectKnown("data.virtumancer_vm.run", "disk", knownvalue.ListExact([]knownvalue.Check{})),
					expectKnown("data.virtumancer_vm.run", "created_at", knownvalue.NotNull()),

					expectKnown("data.virtumancer_vm.off", "verdict", str("drifted")),
					expectKnown("data.virtumancer_vm.off", "state", str("shut off")),
					expectKnown("data.virtumancer_vm.off", "domain_id", knownvalue.Int64Exact(0)),
					expectKnown("data.virtumancer_vm.off", "vcpu", knownvalue.Int64Exact(2)),
					expectKnown("data.virtumancer_vm.off", "drift", knownvalue.ListExact([]knownvalue.Check{
						vcpuDrift,
					})),

					expectKnown("data.virtumancer_vm.far", "verdict", str("host_unreachable")),
					expectKnown("data.virtumancer_vm.far", "reachable", knownvalue.Bool(false)),
					expectKnown("data.virtumancer_vm.far", "state", str("shut off")),
					expectKnown("data.virtumancer_vm.far", "drift", knownvalue.Null()),
					expectKnown("data.virtumancer_vm.far", "domain_id", knownvalue.Null()),

					expectKnown("data.virtumancer_vm.gone", "verdict", str("missing")),
					expectKnown("data.virtumancer_vm.gone", "reachable", knownvalue.Bool(true)),
					expectKnown("data.virtumancer_vm.gone", "state", str("missing")),
					expectKnown("data.virtumancer_vm.gone", "drift", knownvalue.Null()),
					expectKnown("data.virtumancer_vm.gone", "domain_id", knownvalue.Null()),

					expectKnown("data.virtumancer_vm.bad", "verdict", str("record_unreadable")),
					expectKnown("data.virtumancer_vm.bad", "reachable", knownvalue.Bool(true)),
					expectKnown("data.virtumancer_vm.bad", "state", str("shut off")),
					expectKnown("data.virtumancer_vm.bad", "domain_id", knownvalue.Int64Exact(0)),
					expectKnown("data.virtumancer_vm.bad", "uuid", knownvalue.StringRegexp(uuidRe)),
					expectKnown("data.virtumancer_vm.bad", "vcpu", knownvalue.Null()),
					expectKnown("data.virtumancer_vm.bad", "memory", knownvalue.Null()),
					expectKnown("data.virtumancer_vm.bad", "drift", knownvalue.Null()),
					expectKnown("data.virtumancer_vm.bad", "config_json", str(badConfigJSON)),
				},
			},
			{
				Config:      e.config(vm("nope", e.up, "acc-no-such-vm")),
				ExpectError: expectErr("VM not found", "acc-no-such-vm", e.up),
			},
		},
	})

	_, diags := protoRead(t, e.db, "virtumancer_vm", map[string]tftypes.Value{"host_id": tfString(e.up), "name": tfString(e.bad)})
	requireNoErrors(t, diags)
	requireWarning(t, diags, "Unreadable recorded configuration", e.bad, e.up, fmt.Sprintf("row %d", e.badRow), "next apply of this VM")
	storetest.Unchanged(t, e.db, before)
}
