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

// TestAccDataSourceDrift: the drifted VM with its field, the row whose
// domain is missing, the unreachable host listed instead of failing the
// read (with a warning), the corrupt row skipped with a warning naming it;
// host_id narrows it all to one host.
func TestAccDataSourceDrift(t *testing.T) {
	acctest.PreCheck(t)
	e := newLiveEnv(t)
	before := storetest.Snapshot(t, e.db)
	drifted := knownvalue.ListExact([]knownvalue.Check{
		knownvalue.ObjectExact(map[string]knownvalue.Check{
			"host_id": str(e.up), "name": str(e.off),
			"fields": knownvalue.ListExact([]knownvalue.Check{
				knownvalue.ObjectExact(map[string]knownvalue.Check{"field": str("vcpu"), "recorded": str("2"), "live": str("1")}),
			}),
		}),
	})
	missing := knownvalue.ListExact([]knownvalue.Check{
		knownvalue.ObjectExact(map[string]knownvalue.Check{"host_id": str(e.up), "name": str(e.gone)}),
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: e.config(hcl(`
data "virtumancer_drift" "all" {}
data "virtumancer_drift" "down" {
  host_id = %q
}
`, e.down)),
			ConfigStateChecks: []statecheck.StateCheck{
				expectKnown("data.virtumancer_drift.all", "vms", drifted),
				expectKnown("data.virtumancer_drift.all", "missing", missing),
				expectKnown("data.virtumancer_drift.all", "unreachable_hosts", knownvalue.ListExact([]knownvalue.Check{str(e.down)})),
				expectKnown("data.virtumancer_drift.down", "vms", knownvalue.ListExact([]knownvalue.Check{})),
				expectKnown("data.virtumancer_drift.down", "missing", knownvalue.ListExact([]knownvalue.Check{})),
				expectKnown("data.virtumancer_drift.down", "unreachable_hosts", knownvalue.ListExact([]knownvalue.Check{str(e.down)})),
			},
		}},
	})

	_, diags := protoRead(t, e.db, "virtumancer_drift", map[string]tftypes.Value{})
	requireNoErrors(t, diags)
	requireWarning(t, diags, "Host unreachable", e.down, "127.0.0.1:1")
	requireWarning(t, diags, "Unreadable config_json", e.bad)

	got, diags := protoRead(t, e.db, "virtumancer_drift", map[string]tftypes.Value{"host_id": tfString(e.up)})
	requireNoErrors(t, diags)
	var unreachable []tftypes.Value
	if err := got["unreachable_hosts"].As(&unreachable); err != nil || len(unreachable) != 0 {
		t.Errorf("drift of host %s alone: unreachable_hosts %v (%v), want empty", e.up, unreachable, err)
	}
	storetest.Unchanged(t, e.db, before)
}
