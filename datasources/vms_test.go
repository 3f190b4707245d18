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

// TestAccDataSourceVMs: live states (running, shut off, missing), the
// recorded state for a host that does not answer (listed in
// unreachable_hosts), a corrupt row listed with its live state and null
// recorded configuration (a warning naming its row and the remedy), and
// each filter (host_id, state, name_regex) alone and combined. An invalid
// regexp or state is an attribute error at plan time.
func TestAccDataSourceVMs(t *testing.T) {
	acctest.PreCheck(t)
	e := newLiveEnv(t)
	before := storetest.Snapshot(t, e.db)
	item := func(host, name, verdict, state string, live bool, vcpu int64) knownvalue.Check {
		return knownvalue.ObjectPartial(map[string]knownvalue.Check{
			"id": str(host + "/" + name), "host_id": str(host), "name": str(name),
			"verdict": str(verdict), "state": str(state), "live": knownvalue.Bool(live),
			"vcpu": knownvalue.Int64Exact(vcpu), "memory": knownvalue.Int64Exact(64), "autostart": knownvalue.Bool(false),
		})
	}
	bad := knownvalue.ObjectPartial(map[string]knownvalue.Check{
		"name": str(e.bad), "verdict": str("record_unreadable"), "state": str("shut off"), "live": knownvalue.Bool(true),
		"vcpu": knownvalue.Null(), "memory": knownvalue.Null(), "uuid": knownvalue.StringRegexp(uuidRe),
	})
	run := item(e.up, e.run, "in_step", "running", true, 1)
	off := item(e.up, e.off, "drifted", "shut off", true, 2)
	gone := item(e.up, e.gone, "missing", "missing", true, 1)
	far := item(e.down, e.far, "host_unreachable", "shut off", false, 1)
	none := knownvalue.ListExact([]knownvalue.Check{})
	downOnly := knownvalue.ListExact([]knownvalue.Check{str(e.down)})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: e.config(hcl(`
data "virtumancer_vms" "all" {}
data "virtumancer_vms" "up" {
  host_id = %[1]q
}
data "virtumancer_vms" "running" {
  state = "running"
}
data "virtumancer_vms" "shut_off" {
  state = "shut off"
}
data "virtumancer_vms" "missing_on_up" {
  host_id = %[1]q
  state   = "missing"
}
data "virtumancer_vms" "regex" {
  name_regex = "-(run|far)$"
}
`, e.up)),
				ConfigStateChecks: []statecheck.StateCheck{
					// ordered by host id, then name: "-down" sorts before "-up"
					expectKnown("data.virtumancer_vms.all", "vms", knownvalue.ListExact([]knownvalue.Check{far, bad, gone, off, run})),
					expectKnown("data.virtumancer_vms.all", "unreachable_hosts", downOnly),
					expectKnown("data.virtumancer_vms.up", "vms", knownvalue.ListExact([]knownvalue.Check{bad, gone, off, run})),
					expectKnown("data.virtumancer_vms.up", "unreachable_hosts", none),
					expectKnown("data.virtumancer_vms.running", "vms", knownvalue.ListExact([]knownvalue.Check{run})),
					expectKnown("data.virtumancer_vms.shut_off", "vms", knownvalue.ListExact([]knownvalue.Check{far, bad, off})),
					expectKnown("data.virtumancer_vms.missing_on_up", "vms", knownvalue.ListExact([]knownvalue.Check{gone})),
					expectKnown("data.virtumancer_vms.regex", "vms", knownvalue.ListExact([]knownvalue.Check{far, run})),
				},
			},
		},
	})

	for _, bad := range []struct{ config, want string }{
		{`name_regex = "("`, "not a valid regular expression"},
		{`state = "asleep"`, "shut off"},
	} {
		t.Run(bad.config, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      e.config(`data "virtumancer_vms" "x" { ` + bad.config + ` }`),
					PlanOnly:    true,
					ExpectError: expectErr("Invalid", bad.want),
				}},
			})
		})
	}

	_, diags := protoRead(t, e.db, "virtumancer_vms", map[string]tftypes.Value{})
	requireNoErrors(t, diags)
	requireWarning(t, diags, "Host unreachable", e.down)
	requireWarning(t, diags, "Unreadable recorded configuration", e.bad, e.up, fmt.Sprintf("row %d", e.badRow),
		"next apply of this VM", "null recorded attributes")
	storetest.Unchanged(t, e.db, before)
}
