package resources_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
)

const poolAddr = "virtumancer_pool.p"

// poolConfig is a host plus one pool with the given body (and extra HCL).
func poolConfig(db, hostID, uri, body, extra string) string {
	return hostConfig(db, hostID, uri) + fmt.Sprintf(`
resource "virtumancer_pool" "p" {
  host_id = virtumancer_host.h.id
%s
}
%s`, body, extra)
}

func poolBody(name, dir string, autostart *bool) string {
	s := fmt.Sprintf("  name = %q\n  path = %q\n", name, dir)
	if autostart != nil {
		s += fmt.Sprintf("  autostart = %t\n", *autostart)
	}
	return s
}

// withPool runs fn on the named pool, out of band.
func withPool(uri, name string, fn func(*libvirt.Libvirt, libvirt.StoragePool) error) error {
	l, err := acctest.Dial(uri)
	if err != nil {
		return err
	}
	defer func() { _ = l.Disconnect() }()
	p, err := l.StoragePoolLookupByName(name)
	if err != nil {
		return err
	}
	return fn(l, p)
}

func poolDefined(uri, name string) (bool, error) {
	err := withPool(uri, name, func(*libvirt.Libvirt, libvirt.StoragePool) error { return nil })
	if noSuchPool(err) {
		return false, nil
	}
	return err == nil, err
}

func noSuchPool(err error) bool {
	var le libvirt.Error
	return errors.As(err, &le) && libvirt.ErrorNumber(le.Code) == libvirt.ErrNoStoragePool
}

func checkPoolGone(uri, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ok, err := poolDefined(uri, name)
		if err == nil && ok {
			err = fmt.Errorf("pool %s is still defined", name)
		}
		return err
	}
}

// mustPool runs fn on a pool behind Terraform's back, failing the test on error.
func mustPool(t *testing.T, uri, name string, fn func(*libvirt.Libvirt, libvirt.StoragePool) error) {
	t.Helper()
	if err := withPool(uri, name, fn); err != nil {
		t.Fatalf("pool %s behind Terraform's back: %v", name, err)
	}
}

// removeLeftPool removes what a failed run left: the volume, then the pool.
func removeLeftPool(t *testing.T, uri, name, vol string) {
	err := withPool(uri, name, func(l *libvirt.Libvirt, p libvirt.StoragePool) error {
		if v, err := l.StorageVolLookupByName(p, vol); err == nil {
			_ = l.StorageVolDelete(v, 0)
		}
		_ = l.StoragePoolDestroy(p)
		return l.StoragePoolUndefine(p)
	})
	if err != nil && !noSuchPool(err) {
		t.Errorf("cleanup of pool %s: %v", name, err)
	}
}

func stopPool(l *libvirt.Libvirt, p libvirt.StoragePool) error { return l.StoragePoolDestroy(p) }

func poolState(attr string, v knownvalue.Check) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(poolAddr, tfjsonpath.New(attr), v)
}

func isDir(dir string, want bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		fi, err := os.Stat(dir)
		switch {
		case want && err != nil:
			return fmt.Errorf("directory %s, want it to exist: %w", dir, err)
		case want && !fi.IsDir():
			return fmt.Errorf("%s is not a directory", dir)
		case !want && err == nil:
			return fmt.Errorf("directory %s still exists", dir)
		case !want && !os.IsNotExist(err):
			return fmt.Errorf("directory %s: %w", dir, err)
		}
		return nil
	}
}

// fsUsage: a directory pool reports its file system's used and free
// space, which every writer on that file system moves between two reads.
var fsUsage = []string{"allocation", "available"}

var positive = knownvalue.Int64Func(func(v int64) error {
	if v <= 0 {
		return fmt.Errorf("got %d, want > 0", v)
	}
	return nil
})

