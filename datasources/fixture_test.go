package datasources_test

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
)

// TestAccDataSources_fixture: a store written by Virtumancer itself works as
// the provider's database. Its host (local -> qemu:///system) and VMs
// (alpha, beta: rows whose domains do not exist) are visible through every
// data source, in the provider's units, and reading them leaves
// Virtumancer's tables exactly as they were.
func TestAccDataSources_fixture(t *testing.T) {
	acctest.PreCheck(t)
	db := storetest.CopyFixture(t, storetest.Fixture(t))
	before := storetest.Snapshot(t, db)
	vm := func(name string) knownvalue.Check {
		return knownvalue.ObjectPartial(map[string]knownvalue.Check{
			"id": str("local/" + name), "host_id": str("local"), "name": str(name),
			"verdict": str("missing"), "state": str("missing"), "live": knownvalue.Bool(true),
			"memory": knownvalue.Int64Exact(64), "max_memory": knownvalue.Int64Exact(64),
			"vcpu": knownvalue.Int64Exact(1), "autostart": knownvalue.Bool(false), "uuid": knownvalue.Null(),
		})
	}
	missing := func(name string) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{"host_id": str("local"), "name": str(name)})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: acctest.ProviderConfig(db) + `
data "virtumancer_hosts" "all" {}
data "virtumancer_host" "local" {
  id = "local"
}
data "virtumancer_vms" "all" {}
data "virtumancer_vms" "beta" {
  name_regex = "^b"
}
data "virtumancer_vm" "alpha" {
  host_id = "local"
  name    = "alpha"
}
data "virtumancer_drift" "all" {}
`,
			ConfigStateChecks: []statecheck.StateCheck{
				expectKnown("data.virtumancer_hosts.all", "hosts", knownvalue.ListExact([]knownvalue.Check{
					knownvalue.ObjectExact(map[string]knownvalue.Check{"id": str("local"), "uri": str("qemu:///system")}),
				})),
				expectKnown("data.virtumancer_host.local", "uri", str("qemu:///system")),
				expectKnown("data.virtumancer_host.local", "reachable", knownvalue.Bool(true)),
				expectKnown("data.virtumancer_host.local", "driver", str("QEMU")),

				expectKnown("data.virtumancer_vms.all", "vms", knownvalue.ListExact([]knownvalue.Check{vm("alpha"), vm("beta")})),
				expectKnown("data.virtumancer_vms.all", "unreachable_hosts", knownvalue.ListExact([]knownvalue.Check{})),
				expectKnown("data.virtumancer_vms.beta", "vms", knownvalue.ListExact([]knownvalue.Check{vm("beta")})),

				expectKnown("data.virtumancer_vm.alpha", "id", str("local/alpha")),
				expectKnown("data.virtumancer_vm.alpha", "memory", knownvalue.Int64Exact(64)),
				expectKnown("data.virtumancer_vm.alpha", "vcpu", knownvalue.Int64Exact(1)),
				expectKnown("data.virtumancer_vm.alpha", "graphics", str("vnc")),
				expectKnown("data.virtumancer_vm.alpha", "persistent", knownvalue.Bool(true)),
				expectKnown("data.virtumancer_vm.alpha", "domain_type", knownvalue.Null()),
				expectKnown("data.virtumancer_vm.alpha", "disk", knownvalue.Null()),
				expectKnown("data.virtumancer_vm.alpha", "created_at", str("2026-11-26T23:04:59.437951299Z")),
				expectKnown("data.virtumancer_vm.alpha", "config_json", str(`{"id":0,"name":"alpha","state":5,"max_mem":65536,"memory":65536,"vcpu":1,"cpu_time":0,"uptime":-1,"persistent":true,"autostart":false,"graphics":{"vnc":true,"spice":false}}`)),
				expectKnown("data.virtumancer_vm.alpha", "reachable", knownvalue.Bool(true)),
				expectKnown("data.virtumancer_vm.alpha", "state", str("missing")),
				expectKnown("data.virtumancer_vm.alpha", "verdict", str("missing")),
				expectKnown("data.virtumancer_vm.alpha", "drift", knownvalue.Null()),

				expectKnown("data.virtumancer_drift.all", "in_step", knownvalue.Bool(false)),
				expectKnown("data.virtumancer_drift.all", "vms", knownvalue.ListExact([]knownvalue.Check{
					knownvalue.ObjectPartial(map[string]knownvalue.Check{"name": str("alpha"), "verdict": str("missing")}),
					knownvalue.ObjectPartial(map[string]knownvalue.Check{"name": str("beta"), "verdict": str("missing")}),
				})),
				expectKnown("data.virtumancer_drift.all", "missing", knownvalue.ListExact([]knownvalue.Check{missing("alpha"), missing("beta")})),
				expectKnown("data.virtumancer_drift.all", "unreachable_hosts", knownvalue.ListExact([]knownvalue.Check{})),
			},
		}},
	})
	storetest.Unchanged(t, db, before)
}
