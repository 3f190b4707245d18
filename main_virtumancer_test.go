package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest/virtumancer"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// TestAccBesideVirtumancer runs Virtumancer's own list-and-sync (its
// FirstOrCreate/Assign rewrite of config_json and its prune of rows whose
// domain it did not list) on the same store file every 50 ms, from this
// process, while the CLI applies 30 VMs and then removes 15 through the
// built provider in its own process.
//
// Virtumancer's prune acts on a listing taken before its writes, so it can
// soft-delete the row of a VM created in between. The next plan then says
// the VM is not recorded and the next apply records it again: the test
// applies until the plan is empty (at most three rounds) and reports how
// many it took. At the end no row is lost or duplicated, what the provider
// applied is still the recorded configuration although config_json was
// rewritten all along, and a last plan is empty.
func TestAccBesideVirtumancer(t *testing.T) {
	acctest.PreCheck(t)
	lv, err := acctest.Dial(acctest.TestURI)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lv.Disconnect() }()
	prefix := acctest.Name("main-vmcr")
	t.Cleanup(func() { removeDomains(lv, prefix) })

	dir := t.TempDir()
	_, rc := buildProvider(t, dir)
	db := filepath.Join(dir, "virtumancer.db")
	work := filepath.Join(dir, "work")
	writeFile(t, filepath.Join(work, "main.tf"), fmt.Sprintf(`terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
variable "n" { type = number }
provider "virtumancer" {}
resource "virtumancer_host" "h" {
  id  = "vmcr"
  uri = "test:///default"
}
resource "virtumancer_vm" "v" {
  count    = var.n
  host_id  = virtumancer_host.h.id
  name     = "%s-${count.index}"
  memory   = 64
  vcpu     = 1
  graphics = "none"
}
`, prefix))
	cli := &cliRun{t: t, bin: os.Getenv("TF_ACC_TERRAFORM_PATH"), dir: work,
		env: append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "VIRTUMANCER_DATABASE="+db, "TF_IN_AUTOMATION=1")}

	w := &virtumancerUI{t: t, lv: lv, db: db, hostID: "vmcr", prefix: prefix}
	w.start()
	rounds := []int{cli.converge("30"), cli.converge("15")}
	w.stop()
	if code := cli.plan("15"); code != 0 {
		t.Errorf("with Virtumancer stopped, plan -detailed-exitcode = %d, want 0 (empty)", code)
	}
	if err := checkBesideVirtumancer(db, prefix); err != nil {
		t.Error(err)
	}
	t.Logf("Virtumancer's list-and-sync ran %d times and logged %d UNIQUE constraint failures (harmless: its FirstOrCreate "+
		"does not see soft-deleted rows and races our insert of a new VM); applies until the plan was empty: %v", w.runs, w.unique, rounds)
	if w.runs < 5 {
		t.Errorf("the second writer ran only %d times: the test did not exercise it", w.runs)
	}
	cli.run("destroy", "-auto-approve", "-var", "n=15")
}

type cliRun struct {
	t        *testing.T
	bin, dir string
	env      []string
}

func (c *cliRun) run(args ...string) int {
	c.t.Helper()
	cmd := exec.Command(c.bin, append(args, "-input=false", "-no-color")...)
	cmd.Dir, cmd.Env = c.dir, c.env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == 2 && args[0] == "plan":
		return 2
	case err != nil:
		c.t.Fatalf("%s %s: %v\n%s", filepath.Base(c.bin), strings.Join(args, " "), err, out)
	}
	return 0
}

func (c *cliRun) plan(n string) int {
	return c.run("plan", "-detailed-exitcode", "-parallelism=10", "-var", "n="+n)
}

// converge applies n VMs, then applies again while the plan is not empty;
// it returns how many applies it took.
func (c *cliRun) converge(n string) int {
	c.t.Helper()
	for round := 1; round <= 3; round++ {
		c.run("apply", "-auto-approve", "-parallelism=10", "-var", "n="+n)
		if c.plan(n) == 0 {
			return round
		}
	}
	c.t.Fatalf("n=%s: the plan is still not empty after three applies", n)
	return 0
}

func checkBesideVirtumancer(db, prefix string) error {
	st, err := store.Open(db, store.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	var all []store.VM
	err = st.Read(context.Background(), func(tx *store.Tx) error {
		all, err = tx.ListVMsWithDeleted("vmcr")
		return err
	})
	if err != nil {
		return err
	}
	live, deleted := map[string]store.VM{}, map[string]bool{}
	for _, r := range all {
		switch {
		case !strings.HasPrefix(r.Name, prefix+"-"):
		case r.DeletedAt != nil:
			deleted[r.Name] = true
		default:
			live[r.Name] = r
		}
	}
	for i := range 30 {
		n := fmt.Sprintf("%s-%d", prefix, i)
		r, isLive := live[n]
		switch {
		case i < 15 && !isLive:
			return fmt.Errorf("vm %s lost its row", n)
		case i >= 15 && (isLive || !deleted[n]):
			return fmt.Errorf("vm %s: live %t soft-deleted %t, want a soft-deleted row only", n, isLive, deleted[n])
		case i >= 15:
		case r.RecordedFrom != store.RecordedFromTable || r.Recorded.Memory != 64*1024 || r.RecordErr != nil:
			return fmt.Errorf("vm %s: recorded from %s memory %d (%w), want our record of 64 MiB", n, r.RecordedFrom, r.Recorded.Memory, r.RecordErr)
		case r.ConfigErr != nil:
			return fmt.Errorf("vm %s: config_json unreadable after Virtumancer rewrote it: %w", n, r.ConfigErr)
		}
	}
	return nil
}

func removeDomains(lv *libvirt.Libvirt, prefix string) {
	doms, _, _ := lv.ConnectListAllDomains(1, 0)
	for _, d := range doms {
		if strings.HasPrefix(d.Name, prefix+"-") {
			_ = lv.DomainDestroy(d)
			_ = lv.DomainUndefine(d)
		}
	}
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
	if _, err := os.Stat(w.db); err != nil {
		return // Virtumancer is opened on the store once the provider made it
	}
	db, err := virtumancer.Open(w.db, virtumancer.Options{})
	if err != nil {
		w.t.Errorf("virtumancer: %v", err)
		return
	}
	defer func() { _ = db.Close() }()
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
