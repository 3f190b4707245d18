package resources_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// resumeEnv is vmEnv with rs- names and what an interrupted create leaves.
type resumeEnv struct {
	*vmEnv
	vol string // the disk volume both VMs use, made by the configuration
}

func (e resumeEnv) rsName(purpose string) string {
	n := acctest.Name("rs-" + purpose)
	e.t.Cleanup(func() { e.removeDomain(n) })
	return n
}

// leftover defines name as an interrupted create leaves it: marked, with
// 32 MiB, and (when running) started with autostart on.
func (e resumeEnv) leftover(name string, marked, running bool) string {
	e.t.Helper()
	doc := fmt.Sprintf(`<domain type="test"><name>%s</name><memory unit="MiB">32</memory><vcpu>1</vcpu>`+
		`<os><type arch="x86_64">hvm</type></os></domain>`, name)
	if marked {
		var err error
		if doc, err = hypervisor.WithCreateMark(doc); err != nil {
			e.t.Fatal(err)
		}
	}
	d, err := e.lv.DomainDefineXML(doc)
	if err != nil {
		e.t.Fatal(err)
	}
	if running {
		if err := e.lv.DomainCreate(d); err != nil {
			e.t.Fatal(err)
		}
		if err := e.lv.DomainSetAutostart(d, 1); err != nil {
			e.t.Fatal(err)
		}
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", d.UUID[0:4], d.UUID[4:6], d.UUID[6:8], d.UUID[8:10], d.UUID[10:])
}

// consoleLeftover makes the console log volume a create made before it was
// interrupted, and removes it when the test ends.
func (e resumeEnv) consoleLeftover(vm string) {
	e.t.Helper()
	p, err := e.lv.StoragePoolLookupByName("default-pool")
	if err != nil {
		e.t.Fatal(err)
	}
	name := vm + "-console.log"
	if _, err := e.lv.StorageVolCreateXML(p, fmt.Sprintf(`<volume><name>%s</name><capacity>0</capacity>`+
		`<target><format type="raw"/></target></volume>`, name), 0); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if v, err := e.lv.StorageVolLookupByName(p, name); err == nil {
			_ = e.lv.StorageVolDelete(v, 0)
		}
	})
}

func (e resumeEnv) marked(name string) (bool, error) {
	doc, err := e.lv.DomainGetMetadata(e.domain(name), int32(libvirt.DomainMetadataElement),
		libvirt.OptString{hypervisor.CreateMarkURI}, libvirt.DomainAffectConfig)
	var le libvirt.Error
	if errors.As(err, &le) && le.Code == uint32(libvirt.ErrNoDomainMetadata) {
		return false, nil
	}
	return doc != "", err
}

func (e resumeEnv) config(names ...string) string {
	hcl := e.hostHCL() + fmt.Sprintf(`
resource "virtumancer_volume" "d" {
  host_id  = virtumancer_host.h.id
  pool     = "default-pool"
  name     = %q
  capacity = 1
}
`, e.vol)
	for i, n := range names {
		hcl += fmt.Sprintf(`
resource "virtumancer_vm" "v%d" {
  host_id  = virtumancer_host.h.id
  name     = %q
  memory   = 64
  vcpu     = 1
  graphics = "none"
  running  = %t
  disk {
    pool   = "default-pool"
    volume = virtumancer_volume.d.name
  }
}
`, i, n, i == 0)
	}
	return hcl
}

