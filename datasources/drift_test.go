package datasources_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
)

// TestAccDataSourceDrift: every VM that needs attention with its verdict
// (the drifted VM with its field in the user's words, the row whose domain
// is missing, the corrupt row with its row id and error), the unreachable
// host listed instead of failing the read, a warning for each of the last
// two; in_step false; host_id narrows it all to one host.
func TestAccDataSourceDrift(t *testing.T) {
	acctest.PreCheck(t)
	e := newLiveEnv(t)
	before := storetest.Snapshot(t, e.db)
	entry := func(name, verdict string, state, errMsg knownvalue.Check, fields ...knownvalue.Check) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"host_id": str(e.up), "name": str(name), "verdict": str(verdict), "state": state,
			"row_id": knownvalue.NotNull(), "fields": knownvalue.ListExact(fields), "error": errMsg,
			"remedy": knownvalue.StringRegexp(regexp.MustCompile(`\S`)),
		})
	}
	attention := knownvalue.ListExact([]knownvalue.Check{
		entry(e.bad, "record_unreadable", str("shut off"), knownvalue.StringRegexp(regexp.MustCompile(`.+`))),
		entry(e.gone, "missing", knownvalue.Null(), knownvalue.Null()),
		entry(e.off, "drifted", str("shut off"), knownvalue.Null(), vcpuDrift),
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
				expectKnown("data.virtumancer_drift.all", "in_step", knownvalue.Bool(false)),
				expectKnown("data.virtumancer_drift.all", "vms", attention),
				expectKnown("data.virtumancer_drift.all", "missing", missing),
				expectKnown("data.virtumancer_drift.all", "unreachable_hosts", knownvalue.ListExact([]knownvalue.Check{str(e.down)})),
				expectKnown("data.virtumancer_drift.down", "in_step", knownvalue.Bool(false)),
				expectKnown("data.virtumancer_drift.down", "vms", knownvalue.ListExact([]knownvalue.Check{})),
				expectKnown("data.virtumancer_drift.down", "missing", knownvalue.ListExact([]knownvalue.Check{})),
				expectKnown("data.virtumancer_drift.down", "unreachable_hosts", knownvalue.ListExact([]knownvalue.Check{str(e.down)})),
			},
		}},
	})

	_, diags := protoRead(t, e.db, "virtumancer_drift", map[string]tftypes.Value{})
	requireNoErrors(t, diags)
	requireWarning(t, diags, "Host unreachable", e.down, "127.0.0.1:1")
	requireWarning(t, diags, "Unreadable recorded configuration", e.bad, fmt.Sprintf("row %d", e.badRow), "next apply of this VM", "record_unreadable")

	got, diags := protoRead(t, e.db, "virtumancer_drift", map[string]tftypes.Value{"host_id": tfString(e.up)})
	requireNoErrors(t, diags)
	var unreachable []tftypes.Value
	if err := got["unreachable_hosts"].As(&unreachable); err != nil || len(unreachable) != 0 {
		t.Errorf("drift of host %s alone: unreachable_hosts %v (%v), want empty", e.up, unreachable, err)
	}
	storetest.Unchanged(t, e.db, before)
}
