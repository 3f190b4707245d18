package resources_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
)

// Pools of the two local drivers (SPEC 6).
const (
	testPool = "default-pool"
	qemuPool = "default"
)

const volAddr = "virtumancer_volume.v"

// volumeConfig is a host plus one volume with the given body.
func volumeConfig(db, hostID, uri, body string) string {
	return hostConfig(db, hostID, uri) + fmt.Sprintf(`
resource "virtumancer_volume" "v" {
  host_id = virtumancer_host.h.id
%s
}
`, body)
}

// volumeExists reports whether the pool has the volume, asked out of band.
func volumeExists(uri, pool, name string) (bool, error) {
	l, err := acctest.Dial(uri)
	if err != nil {
		return false, err
	}
	defer func() { _ = l.Disconnect() }()
	p, err := l.StoragePoolLookupByName(pool)
	if err != nil {
		return false, err
	}
	_, err = l.StorageVolLookupByName(p, name)
	var lerr libvirt.Error
	if errors.As(err, &lerr) && libvirt.ErrorNumber(lerr.Code) == libvirt.ErrNoStorageVol {
		return false, nil
	}
	return err == nil, err
}

func checkVolumeGone(uri, pool, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ok, err := volumeExists(uri, pool, name)
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("volume %s/%s still exists", pool, name)
		}
		return nil
	}
}

// deleteVolume removes a volume behind Terraform's back.
func deleteVolume(t *testing.T, uri, pool, name string) {
	t.Helper()
	l, err := acctest.Dial(uri)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Disconnect() }()
	p, err := l.StoragePoolLookupByName(pool)
	if err == nil {
		var v libvirt.StorageVol
		if v, err = l.StorageVolLookupByName(p, name); err == nil {
			err = l.StorageVolDelete(v, 0)
		}
	}
	if err != nil {
		t.Fatalf("delete volume %s/%s: %v", pool, name, err)
	}
}

// TestAccVolume_testDriver: an empty qcow2 volume on the test driver:
// create, import, a larger capacity that is an update in place (which the
// test driver cannot apply: it has no virStorageVolResize), a smaller one
// refused at plan time, a volume deleted behind Terraform's back that is
// created again, destroy.
func TestAccVolume_testDriver(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	name := acctest.Name("acc-vol") + ".qcow2"
	body := func(capacity int) string {
		return fmt.Sprintf("  pool     = %q\n  name     = %q\n  capacity = %d\n", testPool, name, capacity)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkVolumeGone(acctest.TestURI, testPool, name),
		Steps: []resource.TestStep{
			{
				Config: volumeConfig(db, hostID, acctest.TestURI, body(16)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(volAddr, plancheck.ResourceActionCreate),
						plancheck.ExpectKnownValue(volAddr, tfjsonpath.New("format"), knownvalue.StringExact("qcow2")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("id"), knownvalue.StringExact(hostID+"/"+testPool+"/"+name)),
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("capacity"), knownvalue.Int64Exact(16)),
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("format"), knownvalue.StringExact("qcow2")),
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("path"), knownvalue.StringExact("/"+testPool+"/"+name)),
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("base_volume"), knownvalue.Null()),
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("source_sha256"), knownvalue.Null()),
				},
			},
			{
				ResourceName:      volAddr,
				ImportState:       true,
				ImportStateId:     hostID + "/" + testPool + "/" + name,
				ImportStateVerify: true,
			},
			{
				Config: volumeConfig(db, hostID, acctest.TestURI, body(32)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(volAddr, plancheck.ResourceActionUpdate)},
				},
				ExpectError: expectErr("Unable to resize the volume", "not supported by the connection driver: virStorageVolResize", "Nothing was changed"),
			},
			{
				Config:      volumeConfig(db, hostID, acctest.TestURI, body(8)),
				PlanOnly:    true,
				ExpectError: expectErr("Volume capacity cannot shrink", "capacity 8 MiB is less than the 16 MiB volume"),
			},
			{
				PreConfig: func() { deleteVolume(t, acctest.TestURI, testPool, name) },
				Config:    volumeConfig(db, hostID, acctest.TestURI, body(8)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(volAddr, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("capacity"), knownvalue.Int64Exact(8)),
				},
			},
		},
	})
}