// TestAccVM_resumeTakeOver: two domains an interrupted create left (marked;
// one running with autostart on, a store row and its console log, one shut
// off with nothing else) are taken over by the next apply: same uuid, the
// planned memory, power and autostart, the row updated in place (same id),
// the console log made anew. The first refresh clears both marks. A domain
// without the mark is still refused, by the plan already, with the import
// command.
func TestAccVM_resumeTakeOver(t *testing.T) {
	acctest.PreCheck(t)
	e := resumeEnv{vmEnv: newVMEnv(t, acctest.TestURI)}
	e.vol = acctest.Name("rs-disk")
	a, b, c := e.rsName("a"), e.rsName("b"), e.rsName("c")
	var uuidA, uuidB string
	var rowA store.VM
	sameUUID := func(u *string) knownvalue.Check {
		return knownvalue.StringFunc(func(v string) error {
			if !strings.EqualFold(v, *u) {
				return fmt.Errorf("uuid %s, want the leftover's %s", v, *u)
			}
			return nil
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: e.config(),
				Check: func(*terraform.State) error {
					uuidA, uuidB = e.leftover(a, true, true), e.leftover(b, true, false)
					e.consoleLeftover(a)
					st := storetest.Open(t, e.db)
					var err error
					rowA, err = st.UpsertVM(context.Background(), e.hostID, a, vminfo.VMInfo{Name: a, UUID: uuidA, Memory: 32 * 1024, MaxMem: 32 * 1024, Vcpu: 1})
					return err
				},
			},
			{
				Config: e.config(a, b),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("virtumancer_vm.v0", attr("uuid"), sameUUID(&uuidA)),
					statecheck.ExpectKnownValue("virtumancer_vm.v1", attr("uuid"), sameUUID(&uuidB)),
					statecheck.ExpectKnownValue("virtumancer_vm.v0", attr("state"), knownvalue.StringExact("running")),
					statecheck.ExpectKnownValue("virtumancer_vm.v1", attr("state"), knownvalue.StringExact("shut off")),
					statecheck.ExpectKnownValue("virtumancer_vm.v0", attr("console_log"), knownvalue.StringRegexp(
						regexp.MustCompile(regexp.QuoteMeta("/"+a+"-console.log")+"$"))),
				},
				Check: resource.ComposeTestCheckFunc(
					e.checkRow(a, func(vm store.VM) error {
						if vm.ID != rowA.ID {
							return fmt.Errorf("row of %s has id %d, want the interrupted create's %d", a, vm.ID, rowA.ID)
						}
						return recordedMemory(64 * 1024)(vm)
					}),
					e.checkRow(b, recordedMemory(64*1024)),
					func(*terraform.State) error {
						if auto, err := e.lv.DomainGetAutostart(e.domain(a)); err != nil || auto != 0 {
							return fmt.Errorf("autostart of %s = %d (%w), want off as planned", a, auto, err)
						}
						return nil
					},
				),
			},
			{
				Config: e.config(a, b), // refreshed: read from state, so the marks go
				Check: func(*terraform.State) error {
					for _, n := range []string{a, b} {
						if m, err := e.marked(n); err != nil || m {
							return fmt.Errorf("%s still marked (%w) after a refresh read it from state", n, err)
						}
					}
					e.leftover(c, false, false)
					return nil
				},
			},
			{
				Config: e.config(a, b, c), // the plan warns; the apply refuses
				ExpectError: expectErr(`Domain already exists`, fmt.Sprintf(`domain %q already exists on host "h"; import it with`, c),
					"`terraform import virtumancer_vm.NAME h/"+c+"`"),
			},
		},
	})
}

// TestAccHost_resumeTakeOver: a host row left by a create killed after it
// wrote the row (same id and uri) is taken over; the row is unchanged and
// its VM rows kept. The same id at another uri is refused, naming both.
func TestAccHost_resumeTakeOver(t *testing.T) {
	acctest.PreCheck(t)
	db := acctest.StoreLocation(t)
	id := acctest.Name("rs-host")
	st := storetest.Open(t, db)
	if err := st.CreateHost(storetest.Ctx(t), store.Host{ID: id, URI: acctest.TestURI}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertVM(storetest.Ctx(t), id, "rs-kept", vminfo.VMInfo{Name: "rs-kept", Memory: 1024, MaxMem: 1024, Vcpu: 1}); err != nil {
		t.Fatal(err)
	}
	other := acctest.Name("rs-host")
	if err := st.CreateHost(storetest.Ctx(t), store.Host{ID: other, URI: acctest.QemuURI}); err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: hostConfig(db, id, acctest.TestURI),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("virtumancer_host.h", attr("driver"), knownvalue.StringExact("TEST")),
				},
				Check: resource.ComposeTestCheckFunc(
					checkHostRow(t, db, id, acctest.TestURI),
					func(*terraform.State) error {
						if _, err := st.GetVM(storetest.Ctx(t), id, "rs-kept"); err != nil {
							return fmt.Errorf("the host's VM row after the take-over: %w", err)
						}
						return nil
					},
				),
			},
			{
				Config: hostConfig(db, id, acctest.TestURI) + fmt.Sprintf(`
resource "virtumancer_host" "o" {
  id  = %q
  uri = %q
}
`, other, acctest.TestURI),
				ExpectError: expectErr("Host already exists", fmt.Sprintf("already has a host with id %q, at uri %s; this configuration gives it uri %s",
					other, acctest.QemuURI, acctest.TestURI)),
			},
		},
	})
}
