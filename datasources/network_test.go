package datasources_test

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
)

// TestAccDataSourceNetwork_testDriver: the test driver's own "default"
// network in the resource's terms, with no leases (the driver keeps none);
// a missing network and an unknown host are errors saying so, and a read
// writes nothing to the store. Real leases: resources' TestAccVMGuest_*.
func TestAccDataSourceNetwork_testDriver(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	host := acctest.Name("ip-ds-host")
	if err := storetest.Open(t, db).CreateHost(storetest.Ctx(t), store.Host{ID: host, URI: acctest.TestURI}); err != nil {
		t.Fatal(err)
	}
	before := storetest.Snapshot(t, db)
	cfg := func(hostID, name string) string {
		return acctest.ProviderConfig(db) + hcl("data \"virtumancer_network\" \"n\" {\n  host_id = %q\n  name    = %q\n}\n", hostID, name)
	}
	const addr = "data.virtumancer_network.n"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg(host, "default"),
				ConfigStateChecks: []statecheck.StateCheck{
					expectKnown(addr, "id", str(host+"/default")),
					expectKnown(addr, "mode", str("nat")),
					expectKnown(addr, "cidr", str("192.168.122.0/24")),
					expectKnown(addr, "bridge", str("virbr0")),
					expectKnown(addr, "active", knownvalue.Bool(true)),
					expectKnown(addr, "uuid", knownvalue.StringRegexp(uuidRe)),
					expectKnown(addr, "dhcp", knownvalue.ObjectExact(map[string]knownvalue.Check{
						"start": str("192.168.122.2"), "end": str("192.168.122.254"),
					})),
					expectKnown(addr, "dhcp_host", knownvalue.ListExact(nil)),
					expectKnown(addr, "leases", knownvalue.ListExact(nil)),
				},
			},
			{Config: cfg(host, "ip-no-such-net"), ExpectError: expectErr("Network not found", `no network "ip-no-such-net"`, "virsh net-list --all")},
			{Config: cfg("ip-no-such-host", "default"), ExpectError: expectErr("Unknown host", `host_id "ip-no-such-host" is not in the store`)},
		},
	})
	storetest.Unchanged(t, db, before)
}
