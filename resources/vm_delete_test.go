package resources_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
	"github.com/virtumancer/terraform-provider-virtumancer/resources"
)

// storeLock holds the store's write lock from a second connection, as the
// sync service or a sqlite3 shell with a transaction open would.
type storeLock struct {
	t    *testing.T
	conn *sqlite.Conn
}

func newStoreLock(t *testing.T, db string) *storeLock {
	t.Helper()
	conn, err := sqlite.OpenConn(db, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatalf("open %s: %v", db, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	conn.SetBusyTimeout(10 * time.Second)
	return &storeLock{t: t, conn: conn}
}

func (l *storeLock) exec(q string) {
	l.t.Helper()
	if err := sqlitex.ExecuteTransient(l.conn, q, nil); err != nil {
		l.t.Fatalf("%s: %v", q, err)
	}
}

func (l *storeLock) lock()   { l.exec("BEGIN IMMEDIATE") }
func (l *storeLock) unlock() { l.exec("ROLLBACK") }

// putHost records the test's host directly, so the configs below hold the
// VM alone and removing it from HCL destroys only the VM.
func (e *vmEnv) putHost() {
	e.t.Helper()
	st := e.openStore()
	defer st.Close()
	if err := st.PutHost(context.Background(), store.Host{ID: e.hostID, URI: e.uri}); err != nil {
		e.t.Fatal(err)
	}
}

// rows returns every row of the test's host, soft-deleted ones included.
func (e *vmEnv) rows() []store.VM {
	e.t.Helper()
	st := e.openStore()
	defer st.Close()
	var vms []store.VM
	err := st.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		vms, err = tx.ListVMsWithDeleted(e.hostID)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return vms
}

// deletedRow checks that the VM's only row is soft-deleted.
func (e *vmEnv) deletedRow(name string) error {
	vms := e.rows()
	if len(vms) != 1 || vms[0].Name != name || vms[0].DeletedAt == nil {
		return fmt.Errorf("rows of host %s = %+v, want one soft-deleted row for %s", e.hostID, vms, name)
	}
	return nil
}

// active reports whether the domain exists and runs.
func (e *vmEnv) active(name string) bool {
	d, err := e.lv.DomainLookupByName(name)
	if err != nil {
		return false
	}
	a, err := e.lv.DomainIsActive(d)
	return err == nil && a == 1
}

// TestAccVM_destroyLockedStore: while another connection holds the store's
// write lock, destroy fails with an error naming the store and the lock and
// changes nothing (domain defined and running, row live, store identical);
// once the lock is released, destroy removes both. The delete timeout ends
// the wait early (without it the store's retries give up after ~47s).
func TestAccVM_destroyLockedStore(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	e.db = acctest.StorePath(t) // SQLite's write lock, held by a raw connection
	name := e.name()
	e.putHost()
	lk := newStoreLock(t, e.db)
	config := acctest.ProviderConfig(e.db) + fmt.Sprintf(`
resource "virtumancer_vm" "t" {
  host_id = %q
  name    = %q
  memory  = 64
  vcpu    = 1
  timeouts {
    delete = "8s"
  }
}
`, e.hostID, name)
	var before string

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, Check: e.checkRow(name, recordedMemory(64*1024))},
			{
				PreConfig: func() {
					before = storetest.Snapshot(t, e.db)
					lk.lock()
				},
				Config: acctest.ProviderConfig(e.db),
				// The store's own words name the file and the lock; ours
				// say that nothing changed.
				ExpectError: regexp.MustCompile(`(?s)Unable to delete the VM's row.*store\s+` + regexp.QuoteMeta(e.db) +
					`:\s+write\s+transaction:.*lock.*Nothing\s+was\s+changed`),
			},
			{
				PreConfig: func() {
					lk.unlock()
					if !e.active(name) {
						t.Fatalf("domain %s is not running after the refused destroy", name)
					}
					storetest.Unchanged(t, e.db, before)
					if _, err := e.row(name); err != nil {
						t.Fatalf("row after the refused destroy: %v", err)
					}
				},
				Config: acctest.ProviderConfig(e.db),
				Check: func(*terraform.State) error {
					if e.domainExists(name) {
						return fmt.Errorf("domain %s still exists after destroy", name)
					}
					return e.deletedRow(name)
				},
			},
		},
	})
}

