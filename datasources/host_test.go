package datasources_test

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
)

// TestAccDataSourceHost: a reachable host's facts; an unreachable one is
// read with reachable = false and null facts (plus a warning naming it);
// an unknown id is an error. virtumancer_hosts lists both rows.
func TestAccDataSourceHost(t *testing.T) {
	acctest.PreCheck(t)
	e := newLiveEnv(t)
	before := storetest.Snapshot(t, e.db)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: e.config(hcl(`
data "virtumancer_host" "up" {
  id = %q
}
data "virtumancer_host" "down" {
  id = %q
}
data "virtumancer_hosts" "all" {}
`, e.up, e.down)),
				ConfigStateChecks: []statecheck.StateCheck{
					expectKnown("data.virtumancer_host.up", "uri", str(acctest.TestURI)),
					expectKnown("data.virtumancer_host.up", "reachable", knownvalue.Bool(true)),
					expectKnown("data.virtumancer_host.up", "driver", str("TEST")),
					expectKnown("data.virtumancer_host.up", "kvm", knownvalue.Bool(false)),
					expectKnown("data.virtumancer_host.up", "cpus", knownvalue.Int64Func(func(v int64) error { return nil })),
					expectKnown("data.virtumancer_host.down", "uri", str(unreachableURI)),
					expectKnown("data.virtumancer_host.down", "reachable", knownvalue.Bool(false)),
					expectKnown("data.virtumancer_host.down", "driver", knownvalue.Null()),
					expectKnown("data.virtumancer_host.down", "memory", knownvalue.Null()),
					expectKnown("data.virtumancer_hosts.all", "hosts", knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{"id": str(e.down), "uri": str(unreachableURI)}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{"id": str(e.up), "uri": str(acctest.TestURI)}),
					})),
				},
			},
			{
				Config:      e.config(`data "virtumancer_host" "nope" { id = "acc-no-such-host" }`),
				ExpectError: expectErr("Host not found", "acc-no-such-host", "virtumancer_hosts"),
			},
		},
	})
	_, diags := protoRead(t, e.db, "virtumancer_host", map[string]tftypes.Value{"id": tfString(e.down)})
	requireNoErrors(t, diags)
	requireWarning(t, diags, "Host unreachable", e.down, "127.0.0.1:1")
	storetest.Unchanged(t, e.db, before)
}
