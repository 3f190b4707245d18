package resources_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
	"github.com/virtumancer/terraform-provider-virtumancer/resources"
)

// vmRes is the address every VM test names its VM by.
const vmRes = "virtumancer_vm.t"

// vmEnv is one VM test's world: its own store file, one host in it, and a
// raw libvirt connection for changes made behind Terraform's back.
type vmEnv struct {
	t      *testing.T
	db     string
	hostID string
	uri    string
	lv     *libvirt.Libvirt
}

func newVMEnv(t *testing.T, uri string) *vmEnv {
	t.Helper()
	l, err := acctest.Dial(uri)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Disconnect() })
	return &vmEnv{t: t, db: acctest.StoreLocation(t), hostID: "h", uri: uri, lv: l}
}

// hostHCL is the provider block and the virtumancer_host every VM uses.
func (e *vmEnv) hostHCL() string {
	return acctest.ProviderConfig(e.db) + fmt.Sprintf(`
resource "virtumancer_host" "h" {
  id  = %q
  uri = %q
}
`, e.hostID, e.uri)
}

// name returns a fresh acc- domain name that is undefined again when the
// test ends, whatever happened to it.
func (e *vmEnv) name() string {
	n := acctest.Name("acc")
	e.t.Cleanup(func() { e.removeDomain(n) })
	return n
}

func (e *vmEnv) removeDomain(name string) {
	d, err := e.lv.DomainLookupByName(name)
	if err != nil {
		return
	}
	_ = e.lv.DomainDestroy(d)
	if err := e.lv.DomainUndefineFlags(d, libvirt.DomainUndefineManagedSave|libvirt.DomainUndefineSnapshotsMetadata); err != nil {
		_ = e.lv.DomainUndefine(d)
	}
}

// openStore opens the test's store file beside the provider's handle.
func (e *vmEnv) openStore() *store.Store {
	e.t.Helper()
	st, err := store.Open(e.db, store.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *vmEnv) row(name string) (store.VM, error) {
	st := e.openStore()
	defer st.Close()
	return st.GetVM(context.Background(), e.hostID, name)
}

// checkRow asserts on the VM's recorded configuration in the store.
func (e *vmEnv) checkRow(name string, check func(store.VM) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		vm, err := e.row(name)
		if err != nil {
			return err
		}
		if vm.ConfigErr != nil {
			return vm.ConfigErr
		}
		return check(vm)
	}
}

// recordedMemory checks the recorded memory in KiB.
func recordedMemory(kib uint64) func(store.VM) error {
	return func(vm store.VM) error {
		if vm.Config.Memory != kib {
			return fmt.Errorf("row %d records memory %d KiB, want %d", vm.ID, vm.Config.Memory, kib)
		}
		return nil
	}
}

// configJSON checks the config_json attribute: it must parse as VMInfo and
// satisfy check.
func configJSON(check func(vminfo.VMInfo) error) knownvalue.Check {
	return knownvalue.StringFunc(func(s string) error {
		v, err := vminfo.Parse([]byte(s))
		if err != nil {
			return err
		}
		return check(v)
	})
}

func jsonMemory(kib uint64) func(vminfo.VMInfo) error {
	return func(v vminfo.VMInfo) error {
		if v.Memory != kib || v.MaxMem < kib {
			return fmt.Errorf("config_json memory %d KiB (max %d), want %d", v.Memory, v.MaxMem, kib)
		}
		return nil
	}
}

func attr(name string) tfjsonpath.Path { return tfjsonpath.New(name) }

func expect(name string, v knownvalue.Check) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(vmRes, attr(name), v)
}

// redefine changes the domain's persistent definition out of band, as
// `virsh edit` would.
func (e *vmEnv) redefine(name string, edit func(*libvirtxml.Domain)) {
	e.t.Helper()
	d, err := e.lv.DomainLookupByName(name)
	if err != nil {
		e.t.Fatalf("look up %s: %v", name, err)
	}
	x, err := e.lv.DomainGetXMLDesc(d, libvirt.DomainXMLInactive)
	if err != nil {
		e.t.Fatal(err)
	}
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(x); err != nil {
		e.t.Fatal(err)
	}
	edit(&dom)
	out, err := dom.Marshal()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.lv.DomainDefineXML(out); err != nil {
		e.t.Fatalf("redefine %s: %v", name, err)
	}
}

func (e *vmEnv) domain(name string) libvirt.Domain {
	e.t.Helper()
	d, err := e.lv.DomainLookupByName(name)
	if err != nil {
		e.t.Fatalf("look up %s: %v", name, err)
	}
	return d
}

func (e *vmEnv) inactiveXML(name string) string {
	e.t.Helper()
	x, err := e.lv.DomainGetXMLDesc(e.domain(name), libvirt.DomainXMLInactive)
	if err != nil {
		e.t.Fatal(err)
	}
	return x
}

func (e *vmEnv) domainExists(name string) bool {
	_, err := e.lv.DomainLookupByName(name)
	return err == nil
}

// readVM runs the resource's Read directly and returns its diagnostics.
func (e *vmEnv) readVM(name string) diag.Diagnostics {
	st := e.openStore()
	defer st.Close()
	pool := hypervisor.NewPool(hypervisor.Options{})
	defer pool.Close()
	data := &providerdata.Data{Store: st, Pool: pool, CallTimeout: 30 * time.Second}
	diags, _ := resources.ReadVMForTest(context.Background(), data, e.hostID, name)
	return diags
}

// expectDriftWarning checks that a refresh warns about drift on the VM and
// names each field with its recorded and live values.
func (e *vmEnv) expectDriftWarning(name string, fields ...[3]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		diags := e.readVM(name)
		if diags.HasError() {
			return fmt.Errorf("read failed: %v", diags)
		}
		for _, d := range diags.Warnings() {
			if !strings.Contains(d.Summary(), "Drift detected") || !strings.Contains(d.Summary(), name) {
				continue
			}
			for _, f := range fields {
				want := fmt.Sprintf("%s %s -> %s", f[0], f[1], f[2]) // the user's words: attribute and unit
				if !strings.Contains(d.Detail(), want) {
					return fmt.Errorf("drift warning %q lacks %q", d.Detail(), want)
				}
			}
			return nil
		}
		return fmt.Errorf("no drift warning for %s among %v", name, diags)
	}
}

// checkNoDriftWarning checks that a refresh is silent.
func (e *vmEnv) checkNoWarning(name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if diags := e.readVM(name); len(diags) > 0 {
			return fmt.Errorf("refresh reported %v, want nothing", diags)
		}
		return nil
	}
}

// driftEntry matches one element of the drift attribute in legacy state.
func driftEntry(attribute, recorded, live string) resource.TestCheckFunc {
	return resource.TestCheckTypeSetElemNestedAttrs(vmRes, "drift.*", map[string]string{
		"attribute": attribute, "recorded": recorded, "live": live,
	})
}