// TestIntegrationVM_deleteRowOfGoneDomain: a live row whose domain is
// already gone (undefined behind Terraform's back, or by a destroy that
// stopped halfway) is soft-deleted by Delete, as `destroy -refresh=false`
// runs it, and a second Delete of the same VM is no error.
func TestIntegrationVM_deleteRowOfGoneDomain(t *testing.T) {
	e := newVMEnv(t, acctest.TestURI)
	name := e.name()
	e.putHost()
	st := storetest.Open(t, e.db)
	ctx := storetest.Ctx(t)
	if _, err := st.UpsertVM(ctx, e.hostID, name, vminfo.VMInfo{Name: name, State: 1, Memory: 65536, MaxMem: 65536, Vcpu: 1}); err != nil {
		t.Fatal(err)
	}
	if e.domainExists(name) {
		t.Fatalf("domain %s exists: the test proves nothing", name)
	}
	pool := hypervisor.NewPool(hypervisor.Options{})
	defer pool.Close()
	data := &providerdata.Data{Store: st, Pool: pool, CallTimeout: 30 * time.Second}
	for i := range 2 {
		if diags := resources.DeleteVMForTest(ctx, data, e.hostID, name); diags.HasError() {
			t.Fatalf("delete %d of a VM whose domain is gone: %v", i+1, diags)
		}
		if err := e.deletedRow(name); err != nil {
			t.Fatalf("after delete %d: %v", i+1, err)
		}
	}
}

// TestAccVM_destroyFailureRestoresRow: when the domain cannot be removed
// (here the delete timeout ends while a real qemu guest ignores the ACPI
// shutdown: a domain with no disk sits in its firmware), the row that was
// soft-deleted first is restored with the same config_json, and the domain
// still runs. A destroy with time enough removes both.
func TestAccVM_destroyFailureRestoresRow(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.QemuURI)
	name := e.name()
	e.putHost()
	vm := func(shutdown, deleteTimeout string) string {
		return acctest.ProviderConfig(e.db) + fmt.Sprintf(`
resource "virtumancer_vm" "t" {
  host_id          = %q
  name             = %q
  domain_type      = "qemu"
  memory           = 64
  vcpu             = 1
  graphics         = "none"
  shutdown_timeout = %q
  timeouts {
    delete = %q
  }
}
`, e.hostID, name, shutdown, deleteTimeout)
	}
	var row store.VM

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: vm("5m", "3s"),
				Check: func(*terraform.State) error {
					var err error
					row, err = e.row(name)
					return err
				},
			},
			{
				Config:      acctest.ProviderConfig(e.db),
				ExpectError: regexp.MustCompile(`(?s)Unable to stop the VM.*row\s+\d+\s+in\s+the\s+store\s+was\s+restored`),
			},
			{
				PreConfig: func() {
					if !e.active(name) {
						t.Fatalf("domain %s is not running after the failed destroy", name)
					}
					got, err := e.row(name)
					if err != nil {
						t.Fatalf("row after the failed destroy: %v", err)
					}
					if got.ID != row.ID || got.ConfigJSON != row.ConfigJSON || got.DeletedAt != nil {
						t.Fatalf("restored row = %d %q (deleted %v), want row %d %q live", got.ID, got.ConfigJSON, got.DeletedAt, row.ID, row.ConfigJSON)
					}
				},
				// Time enough: the destroy at the end forces the guest off
				// after 1s and removes domain and row.
				Config: vm("1s", "1m"),
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if e.domainExists(name) {
				return fmt.Errorf("domain %s still exists after destroy", name)
			}
			return e.deletedRow(name)
		},
	})
}