// TestAccPool_qemu: a pool on a missing directory of qemu:///system makes
// it; import plans empty; autostart changes in place; a pool stopped
// behind Terraform's back is started again; destroy refuses while a volume
// is there, naming it, and afterwards removes pool and directory.
func TestAccPool_qemu(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	name := acctest.Name("acc-pool")
	dir := filepath.Join(t.TempDir(), "pools", name)
	off := false
	create := poolConfig(db, hostID, acctest.QemuURI, poolBody(name, dir, nil), "")
	manual := poolConfig(db, hostID, acctest.QemuURI, poolBody(name, dir, &off), "")
	hostOnly := hostConfig(db, hostID, acctest.QemuURI)
	t.Cleanup(func() { removeLeftPool(t, acctest.QemuURI, name, "held.qcow2") })
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkPoolGone(acctest.QemuURI, name),
		Steps: []resource.TestStep{
			{
				Config: create,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(poolAddr, plancheck.ResourceActionCreate),
						plancheck.ExpectKnownValue(poolAddr, tfjsonpath.New("autostart"), knownvalue.Bool(true)),
						plancheck.ExpectKnownValue(poolAddr, tfjsonpath.New("active"), knownvalue.Bool(true)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					poolState("id", knownvalue.StringExact(hostID+"/"+name)),
					poolState("path", knownvalue.StringExact(dir)),
					poolState("uuid", knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f-]{36}$`))),
					poolState("active", knownvalue.Bool(true)),
					poolState("autostart", knownvalue.Bool(true)),
					poolState("capacity", positive),
					poolState("available", positive),
				},
				Check: isDir(dir, true),
			},
			{
				ResourceName: poolAddr, ImportState: true, ImportStateId: hostID + "/" + name, ImportStateVerify: true,
				ImportStateVerifyIgnore: fsUsage,
			},
			{Config: create, ResourceName: poolAddr, ImportState: true, ImportStateId: hostID + "/" + name, ImportStateKind: resource.ImportBlockWithID},
			{
				Config: manual,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(poolAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{poolState("autostart", knownvalue.Bool(false))},
			},
			{
				PreConfig: func() { mustPool(t, acctest.QemuURI, name, stopPool) },
				Config:    manual,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(poolAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(poolAddr, tfjsonpath.New("active"), knownvalue.Bool(true)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{poolState("active", knownvalue.Bool(true))},
			},
			{
				PreConfig: func() {
					mustPool(t, acctest.QemuURI, name, func(l *libvirt.Libvirt, p libvirt.StoragePool) error {
						_, err := l.StorageVolCreateXML(p, "<volume><name>held.qcow2</name><capacity>1048576</capacity><target><format type='qcow2'/></target></volume>", 0)
						return err
					})
				},
				Config:      hostOnly,
				ExpectError: regexp.MustCompile(`(?s)still holds 1 volume\(s\):\s+held\.qcow2.*Nothing was removed`),
			},
			{
				PreConfig: func() { deleteVolume(t, acctest.QemuURI, name, "held.qcow2") },
				Config:    hostOnly,
				Check:     resource.ComposeTestCheckFunc(checkPoolGone(acctest.QemuURI, name), isDir(dir, false), isDir(filepath.Dir(dir), true)),
			},
		},
	})
}

// TestAccPool_existingDirWithVolume: a pool on an existing directory with
// a virtumancer_volume in it; destroy removes the volume first, then the
// pool, and keeps the directory, which the provider did not make.
func TestAccPool_existingDirWithVolume(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	name := acctest.Name("acc-pool")
	dir := t.TempDir()
	vol := `
resource "virtumancer_volume" "v" {
  host_id  = virtumancer_host.h.id
  pool     = virtumancer_pool.p.name
  name     = "disk.qcow2"
  capacity = 4
}
`
	config := poolConfig(db, hostID, acctest.QemuURI, poolBody(name, dir, nil), vol)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             resource.ComposeTestCheckFunc(checkPoolGone(acctest.QemuURI, name), isDir(dir, true)),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("path"), knownvalue.StringExact(dir+"/disk.qcow2")),
				},
			},
			{
				ResourceName: poolAddr, ImportState: true, ImportStateId: hostID + "/" + name, ImportStateVerify: true,
				ImportStateVerifyIgnore: fsUsage,
			},
		},
	})
}

// TestAccPool_testDriver: breadth on test:///default, which touches no
// file system (the directory is never made): create, import, a pool
// removed behind Terraform's back is planned again, a new path replaces
// it, destroy.
func TestAccPool_testDriver(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	name := acctest.Name("acc-pool")
	dir := "/" + name
	config := poolConfig(db, hostID, acctest.TestURI, poolBody(name, dir, nil), "")
	moved := poolConfig(db, hostID, acctest.TestURI, poolBody(name, dir+"-moved", nil), "")
	sameUUID := statecheck.CompareValue(compare.ValuesSame())
	newUUID := statecheck.CompareValue(compare.ValuesDiffer())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkPoolGone(acctest.TestURI, name),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					poolState("path", knownvalue.StringExact(dir)),
					poolState("active", knownvalue.Bool(true)),
					poolState("capacity", knownvalue.Int64Exact(102400)), // the test driver's fixed 100 GiB
					poolState("allocation", knownvalue.Int64Exact(0)),
					sameUUID.AddStateValue(poolAddr, tfjsonpath.New("uuid")),
					newUUID.AddStateValue(poolAddr, tfjsonpath.New("uuid")),
				},
				Check: isDir(dir, false),
			},
			{
				// Same configuration: nothing changes, the uuid stays.
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{sameUUID.AddStateValue(poolAddr, tfjsonpath.New("uuid"))},
			},
			{ResourceName: poolAddr, ImportState: true, ImportStateId: hostID + "/" + name, ImportStateVerify: true},
			{
				PreConfig: func() {
					mustPool(t, acctest.TestURI, name, func(l *libvirt.Libvirt, p libvirt.StoragePool) error {
						if err := l.StoragePoolDestroy(p); err != nil {
							return err
						}
						return l.StoragePoolUndefine(p)
					})
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(poolAddr, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{newUUID.AddStateValue(poolAddr, tfjsonpath.New("uuid"))},
			},
			{
				// A new path replaces the pool: a new uuid.
				Config: moved,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(poolAddr, plancheck.ResourceActionDestroyBeforeCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					poolState("path", knownvalue.StringExact(dir+"-moved")),
					newUUID.AddStateValue(poolAddr, tfjsonpath.New("uuid")),
				},
			},
		},
	})
}

// TestAccPool_badInput: mistakes known at plan time are attribute errors
// then; a path that is a file fails the apply before anything is defined.
func TestAccPool_badInput(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	name := acctest.Name("acc-pool")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("not a pool"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := func(name, path string) string {
		return poolConfig(db, hostID, acctest.QemuURI, poolBody(name, path, nil), "")
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkPoolGone(acctest.QemuURI, name),
		Steps: []resource.TestStep{
			{Config: cfg(name, "pools/images"), PlanOnly: true, ExpectError: regexp.MustCompile(`(?s)Invalid pool path.*"pools/images" is\s+relative`)},
			{Config: cfg(name, "/srv/pools/"), PlanOnly: true, ExpectError: regexp.MustCompile(`(?s)not in its clean form; use\s+"/srv/pools"`)},
			{Config: cfg("", "/srv/pools"), PlanOnly: true, ExpectError: regexp.MustCompile(`must be non-empty and contain no '/'`)},
			{Config: cfg(name, file), ExpectError: regexp.MustCompile(`(?s)Pool path is not a directory.*Nothing was defined`)},
			{
				Config: hostConfig(db, hostID, acctest.QemuURI),
				Check:  checkPoolGone(acctest.QemuURI, name),
			},
		},
	})
}

// TestAccPool_hostUnreachableOnRead: refresh of a pool whose host stops
// answering is an error that keeps the state; once the host is back the
// plan is empty and destroy works.
func TestAccPool_hostUnreachableOnRead(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	name := acctest.Name("acc-pool")
	st := storetest.Open(t, db)
	ctx := storetest.Ctx(t)
	if err := st.CreateHost(ctx, store.Host{ID: hostID, URI: acctest.TestURI}); err != nil {
		t.Fatal(err)
	}
	cfg := acctest.ProviderConfig(db) + fmt.Sprintf(`
resource "virtumancer_pool" "p" {
  host_id = %q
  name    = %q
  path    = "/%s"
}
`, hostID, name, name)
	setURI := func(uri string) func() {
		return func() {
			if err := st.PutHost(ctx, store.Host{ID: hostID, URI: uri}); err != nil {
				t.Fatal(err)
			}
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkPoolGone(acctest.TestURI, name),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig:   setURI(unreachableURI),
				Config:      cfg,
				PlanOnly:    true,
				ExpectError: expectErr("Unable to reach the host", hostID),
			},
			{
				PreConfig: setURI(acctest.TestURI),
				Config:    cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{poolState("path", knownvalue.StringExact("/"+name))},
			},
		},
	})
}

// TestAccPool_importByIdentity: the identity {host_id, name} is recorded,
// and `import { identity = ... }` brings the pool in with an empty plan.
// Resource identity needs Terraform/OpenTofu 1.12: the version check skips
// this test on an older CLI (terraform 1.11 here), which has no identity.
func TestAccPool_importByIdentity(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	name := acctest.Name("acc-pool")
	config := poolConfig(db, hostID, acctest.TestURI, poolBody(name, "/"+name, nil), "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_12_0)},
		CheckDestroy:             checkPoolGone(acctest.TestURI, name),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentity(poolAddr, map[string]knownvalue.Check{
						"host_id": knownvalue.StringExact(hostID),
						"name":    knownvalue.StringExact(name),
					}),
				},
			},
			{Config: config, ResourceName: poolAddr, ImportState: true, ImportStateKind: resource.ImportBlockWithResourceIdentity},
		},
	})
}
