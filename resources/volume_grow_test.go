package resources_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/testguest"
	"github.com/virtumancer/terraform-provider-virtumancer/resources"
)

// Volumes keep their data (issue 9, point 3), on qemu:///system with the
// tiny guest running: names start with vol-.

const (
	dataAddr  = "virtumancer_volume.data"
	spareAddr = "virtumancer_volume.spare"
)

// growEnv is the world of TestAccVolume_growKeepsData: the guest's pool,
// base and overlay, a raw data volume attached to the running VM and a
// raw spare volume attached to nothing, both filled from files.
type growEnv struct {
	*vmEnv
	id, dir             string
	dataFile, spareFile string
	domainID            int32
}

func newGrowEnv(t *testing.T) *growEnv {
	e := &growEnv{vmEnv: newVMEnv(t, acctest.QemuURI), id: acctest.Name("vol")}
	e.dir = filepath.Join("/var/lib/virtumancer-test", e.id)
	files := t.TempDir()
	e.dataFile, e.spareFile = filepath.Join(files, "data.img"), filepath.Join(files, "spare.img")
	t.Cleanup(func() { e.removeDomain(e.id); removePool(e.vmEnv, e.id, e.dir) })
	return e
}

func (e *growEnv) config(dataMiB, spareMiB int) string {
	return e.hostHCL() + guestStorageHCL(e.id, e.dir, e.id+"-base.raw", testguest.Image(e.t), e.id+"-root.qcow2") + fmt.Sprintf(`
resource "virtumancer_volume" "data" {
  host_id  = virtumancer_host.h.id
  pool     = virtumancer_pool.p.name
  name     = "%[1]s-data.raw"
  format   = "raw"
  source   = %[2]q
  capacity = %[3]d
}

resource "virtumancer_volume" "spare" {
  host_id  = virtumancer_host.h.id
  pool     = virtumancer_pool.p.name
  name     = "%[1]s-spare.raw"
  format   = "raw"
  source   = %[4]q
  capacity = %[5]d
}

resource "virtumancer_vm" "t" {
  host_id          = virtumancer_host.h.id
  name             = %[1]q
  domain_type      = "qemu"
  memory           = 128
  vcpu             = 1
  graphics         = "none"
  shutdown_timeout = "5s"

  disk {
    pool   = virtumancer_volume.root.pool
    volume = virtumancer_volume.root.name
  }
  disk {
    pool   = virtumancer_volume.data.pool
    volume = virtumancer_volume.data.name
  }
}
`, e.id, e.dataFile, dataMiB, e.spareFile, spareMiB)
}

// volPath is where the pool keeps one of the test's volumes.
func (e *growEnv) volPath(suffix string) string { return filepath.Join(e.dir, e.id+suffix) }

// head downloads the first n bytes of the volume through libvirt.
func (e *growEnv) head(suffix string, n int) ([]byte, error) {
	v, err := e.lv.StorageVolLookupByPath(e.volPath(suffix))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := e.lv.StorageVolDownload(v, &buf, 0, uint64(n), 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (e *growEnv) keeps(suffix string, want []byte) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := e.head(suffix, len(want))
		if err != nil {
			return fmt.Errorf("download %s: %w", suffix, err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("volume %s%s no longer starts with the bytes the test wrote", e.id, suffix)
		}
		return nil
	}
}

// sizes checks what the pool says of the volume and, when live, what the
// running domain sees of it as a disk.
func (e *growEnv) sizes(suffix string, mib uint64, live bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		v, err := e.lv.StorageVolLookupByPath(e.volPath(suffix))
		if err != nil {
			return err
		}
		_, capacity, _, err := e.lv.StorageVolGetInfo(v)
		switch {
		case err != nil:
			return err
		case capacity != mib<<20:
			return fmt.Errorf("volume %s: capacity %d bytes, want %d MiB", suffix, capacity, mib)
		}
		if !live {
			return nil
		}
		d, err := e.lv.DomainLookupByName(e.id)
		if err != nil {
			return err
		}
		_, capacity, _, err = e.lv.DomainGetBlockInfo(d, e.volPath(suffix), 0)
		switch {
		case err != nil:
			return err
		case capacity != mib<<20:
			return fmt.Errorf("running domain sees %s as %d bytes, want %d MiB", suffix, capacity, mib)
		}
		return nil
	}
}

// sameDomain records the running domain's id at the first call and fails
// when a later call sees another (it was restarted).
func (e *growEnv) sameDomain() resource.TestCheckFunc {
	return func(*terraform.State) error {
		d, err := e.lv.DomainLookupByName(e.id)
		switch {
		case err != nil:
			return err
		case d.ID <= 0:
			return fmt.Errorf("domain %s is not running", e.id)
		case e.domainID == 0:
			e.domainID = d.ID
		case d.ID != e.domainID:
			return fmt.Errorf("domain %s has id %d, was %d: it was restarted", e.id, d.ID, e.domainID)
		}
		return nil
	}
}

