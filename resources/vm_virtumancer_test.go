package resources_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest/virtumancer"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// TestAccVM_besideVirtumancer runs Virtumancer's own list-and-sync (its
// FirstOrCreate/Assign rewrite of config_json and its prune) on the same
// store file, over and over, while 30 VMs are applied and 15 removed. No
// row is lost or duplicated, what the provider applied stays the recorded
// configuration (in vmsync_recorded) although config_json keeps being
// rewritten, and the plans stay empty: Virtumancer's UI does not make drift
// vanish, nor invent any.
func TestAccVM_besideVirtumancer(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	prefix := acctest.Name("acc-vmcr")
	for i := range 30 {
		n := fmt.Sprintf("%s-%d", prefix, i)
		t.Cleanup(func() { e.removeDomain(n) })
	}
	config := func(n int) string {
		return e.hostHCL() + fmt.Sprintf(`
resource "virtumancer_vm" "v" {
  count    = %d
  host_id  = virtumancer_host.h.id
  name     = "%s-${count.index}"
  memory   = 64
  vcpu     = 1
  graphics = "none"
}
`, n, prefix)
	}
	w := &virtumancerUI{t: t, lv: e.lv, db: e.db, hostID: e.hostID, prefix: prefix}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{PreConfig: w.start, Config: config(30)},
			{Config: config(15)},
			{
				PreConfig: w.stop,
				Config:    config(15),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error { return checkBesideVirtumancer(t, e, prefix) },
			},
		},
	})
	t.Logf("Virtumancer's list-and-sync ran %d times and logged %d UNIQUE constraint failures (harmless: its "+
		"FirstOrCreate does not see soft-deleted rows and races our insert of a new VM)", w.runs, w.unique)
	if w.runs < 3 {
		t.Errorf("the second writer ran only %d times: the test did not exercise it", w.runs)
	}
}

func checkBesideVirtumancer(t *testing.T, e *vmEnv, prefix string) error {
	st := e.openStore()
	defer st.Close()
	all, err := readAll(st, e.hostID)
	if err != nil {
		return err
	}
	live, deleted := map[string]store.VM{}, map[string]bool{}
	for _, r := range all {
		if !strings.HasPrefix(r.Name, prefix+"-") {
			continue
		}
		if r.DeletedAt != nil {
			deleted[r.Name] = true
			continue
		}
		if _, dup := live[r.Name]; dup {
			return fmt.Errorf("two live rows for %s", r.Name)
		}
		live[r.Name] = r
	}
	for i := range 30 {
		n := fmt.Sprintf("%s-%d", prefix, i)
		r, isLive := live[n]
		switch {
		case i < 15 && !isLive:
			return fmt.Errorf("vm %s lost its row", n)
		case i >= 15 && (isLive || !deleted[n]):
			return fmt.Errorf("vm %s: live %t soft-deleted %t, want a soft-deleted row only", n, isLive, deleted[n])
		case i < 15 && (r.RecordedFrom != store.RecordedFromTable || r.Recorded.Memory != 64*1024 || r.RecordErr != nil):
			return fmt.Errorf("vm %s: recorded from %s memory %d (%v), want our record of 64 MiB", n, r.RecordedFrom, r.Recorded.Memory, r.RecordErr)
		case i < 15 && r.ConfigErr != nil:
			return fmt.Errorf("vm %s: config_json unreadable after Virtumancer rewrote it: %v", n, r.ConfigErr)
		}
	}
	return nil
}

func readAll(st *store.Store, hostID string) ([]store.VM, error) {
	var out []store.VM
	err := st.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = tx.ListVMsWithDeleted(hostID)
		return err
	})
	return out, err
}

// virtumancerUI acts as a Virtumancer whose VM list page is open: it lists
// the host's domains and syncs them into the store every 50 ms.
type virtumancerUI struct {
	t      *testing.T
	lv     *libvirt.Libvirt
	db     string
	hostID string
	prefix string

	stopCh       chan struct{}
	wg           sync.WaitGroup
	runs, unique int
}

func (w *virtumancerUI) start() {
	w.stopCh = make(chan struct{})
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.stopCh:
				return
			case <-time.After(50 * time.Millisecond):
			}
			w.syncOnce()
		}
	}()
}

func (w *virtumancerUI) stop() {
	close(w.stopCh)
	w.wg.Wait()
}

func (w *virtumancerUI) syncOnce() {
	db, err := virtumancer.Open(w.db, virtumancer.Options{})
	if err != nil {
		return // the provider has not created the file yet
	}
	defer db.Close()
	doms, _, err := w.lv.ConnectListAllDomains(1, 0)
	if err != nil {
		w.t.Errorf("list domains: %v", err)
		return
	}
	var live []vminfo.VMInfo
	for _, d := range doms {
		if !strings.HasPrefix(d.Name, w.prefix+"-") {
			continue
		}
		state, maxMem, mem, vcpu, cpu, err := w.lv.DomainGetInfo(d)
		if err != nil {
			continue // undefined meanwhile
		}
		live = append(live, vminfo.VMInfo{ID: int(d.ID), Name: d.Name, State: int(state), MaxMem: maxMem, Memory: mem,
			Vcpu: uint(vcpu), CPUTime: cpu, Uptime: -1, Persistent: true})
	}
	res := db.SyncAndList(w.hostID, live)
	w.runs++
	w.unique += res.UniqueFailures
}