// TestAccVolume_baseInUse: on the test driver, destroying a base volume
// that an overlay is backed by is refused naming the overlay, and both
// stay; a destroy of both (the overlay first) works.
func TestAccVolume_baseInUse(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("vol-host")
	base, overlay := acctest.Name("vol-base")+".qcow2", acctest.Name("vol-overlay")+".qcow2"
	baseHCL := fmt.Sprintf(`
resource "virtumancer_volume" "base" {
  host_id  = virtumancer_host.h.id
  pool     = %q
  name     = %q
  capacity = 16
}
`, testPool, base)
	overlayHCL := fmt.Sprintf(`
resource "virtumancer_volume" "v" {
  host_id     = virtumancer_host.h.id
  pool        = %q
  name        = %q
  base_volume = %q
%s}
`, testPool, overlay, base, "%s")
	both := hostConfig(db, hostID, acctest.TestURI) + baseHCL + fmt.Sprintf(overlayHCL, "  depends_on  = [virtumancer_volume.base]\n")
	withoutBase := hostConfig(db, hostID, acctest.TestURI) + fmt.Sprintf(overlayHCL, "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			checkVolumeGone(acctest.TestURI, testPool, base), checkVolumeGone(acctest.TestURI, testPool, overlay)),
		Steps: []resource.TestStep{
			{Config: both, Check: destroyWarns(db, hostID, testPool, base, overlay)},
			{
				Config: withoutBase,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("virtumancer_volume.base", plancheck.ResourceActionDestroy)},
				},
				ExpectError: expectErr("Volume is in use", fmt.Sprintf(
					`volume %q of pool %q is still used by volume "%s/%s" (backed by it); nothing was deleted`, base, testPool, testPool, overlay)),
			},
			{
				Config: both,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// TestAccVolume_upload: a raw image uploaded to qemu:///system's pool; its
// capacity comes from the file; moving the file to another path with the
// same content is an in-place update; import; changing the content
// replaces the volume, whose bytes then match the new file.
func TestAccVolume_upload(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	name := acctest.Name("acc-vol") + ".raw"
	dir := t.TempDir()
	first, moved := filepath.Join(dir, "first.img"), filepath.Join(dir, "moved.img")
	content := randomBytes(t, 2<<20+5) // 2 MiB and 5 bytes: capacity 3 MiB
	writeFile(t, first, content)
	writeFile(t, moved, content)
	body := func(src string) string {
		return fmt.Sprintf("  pool   = %q\n  name   = %q\n  format = \"raw\"\n  source = %q\n", qemuPool, name, src)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkVolumeGone(acctest.QemuURI, qemuPool, name),
		Steps: []resource.TestStep{
			{
				Config: volumeConfig(db, hostID, acctest.QemuURI, body(first)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(volAddr, plancheck.ResourceActionCreate),
						plancheck.ExpectKnownValue(volAddr, tfjsonpath.New("capacity"), knownvalue.Int64Exact(3)),
						plancheck.ExpectKnownValue(volAddr, tfjsonpath.New("source_sha256"), knownvalue.StringExact(sha(content))),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("capacity"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("format"), knownvalue.StringExact("raw")),
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("path"), knownvalue.StringExact("/var/lib/libvirt/images/"+name)),
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("source_sha256"), knownvalue.StringExact(sha(content))),
				},
				Check: checkVolumeContent(name, content),
			},
			{
				Config: volumeConfig(db, hostID, acctest.QemuURI, body(moved)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(volAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(volAddr, tfjsonpath.New("source_sha256"), knownvalue.StringExact(sha(content))),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("source"), knownvalue.StringExact(moved)),
				},
			},
			{
				ResourceName:      volAddr,
				ImportState:       true,
				ImportStateId:     hostID + "/" + qemuPool + "/" + name,
				ImportStateVerify: true,
				// The local file an upload came from is not on the host.
				ImportStateVerifyIgnore: []string{"source", "source_sha256"},
			},
			{
				PreConfig: func() {
					content = randomBytes(t, 1<<20)
					writeFile(t, moved, content)
				},
				Config: volumeConfig(db, hostID, acctest.QemuURI, body(moved)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(volAddr, plancheck.ResourceActionDestroyBeforeCreate),
						plancheck.ExpectKnownValue(volAddr, tfjsonpath.New("capacity"), knownvalue.Int64Exact(1)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(s *terraform.State) error { return checkVolumeContent(name, content)(s) },
			},
		},
	})
}

// TestAccVolume_overlayAndQcow2Source: a qcow2 image made by qemu-img is
// uploaded (capacity from its virtual size), and an overlay on it takes
// the base's capacity; both import cleanly.
func TestAccVolume_overlayAndQcow2Source(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	base, overlay := acctest.Name("acc-vol-base")+".qcow2", acctest.Name("acc-vol-overlay")+".qcow2"
	img := filepath.Join(t.TempDir(), "base.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-f", "qcow2", img, "48M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	cfg := hostConfig(db, hostID, acctest.QemuURI) + fmt.Sprintf(`
resource "virtumancer_volume" "base" {
  host_id = virtumancer_host.h.id
  pool    = %[1]q
  name    = %[2]q
  source  = %[3]q
}

resource "virtumancer_volume" "v" {
  host_id     = virtumancer_host.h.id
  pool        = %[1]q
  name        = %[4]q
  base_volume = virtumancer_volume.base.name
}
`, qemuPool, base, img, overlay)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			checkVolumeGone(acctest.QemuURI, qemuPool, base), checkVolumeGone(acctest.QemuURI, qemuPool, overlay)),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectKnownValue("virtumancer_volume.base", tfjsonpath.New("capacity"), knownvalue.Int64Exact(48)),
						plancheck.ExpectUnknownValue(volAddr, tfjsonpath.New("capacity")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("virtumancer_volume.base", tfjsonpath.New("format"), knownvalue.StringExact("qcow2")),
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("capacity"), knownvalue.Int64Exact(48)),
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("base_volume"), knownvalue.StringExact(base)),
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("format"), knownvalue.StringExact("qcow2")),
				},
			},
			{
				ResourceName:      volAddr,
				ImportState:       true,
				ImportStateId:     hostID + "/" + qemuPool + "/" + overlay,
				ImportStateVerify: true,
			},
		},
	})
}

// TestAccVolume_badInput: mistakes caught at plan time (missing capacity,
// format not matching the image, conflicting attributes) and at apply time
// (unknown host, missing pool, a name taken by a volume Terraform does not
// manage, an unreachable host, a bad import id). None changes the store.
func TestAccVolume_badInput(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	taken := acctest.Name("acc-vol-taken") + ".qcow2"
	rawFile := filepath.Join(t.TempDir(), "disk.img")
	writeFile(t, rawFile, randomBytes(t, 4096))

	st := storetest.Open(t, db)
	ctx := storetest.Ctx(t)
	if err := st.CreateHost(ctx, store.Host{ID: hostID, URI: acctest.TestURI}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateHost(ctx, store.Host{ID: hostID + "-down", URI: unreachableURI}); err != nil {
		t.Fatal(err)
	}
	createTakenVolume(t, taken)
	before := storetest.Snapshot(t, db)

	vol := func(host, body string) string {
		return acctest.ProviderConfig(db) + fmt.Sprintf("resource \"virtumancer_volume\" \"v\" {\n  host_id = %q\n%s}\n", host, body)
	}
	cases := []struct {
		name, config string
		planOnly     bool
		want         *regexp.Regexp
	}{
		{"missing capacity", vol(hostID, fmt.Sprintf("  pool = %q\n  name = \"acc-x\"\n", testPool)), true, expectErr("Missing capacity")},
		{"format mismatch", vol(hostID, fmt.Sprintf("  pool = %q\n  name = \"acc-x\"\n  source = %q\n", testPool, rawFile)), true, expectErr("Source image format does not match", "raw image")},
		{"source and base", vol(hostID, fmt.Sprintf("  pool = %q\n  name = \"acc-x\"\n  source = %q\n  base_volume = \"b\"\n", testPool, rawFile)), true, expectErr("Conflicting attributes")},
		{"missing source file", vol(hostID, fmt.Sprintf("  pool = %q\n  name = \"acc-x\"\n  source = \"/nonexistent/disk.img\"\n", testPool)), true, expectErr("Unable to read the source image", "/nonexistent/disk.img")},
		{"slash in name", vol(hostID, fmt.Sprintf("  pool = %q\n  name = \"a/b\"\n  capacity = 1\n", testPool)), true, expectErr("Invalid Attribute Value Match")},
		{"unknown host", vol("acc-no-such-host", fmt.Sprintf("  pool = %q\n  name = \"acc-x\"\n  capacity = 1\n", testPool)), false, expectErr("Unknown host", "acc-no-such-host")},
		{"unreachable host", vol(hostID+"-down", fmt.Sprintf("  pool = %q\n  name = \"acc-x\"\n  capacity = 1\n", testPool)), false, expectErr("Unable to reach the host", hostID+"-down")},
		{"missing pool", vol(hostID, "  pool = \"acc-no-such-pool\"\n  name = \"acc-x\"\n  capacity = 1\n"), false, expectErr("Storage pool not found", "acc-no-such-pool")},
		{"name taken", vol(hostID, fmt.Sprintf("  pool = %q\n  name = %q\n  capacity = 1\n", testPool, taken)), false, expectErr("Volume already exists", "import")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: tc.config, PlanOnly: tc.planOnly, ExpectError: tc.want,
				}},
			})
		})
	}
	t.Run("bad import id", func(t *testing.T) {
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config:        vol(hostID, fmt.Sprintf("  pool = %q\n  name = \"acc-x\"\n  capacity = 1\n", testPool)),
				ResourceName:  volAddr,
				ImportState:   true,
				ImportStateId: "only/two",
				ExpectError:   expectErr("Invalid import id", "host_id/pool/name"),
			}},
		})
	})
	storetest.Unchanged(t, db, before)
	if ok, err := volumeExists(acctest.TestURI, testPool, "acc-x"); err != nil || ok {
		t.Errorf("volume acc-x: exists=%v err=%v, want none created", ok, err)
	}
}

// TestAccVolume_hostUnreachableOnRead: refresh of a volume whose host stops
// answering is an error that keeps the state; once the host is back the
// plan is empty again and destroy works.
func TestAccVolume_hostUnreachableOnRead(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	hostID := acctest.Name("acc-host")
	name := acctest.Name("acc-vol") + ".qcow2"
	st := storetest.Open(t, db)
	ctx := storetest.Ctx(t)
	if err := st.CreateHost(ctx, store.Host{ID: hostID, URI: acctest.TestURI}); err != nil {
		t.Fatal(err)
	}
	cfg := acctest.ProviderConfig(db) + fmt.Sprintf(`
resource "virtumancer_volume" "v" {
  host_id  = %q
  pool     = %q
  name     = %q
  capacity = 8
}
`, hostID, testPool, name)
	setURI := func(uri string) func() {
		return func() {
			if err := st.PutHost(ctx, store.Host{ID: hostID, URI: uri}); err != nil {
				t.Fatal(err)
			}
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkVolumeGone(acctest.TestURI, testPool, name),
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
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("capacity"), knownvalue.Int64Exact(8)),
				},
			},
		},
	})
}

func createTakenVolume(t *testing.T, name string) {
	t.Helper()
	l, err := acctest.Dial(acctest.TestURI)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Disconnect() }()
	p, err := l.StoragePoolLookupByName(testPool)
	if err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf("<volume><name>%s</name><capacity unit='M'>1</capacity><target><format type='qcow2'/></target></volume>", name)
	if _, err := l.StorageVolCreateXML(p, doc, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteVolume(t, acctest.TestURI, testPool, name) })
}

// checkVolumeContent compares the volume file's first bytes with want (the
// qemu pool is a local directory).
func checkVolumeContent(name string, want []byte) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := os.ReadFile(filepath.Join("/var/lib/libvirt/images", name))
		if err != nil {
			return err
		}
		if len(got) < len(want) || !bytes.Equal(got[:len(want)], want) {
			return errors.New("the volume does not start with the uploaded file's bytes")
		}
		return nil
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestAccVolume_replacedWithVM: on the test driver, the recipe the in-use
// warning gives works: with `replace_triggered_by` on the volume's path, a
// replacement of the volume replaces the VM too (the VM goes first, so
// Delete finds no user), while growing the volume is an update that leaves
// the VM alone (the test driver then cannot resize; the apply says so).
func TestAccVolume_replacedWithVM(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	vm := acctest.Name("vol-vm")
	t.Cleanup(func() { e.removeDomain(vm) })
	vol := vm + ".img"
	config := func(format string, capacity int) string {
		return e.hostHCL() + fmt.Sprintf(`
resource "virtumancer_vm" "t" {
  host_id = virtumancer_host.h.id
  name    = %q
  memory  = 64
  vcpu    = 1
  disk {
    pool   = virtumancer_volume.v.pool
    volume = virtumancer_volume.v.name
  }
  lifecycle {
    replace_triggered_by = [virtumancer_volume.v.path]
  }
}

resource "virtumancer_volume" "v" {
  host_id  = virtumancer_host.h.id
  pool     = %q
  name     = %q
  format   = %q
  capacity = %d
}
`, vm, testPool, vol, format, capacity)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(checkVolumeGone(acctest.TestURI, testPool, vol),
			func(*terraform.State) error {
				if e.domainExists(vm) {
					return fmt.Errorf("domain %s still defined after destroy", vm)
				}
				return nil
			}),
		Steps: []resource.TestStep{
			{Config: config("qcow2", 16)},
			{
				Config: config("raw", 16),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(volAddr, plancheck.ResourceActionDestroyBeforeCreate),
						plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionDestroyBeforeCreate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(volAddr, tfjsonpath.New("format"), knownvalue.StringExact("raw")),
				},
			},
			{
				Config: config("raw", 32),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(volAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionNoop),
					},
				},
				ExpectError: expectErr("Unable to resize the volume", "virStorageVolResize"),
			},
		},
	})
}
