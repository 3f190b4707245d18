package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// resumeVMs is how many VMs the interrupted apply creates.
const resumeVMs = 20

// TestAccInterruptedApplyConverges is issue 9's kill test: SIGKILL of the
// CLI when about half of 20 VMs exist on the test driver, then a second
// apply with no manual step converges. The domains the killed apply left
// (and its host row) are in no state: the second apply takes them over
// with a warning naming each. Afterwards the state, the store and libvirt
// hold the same 20 names, no domain of the prefix is outside state, no row
// lacks its domain, a plan is empty and clears every create mark, and the
// provider processes of the killed run are gone (internal/parentwatch).
// Run with the pinned OpenTofu and, when one is on PATH, with terraform.
func TestAccInterruptedApplyConverges(t *testing.T) {
	acctest.PreCheck(t)
	clis := []string{os.Getenv("TF_ACC_TERRAFORM_PATH")}
	if tf, err := exec.LookPath("terraform"); err == nil && tf != clis[0] {
		clis = append(clis, tf)
	}
	dir := t.TempDir()
	binary, rc := buildProvider(t, dir)
	for _, cli := range clis {
		t.Run(filepath.Base(cli), func(t *testing.T) {
			r := newResumeRun(t, cli, binary, rc)
			r.killMidApply()
			r.applyConverges()
		})
	}
}

// resumeRun is one CLI's run: its work directory, store and prefix.
type resumeRun struct {
	t                *testing.T
	cli, binary, rc  string
	work, db, prefix string
	lv               *libvirt.Libvirt
}

func newResumeRun(t *testing.T, cli, binary, rc string) *resumeRun {
	return newResumeRunNamed(t, cli, binary, rc, "rs-kill")
}

// newResumeRunNamed is newResumeRun with names starting with prefix-.
func newResumeRunNamed(t *testing.T, cli, binary, rc, prefix string) *resumeRun {
	lv, err := acctest.Dial(acctest.TestURI)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &resumeRun{t: t, cli: cli, binary: binary, rc: rc, work: filepath.Join(dir, "work"),
		db: acctest.StoreLocation(t), prefix: acctest.Name(prefix), lv: lv}
	t.Cleanup(func() {
		for _, d := range r.domains() { // whatever happened, nothing of ours stays defined
			_ = r.lv.DomainDestroy(d)
			_ = r.lv.DomainUndefine(d)
		}
		_ = r.lv.Disconnect()
	})
	writeFile(t, filepath.Join(r.work, "main.tf"), fmt.Sprintf(`terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
provider "virtumancer" {}
resource "virtumancer_host" "h" {
  id  = %[1]q
  uri = "test:///default"
}
resource "virtumancer_vm" "v" {
  count    = %[2]d
  host_id  = virtumancer_host.h.id
  name     = format("%[1]s-%%02d", count.index)
  memory   = 64
  vcpu     = 1
  graphics = "none"
}
`, r.prefix, resumeVMs))
	return r
}

func (r *resumeRun) command(args ...string) *exec.Cmd {
	cmd := exec.Command(r.cli, args...)
	cmd.Dir = r.work
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+r.rc, "VIRTUMANCER_DATABASE="+r.db, "TF_IN_AUTOMATION=1")
	return cmd
}