// TestAccVolume_growKeepsData: a raw volume filled by the test and attached
// to the running tiny guest grows live (the guest's disk grows, the domain
// keeps its id), an unattached one grows offline, neither is replaced and
// both keep their bytes; a shrink fails at plan time, naming the VM that
// uses the volume; replacing that volume (new content, or a taint with a
// smaller capacity) fails before anything is deleted, naming the VM, and
// the data stays; the final destroy removes the VM and every volume.
func TestAccVolume_growKeepsData(t *testing.T) {
	acctest.PreCheck(t)
	e := newGrowEnv(t)
	data, spare := randomBytes(t, 1<<20+7), randomBytes(t, 1<<20)
	writeFile(t, e.dataFile, data)
	writeFile(t, e.spareFile, spare)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			func(*terraform.State) error {
				if e.domainExists(e.id) {
					return fmt.Errorf("domain %s still defined after destroy", e.id)
				}
				return nil
			},
			checkPoolGone(acctest.QemuURI, e.id), isDir(e.dir, false)),
		Steps: []resource.TestStep{
			{
				Config: e.config(4, 4),
				Check: resource.ComposeTestCheckFunc(e.sameDomain(), e.keeps("-data.raw", data), e.keeps("-spare.raw", spare),
					e.sizes("-data.raw", 4, true),
					destroyWarns(e.db, e.hostID, e.id, e.id+"-data.raw", fmt.Sprintf("VM %q", e.id)),
					destroyWarns(e.db, e.hostID, e.id, e.id+"-base.raw", fmt.Sprintf(`volume "%[1]s/%[1]s-root.qcow2"`, e.id))),
			},
			{
				Config: e.config(8, 6),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(dataAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(spareAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionNoop),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(dataAddr, tfjsonpath.New("capacity"), knownvalue.Int64Exact(8)),
					statecheck.ExpectKnownValue(spareAddr, tfjsonpath.New("capacity"), knownvalue.Int64Exact(6)),
				},
				Check: resource.ComposeTestCheckFunc(e.sameDomain(), e.keeps("-data.raw", data), e.keeps("-spare.raw", spare),
					e.sizes("-data.raw", 8, true), e.sizes("-spare.raw", 6, false)),
			},
			{
				Config:   e.config(6, 6),
				PlanOnly: true,
				ExpectError: expectErr("Volume capacity cannot shrink", fmt.Sprintf(`capacity 6 MiB is less than the 8 MiB volume "%[1]s-data.raw" holds: `+
					"shrinking would lose the data past the new end. Keep capacity at 8 or more. To shrink, replace the volume deliberately: "+
					"give it a new name (a new, empty volume is created and this one destroyed), or destroy it first with "+
					"`terraform destroy -target=<this resource>` (`-replace` with the smaller capacity meets this check too). "+
					"It is used now by VM %[1]q: a replacement fails as well until nothing uses it", e.id)),
			},
			{
				// New content replaces the volume, which the running VM uses.
				PreConfig:   func() { writeFile(t, e.dataFile, randomBytes(t, 1<<20)) },
				Config:      e.config(8, 6),
				ExpectError: expectErr("Volume is in use", fmt.Sprintf(`volume "%[1]s-data.raw" of pool %[1]q is still used by VM %[1]q; nothing was deleted`, e.id)),
			},
			{
				PreConfig: func() {
					if err := e.keeps("-data.raw", data)(nil); err != nil {
						t.Errorf("after the refused replacement: %v", err)
					}
					writeFile(t, e.dataFile, data)
				},
				Config: e.config(8, 6),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: e.sameDomain(),
			},
			{
				// A forced replacement (a taint; -replace meets the shrink
				// check above first) with a smaller capacity plans a new
				// volume; the apply refuses to delete the one in use.
				Taint:       []string{dataAddr},
				Config:      e.config(6, 6),
				ExpectError: expectErr("Volume is in use", fmt.Sprintf(`volume "%[1]s-data.raw" of pool %[1]q is still used by VM %[1]q; nothing was deleted`, e.id)),
			},
			{
				RefreshState:       true,
				ExpectNonEmptyPlan: true, // still tainted
				Check:              resource.ComposeTestCheckFunc(e.keeps("-data.raw", data), e.sizes("-data.raw", 8, true), e.sameDomain()),
			},
		},
	})
}

// destroyWarns checks that a plan destroying the volume at pool/name
// warns that it is in use and names each of users.
func destroyWarns(db, hostID, pool, name string, users ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		st, err := store.Open(db, store.Options{})
		if err != nil {
			return err
		}
		defer st.Close()
		hp := hypervisor.NewPool(hypervisor.Options{})
		defer hp.Close()
		data := &providerdata.Data{Store: st, Pool: hp, CallTimeout: 30 * time.Second}
		diags := resources.VolumeDestroyWarningsForTest(context.Background(), data, hostID, pool, name)
		if len(diags) != 1 || diags[0].Severity() != diag.SeverityWarning || diags[0].Summary() != "Volume "+name+" is in use" {
			return fmt.Errorf("destroy plan of %s said %v, want one warning that it is in use", name, diags)
		}
		for _, want := range append(users, "replace_triggered_by = [<this volume>.path]", "terraform destroy") {
			if !strings.Contains(diags[0].Detail(), want) {
				return fmt.Errorf("destroy warning %q does not name %q", diags[0].Detail(), want)
			}
		}
		return nil
	}
}
