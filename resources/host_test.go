package resources_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// unreachableURI: nothing listens on port 1 of loopback.
const unreachableURI = "qemu+ssh://root@127.0.0.1:1/system"

func hostConfig(db, id, uri string) string {
	return acctest.ProviderConfig(db) + fmt.Sprintf(`
resource "virtumancer_host" "h" {
  id  = %q
  uri = %q
}
`, id, uri)
}

// checkHostRow asserts the store's row for id (uri "" = no row).
func checkHostRow(t *testing.T, db, id, uri string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		st := storetest.Open(t, db)
		h, err := st.GetHost(storetest.Ctx(t), id)
		switch {
		case uri == "" && errors.Is(err, store.ErrNotFound):
			return nil
		case uri == "" && err == nil:
			return fmt.Errorf("host row %q still exists (uri %s)", id, h.URI)
		case err != nil:
			return fmt.Errorf("host row %q: %w", id, err)
		case h.URI != uri:
			return fmt.Errorf("host row %q has uri %q, want %q", id, h.URI, uri)
		}
		return nil
	}
}

// TestAccHost_lifecycle: create on the test driver, update the URI in place
// to qemu:///system (facts unknown in the plan, then QEMU's), import, and
// destroy; every apply is followed by an empty plan.
func TestAccHost_lifecycle(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	id := acctest.Name("acc-host")
	addr := "virtumancer_host.h"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkHostRow(t, db, id, ""),
		Steps: []resource.TestStep{
			{
				Config: hostConfig(db, id, acctest.TestURI),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(id)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("uri"), knownvalue.StringExact(acctest.TestURI)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("driver"), knownvalue.StringExact("TEST")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("kvm"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("cpus"), atLeastOne()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("memory"), atLeastOne()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("libvirt_version"), knownvalue.StringRegexp(regexp.MustCompile(`^\d+\.\d+\.\d+$`))),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("hostname"), knownvalue.NotNull()),
				},
				Check: checkHostRow(t, db, id, acctest.TestURI),
			},
			{
				Config: hostConfig(db, id, acctest.QemuURI),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("driver")),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("cpus")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("uri"), knownvalue.StringExact(acctest.QemuURI)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("driver"), knownvalue.StringExact("QEMU")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("arch"), knownvalue.StringExact("x86_64")),
				},
				Check: checkHostRow(t, db, id, acctest.QemuURI),
			},
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateId:     id,
				ImportStateVerify: true,
				// The host's memory is read live and moves on machines whose
				// memory is ballooned (seen here: 10201 then 10329 MiB).
				ImportStateVerifyIgnore: []string{"memory"},
			},
		},
	})
}

// TestAccHost_outOfBand: a row whose URI was changed behind Terraform's back
// to a host that does not answer still refreshes (a warning, not an error)
// and the plan puts the configured URI back; a row deleted behind its back
// is planned for creation again.
func TestAccHost_outOfBand(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	id := acctest.Name("acc-host")
	addr := "virtumancer_host.h"
	cfg := hostConfig(db, id, acctest.TestURI)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkHostRow(t, db, id, ""),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					st := storetest.Open(t, db)
					if err := st.PutHost(storetest.Ctx(t), store.Host{ID: id, URI: unreachableURI}); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("uri"), knownvalue.StringExact(acctest.TestURI)),
					},
				},
				Check: checkHostRow(t, db, id, acctest.TestURI),
			},
			{
				PreConfig: func() {
					st := storetest.Open(t, db)
					if _, err := st.DeleteHost(storetest.Ctx(t), id); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
				Check: checkHostRow(t, db, id, acctest.TestURI),
			},
		},
	})
}