// run runs the CLI to its end and returns its output; a failure fails the test.
func (r *resumeRun) run(args ...string) string {
	r.t.Helper()
	out, err := r.command(args...).CombinedOutput()
	if err != nil {
		r.t.Fatalf("%s %s: %v\n%s", filepath.Base(r.cli), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// domains lists the test driver's domains of this run's prefix.
func (r *resumeRun) domains() []libvirt.Domain {
	all, _, err := r.lv.ConnectListAllDomains(1, 0)
	if err != nil {
		r.t.Fatalf("list domains: %v", err)
	}
	return slices.DeleteFunc(all, func(d libvirt.Domain) bool { return !strings.HasPrefix(d.Name, r.prefix+"-") })
}

func (r *resumeRun) domainNames() []string {
	var names []string
	for _, d := range r.domains() {
		names = append(names, d.Name)
	}
	slices.Sort(names)
	return names
}

// slowApply is an apply that creates one VM at a time, started in the
// background: the fault tests interrupt it midway (waitMidApply).
type slowApply struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	exited chan error
}

func (r *resumeRun) startSlowApply() *slowApply {
	a := &slowApply{cmd: r.command("apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=1"), exited: make(chan error, 1)}
	a.cmd.Stdout, a.cmd.Stderr = &a.out, &a.out
	if err := a.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() { a.exited <- a.cmd.Wait() }()
	r.t.Cleanup(func() { _ = a.cmd.Process.Kill() })
	return a
}

// waitMidApply polls reached until it holds; the apply ending first, or
// two minutes passing, fails the test. what says what is awaited.
func (r *resumeRun) waitMidApply(a *slowApply, what string, reached func() bool) {
	r.t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !reached(); time.Sleep(5 * time.Millisecond) {
		select {
		case err := <-a.exited:
			r.t.Fatalf("the apply ended (%v) before %s:\n%s", err, what, a.out.String())
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("not within 2m: %s:\n%s", what, a.out.String())
		}
	}
}

// killMidApply starts the apply one VM at a time, kills the CLI with SIGKILL
// once half the domains exist, and waits for its provider to exit.
func (r *resumeRun) killMidApply() {
	t := r.t
	a := r.startSlowApply()
	t.Cleanup(func() {
		for _, pid := range processesOf(t, r.binary) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	r.waitMidApply(a, "half the VMs existed", func() bool { return len(r.domains()) >= resumeVMs/2 })
	cmd, exited, out := a.cmd, a.exited, &a.out
	before := processesOf(t, r.binary)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil {
		t.Fatalf("the CLI exited cleanly before it was killed:\n%s", out.String())
	}
	killed := time.Now()
	for len(processesOf(t, r.binary)) > 0 && time.Since(killed) < orphanDeadline {
		time.Sleep(50 * time.Millisecond)
	}
	if left := processesOf(t, r.binary); len(left) > 0 {
		t.Fatalf("provider processes %v (of %v) still run %s after the kill", left, before, orphanDeadline)
	}
	left := r.domainNames()
	if len(left) >= resumeVMs {
		t.Fatalf("all %d domains existed at the kill; the test did not interrupt the apply", len(left))
	}
	t.Logf("killed the CLI with %d of %d domains defined; provider gone within %s", len(left), resumeVMs,
		time.Since(killed).Round(50*time.Millisecond))
}

// applyConverges runs the second apply and checks that state, store and
// libvirt agree.
func (r *resumeRun) applyConverges() {
	t := r.t
	leftover := r.markedDomains()
	inState := r.stateNames()
	hostInState := r.stateHas("virtumancer_host")
	start := time.Now()
	out := r.run("apply", "-auto-approve", "-input=false", "-no-color")
	t.Logf("second apply converged in %s: %d marked domains of the killed apply, %d VMs and host %v already in state",
		time.Since(start).Round(100*time.Millisecond), len(leftover), len(inState), hostInState)
	takenOver := 0
	for _, name := range leftover {
		if slices.Contains(inState, name) {
			continue // state held it: refreshed, not taken over
		}
		takenOver++
		if want := fmt.Sprintf("Took over vm %q left by an interrupted apply", name); !strings.Contains(out, want) {
			t.Errorf("second apply does not say %q:\n%s", want, out)
		}
	}
	if want := fmt.Sprintf("Took over host %q already in the store", r.prefix); !hostInState && !strings.Contains(out, want) {
		t.Errorf("the host was in no state, and the second apply does not say %q:\n%s", want, out)
	}
	switch {
	case takenOver > 0:
	case acctest.IsOpenTofu(r.cli): // it writes state only every ~20 s: the killed apply's VMs are in none
		t.Errorf("the kill left no marked domain outside state (marked %v, in state %v): no take-over was tested", leftover, inState)
	default: // terraform wrote each VM to state as it completed; the kill fell between two creates
		t.Logf("the kill fell between two creates: every marked domain was in state, so none was taken over")
	}
	r.agree(out)
}

// agree checks, after the apply that printed out, that libvirt, the state
// and the store hold the same VMs, a plan is empty and leaves no create
// mark, and destroy removes every domain.
func (r *resumeRun) agree(out string) {
	t := r.t
	if n := strings.Count(out, "Domain already exists"); n > 0 {
		t.Errorf("second apply refused %d domains:\n%s", n, out)
	}
	want := make([]string, resumeVMs)
	for i := range want {
		want[i] = fmt.Sprintf("%s-%02d", r.prefix, i)
	}
	if got := r.domainNames(); !slices.Equal(got, want) {
		t.Errorf("libvirt domains of the prefix = %v, want %v", got, want)
	}
	if got := r.stateNames(); !slices.Equal(got, want) {
		t.Errorf("VMs in state = %v, want %v", got, want)
	}
	if got := r.rowNames(); !slices.Equal(got, want) {
		t.Errorf("store rows of host %s = %v, want %v", r.prefix, got, want)
	}
	if code := r.planExitCode(); code != 0 {
		t.Errorf("plan after the converged apply exits %d, want 0 (no changes)", code)
	}
	if marked := r.markedDomains(); len(marked) > 0 {
		t.Errorf("domains still marked after a plan read them from state: %v", marked)
	}
	r.run("apply", "-destroy", "-auto-approve", "-input=false", "-no-color")
	if got := r.domainNames(); len(got) > 0 {
		t.Errorf("domains left after destroy: %v", got)
	}
}

// markedDomains are the domains of the prefix that carry the create mark.
func (r *resumeRun) markedDomains() []string {
	var names []string
	for _, d := range r.domains() {
		doc, err := r.lv.DomainGetMetadata(d, int32(libvirt.DomainMetadataElement), libvirt.OptString{hypervisor.CreateMarkURI}, libvirt.DomainAffectConfig)
		var le libvirt.Error
		switch {
		case errors.As(err, &le) && le.Code == uint32(libvirt.ErrNoDomainMetadata):
		case err != nil:
			r.t.Fatalf("metadata of %s: %v", d.Name, err)
		case doc != "":
			names = append(names, d.Name)
		}
	}
	slices.Sort(names)
	return names
}

type stateResource struct {
	Type   string         `json:"type"`
	Values map[string]any `json:"values"`
}

// state lists the resources in state (none without a state file).
func (r *resumeRun) state() []stateResource {
	if _, err := os.Stat(filepath.Join(r.work, "terraform.tfstate")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var show struct {
		Values struct {
			RootModule struct {
				Resources []stateResource `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(r.run("show", "-json")), &show); err != nil {
		r.t.Fatalf("show -json: %v", err)
	}
	return show.Values.RootModule.Resources
}

func (r *resumeRun) stateHas(typ string) bool {
	return slices.ContainsFunc(r.state(), func(res stateResource) bool { return res.Type == typ })
}

// stateNames are the names of the VMs in state.
func (r *resumeRun) stateNames() []string {
	var names []string
	for _, res := range r.state() {
		if res.Type == "virtumancer_vm" {
			names = append(names, fmt.Sprint(res.Values["name"]))
		}
	}
	slices.Sort(names)
	return names
}

// rowNames are the live (not soft-deleted) VM rows of the run's host.
func (r *resumeRun) rowNames() []string {
	st, err := store.Open(r.db, store.Options{})
	if err != nil {
		r.t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.ListVMs(r.t.Context(), r.prefix)
	if err != nil {
		r.t.Fatal(err)
	}
	var names []string
	for _, row := range rows {
		names = append(names, row.Name)
	}
	slices.Sort(names)
	return names
}

func (r *resumeRun) planExitCode() int {
	out, err := r.command("plan", "-detailed-exitcode", "-input=false", "-no-color").CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		r.t.Logf("plan output:\n%s", out)
		return ee.ExitCode()
	}
	r.t.Fatalf("plan: %v\n%s", err, out)
	return -1
}
