package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
)

// teamRunners and teamVMs: five CI runners applying six VMs each.
const teamRunners, teamVMs = 5, 6

// TestAccTeamParallelAppliesOnPostgres is issue 10's team test: five
// provider processes (simulated CI runners, one OpenTofu each) apply and
// then destroy six VMs each, all at once, against one PostgreSQL store on
// which two virtumancer-sync replicas run. Every CLI succeeds with no
// error or warning shown, and the store holds exactly the 30 rows (each
// recorded once, each seen by the replica that owns the host), then none.
func TestAccTeamParallelAppliesOnPostgres(t *testing.T) {
	acctest.PreCheck(t)
	pgtest.Require(t)
	cli := os.Getenv("TF_ACC_TERRAFORM_PATH")
	dir := t.TempDir()
	_, rc := buildProvider(t, dir)
	u := pgtest.NewDatabase(t, "team")
	host := acctest.Name("team")
	st := syncertest.OpenStore(t, u, []store.Host{{ID: host, URI: acctest.TestURI}})
	ctx := context.Background()
	lv, err := acctest.Dial(acctest.TestURI)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeDomains(lv, host); _ = lv.Disconnect() })

	syncBin := buildSync(t, dir)
	for _, name := range []string{"a", "b"} {
		startReplica(t, syncBin, u, name)
	}
	for deadline := time.Now().Add(15 * time.Second); replicaCount(t, u) < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the two replicas did not register within 15 s")
		}
	}

	var works []string
	for i := range teamRunners {
		w := filepath.Join(dir, fmt.Sprintf("runner%d", i))
		writeFile(t, filepath.Join(w, "main.tf"), fmt.Sprintf(`terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
provider "virtumancer" {}
resource "virtumancer_vm" "v" {
  count    = %d
  host_id  = %q
  name     = format("%s-%d-%%d", count.index)
  memory   = 64
  vcpu     = 1
  graphics = "none"
}
`, teamVMs, host, host, i))
		works = append(works, w)
	}
	env := []string{"TF_CLI_CONFIG_FILE=" + rc, "VIRTUMANCER_DATABASE=" + u, "TF_IN_AUTOMATION=1"}
	start := time.Now()
	inParallel(t, cli, works, env, "apply", "-auto-approve", "-input=false", "-no-color")
	t.Logf("%d parallel applies of %d VMs took %s", teamRunners, teamVMs, time.Since(start).Round(100*time.Millisecond))

	var want []string
	for i := range teamRunners {
		for j := range teamVMs {
			want = append(want, fmt.Sprintf("%s-%d-%d", host, i, j))
		}
	}
	slices.Sort(want)
	vms, err := st.ListVMs(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range ours(vms, host) {
		names = append(names, v.Name)
		if v.RecordedFrom != store.RecordedFromTable || v.RecordErr != nil {
			t.Errorf("row %s: recorded from %s (%v), want our own record", v.Name, v.RecordedFrom, v.RecordErr)
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("live rows after the applies = %v, want exactly %v", names, want)
	}
	waitStatuses(t, st, host, len(want))
	if n := replicaCount(t, u); n != 2 {
		t.Errorf("replicas registered after the applies: %d, want both", n)
	}

	inParallel(t, cli, works, env, "apply", "-destroy", "-auto-approve", "-input=false", "-no-color")
	// Known race (issue note): the owning replica may revive a row the
	// provider soft-deleted while its domain was still being stopped; its
	// runtime check (every 15 s) deletes it again. So: none within 20 s.
	var live []store.VM
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		vms, err = st.ListVMs(ctx, host)
		if live = ours(vms, host); err == nil && len(live) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || len(live) != 0 {
		t.Errorf("live rows 20 s after the destroys: %v (%v), want none", live, err)
	}
	if left := domainsWithPrefix(t, lv, host+"-"); len(left) > 0 {
		t.Errorf("domains left after the destroys: %v", left)
	}
}

// inParallel runs the CLI with args in every work directory at once; each
// must exit 0 and print neither an error nor a warning (but the CLI's own
// about the dev_overrides the test installs the provider with).
func inParallel(t *testing.T, cli string, works, env []string, args ...string) {
	t.Helper()
	var wg sync.WaitGroup
	outs := make([]string, len(works))
	errs := make([]error, len(works))
	for i, w := range works {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(cli, args...)
			cmd.Dir, cmd.Env = w, append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	for i := range works {
		warnings := strings.Count(outs[i], "Warning:") - strings.Count(outs[i], "Warning: Provider development overrides are in effect")
		if errs[i] != nil || strings.Contains(outs[i], "Error:") || warnings > 0 {
			t.Errorf("runner %d: %s %s: %v\n%s", i, filepath.Base(cli), strings.Join(args, " "), errs[i], outs[i])
		}
	}
}

// ours drops the test driver's own domain ("test"), which the replicas
// discover on the host too.
func ours(vms []store.VM, host string) []store.VM {
	return slices.DeleteFunc(vms, func(v store.VM) bool { return !strings.HasPrefix(v.Name, host+"-") })
}

// waitStatuses waits until the replica owning host has seen n VMs.
func waitStatuses(t *testing.T, st *store.Store, host string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var got []store.VMStatus
	for time.Now().Before(deadline) {
		var err error
		got, err = st.ListVMStatus(context.Background(), host)
		got = slices.DeleteFunc(got, func(s store.VMStatus) bool { return !strings.HasPrefix(s.Name, host+"-") })
		if err == nil && len(got) == n {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("the owning replica's status rows for host %s: %d, want %d", host, len(got), n)
}

// replicaCount is how many replicas are registered in the store at u.
func replicaCount(t *testing.T, u string) int {
	t.Helper()
	n, err := strconv.Atoi(storetest.Text(t, u, "SELECT count(*) FROM vmsync_replicas"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// buildSync builds virtumancer-sync into dir/bin.
func buildSync(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin", "virtumancer-sync")
	build := exec.Command("go", "build", "-o", bin, "./cmd/virtumancer-sync")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build virtumancer-sync: %v\n%s", err, out)
	}
	return bin
}

// startReplica runs a virtumancer-sync replica until the test ends, which
// stops it with SIGTERM and requires a clean exit.
func startReplica(t *testing.T, bin, database, name string) {
	t.Helper()
	cmd := exec.Command(bin, "--database", database, "--listen", "", "--replica", name, "--log-level", "warn")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("replica %s: %v\n%s", name, err, logs.String())
		}
		if strings.Contains(logs.String(), "[ERROR]") {
			t.Errorf("replica %s logged errors:\n%s", name, logs.String())
		}
	})
}

func domainsWithPrefix(t *testing.T, lv *libvirt.Libvirt, prefix string) []string {
	t.Helper()
	all, _, err := lv.ConnectListAllDomains(1, 0)
	if err != nil {
		t.Fatalf("list domains: %v", err)
	}
	var names []string
	for _, d := range all {
		if strings.HasPrefix(d.Name, prefix) {
			names = append(names, d.Name)
		}
	}
	return names
}