// TestAccHost_deleteSoftDeletesVMs: destroying a host soft-deletes its VM
// rows (recorded out of band here) and leaves other hosts' rows alone.
func TestAccHost_deleteSoftDeletesVMs(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	id := acctest.Name("acc-host")
	vm := acctest.Name("acc-vm")
	other := id + "-other"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: hostConfig(db, id, acctest.TestURI),
				Check: func(*terraform.State) error {
					st := storetest.Open(t, db)
					ctx := storetest.Ctx(t)
					cfg := vminfo.VMInfo{Name: vm, State: vminfo.StateShutoff, Memory: 65536, MaxMem: 65536, Vcpu: 1, Uptime: -1, Persistent: true}
					if _, err := st.UpsertVM(ctx, id, vm, cfg); err != nil {
						return err
					}
					_, err := st.UpsertVM(ctx, other, vm, cfg)
					return err
				},
			},
			{
				Config:  acctest.ProviderConfig(db),
				Destroy: true,
				Check: func(*terraform.State) error {
					st := storetest.Open(t, db)
					ctx := storetest.Ctx(t)
					if _, err := st.GetVM(ctx, id, vm); !errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("VM row of the deleted host: got %w, want not found (soft-deleted)", err)
					}
					if _, err := st.GetVM(ctx, other, vm); err != nil {
						return fmt.Errorf("VM row of another host: %w", err)
					}
					var rows []store.VM
					if err := st.Read(ctx, func(tx *store.Tx) (err error) { rows, err = tx.ListVMsWithDeleted(id); return err }); err != nil {
						return err
					}
					if len(rows) != 1 || rows[0].DeletedAt == nil {
						return fmt.Errorf("want the VM row kept with deleted_at set, got %+v", rows)
					}
					return nil
				},
			},
		},
	})
}

// TestAccHost_unreachable: a URI nothing answers on fails the create with
// the host id and URI in the message, and writes nothing.
func TestAccHost_unreachable(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	storetest.Open(t, db) // create the file so the snapshot has tables
	before := storetest.Snapshot(t, db)
	id := acctest.Name("acc-host")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { storetest.Unchanged(t, db, before); return nil },
		Steps: []resource.TestStep{{
			Config:      hostConfig(db, id, unreachableURI),
			ExpectError: expectErr("Unable to reach the host", id, "127.0.0.1:1"),
		}},
	})
	storetest.Unchanged(t, db, before)
}

// TestAccHost_invalidURI: a URI the connection layer cannot dial is an
// attribute error at plan time; the store is not touched.
func TestAccHost_invalidURI(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	storetest.Open(t, db)
	before := storetest.Snapshot(t, db)
	for _, uri := range []string{"http://example.com/", "qemu+carrier-pigeon:///system", "not a uri"} {
		t.Run(uri, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      hostConfig(db, acctest.Name("acc-host"), uri),
					PlanOnly:    true,
					ExpectError: expectErr("Invalid uri"),
				}},
			})
		})
	}
	storetest.Unchanged(t, db, before)
}

// TestAccHost_duplicateID: an id already in the store (written by someone
// else) is an error that suggests import; the existing row is untouched.
func TestAccHost_duplicateID(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	id := acctest.Name("acc-host")
	st := storetest.Open(t, db)
	if err := st.CreateHost(storetest.Ctx(t), store.Host{ID: id, URI: acctest.QemuURI}); err != nil {
		t.Fatal(err)
	}
	before := storetest.Snapshot(t, db)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      hostConfig(db, id, acctest.TestURI),
			ExpectError: expectErr("Host already exists", id, "import"),
		}},
	})
	storetest.Unchanged(t, db, before)
}

// TestAccHost_readOnlyStore: a store file that cannot be written fails the
// create with the store's own advice and leaves the file as it was.
func TestAccHost_readOnlyStore(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StorePath(t)
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.MakeReadOnly(t, db)
	before := storetest.Snapshot(t, db)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      hostConfig(db, acctest.Name("acc-host"), acctest.TestURI),
			ExpectError: expectErr("Unable to record the host", "read-only"),
		}},
	})
	storetest.Unchanged(t, db, before)
}

// expectErr matches the parts in order anywhere in an error, whatever
// line wrapping the CLI applied to the diagnostic.
func expectErr(parts ...string) *regexp.Regexp {
	for i, p := range parts {
		parts[i] = strings.Join(strings.Fields(regexp.QuoteMeta(p)), `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, ".*"))
}

func atLeastOne() knownvalue.Check {
	return knownvalue.Int64Func(func(v int64) error {
		if v <= 0 {
			return fmt.Errorf("want > 0, got %d", v)
		}
		return nil
	})
}
