package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// orphanDeadline is how long a provider may outlive the CLI that started it.
const orphanDeadline = 5 * time.Second

// TestAccProviderExitsWithItsCLI kills the CLI with SIGKILL in the middle of
// an apply (the VM's wait_for_ip keeps the provider busy) and requires every
// provider process of that run to be gone within orphanDeadline, leaving a
// store that opens and still holds what was applied before. Run with the
// pinned OpenTofu and, when one is on PATH, with terraform.
func TestAccProviderExitsWithItsCLI(t *testing.T) {
	acctest.PreCheck(t)
	clis := []string{os.Getenv("TF_ACC_TERRAFORM_PATH")}
	if tf, err := exec.LookPath("terraform"); err == nil && tf != clis[0] {
		clis = append(clis, tf)
	}
	dir := t.TempDir()
	binary, rc := buildProvider(t, dir)
	for _, cli := range clis {
		t.Run(filepath.Base(cli), func(t *testing.T) { killCLIMidApply(t, cli, binary, rc) })
	}
}

func killCLIMidApply(t *testing.T, cli, binary, rc string) {
	lv, err := acctest.Dial(acctest.TestURI)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lv.Disconnect() }()
	name := acctest.Name("main-orphan")
	t.Cleanup(func() {
		if d, err := lv.DomainLookupByName(name); err == nil {
			_ = lv.DomainDestroy(d)
			_ = lv.DomainUndefine(d)
		}
	})
	dir := t.TempDir()
	db := acctest.StoreLocation(t)
	writeFile(t, filepath.Join(dir, "work", "main.tf"), fmt.Sprintf(`terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
provider "virtumancer" {}
resource "virtumancer_host" "h" {
  id  = "orphan"
  uri = "test:///default"
}
resource "virtumancer_vm" "slow" {
  host_id  = virtumancer_host.h.id
  name     = %q
  memory   = 64
  vcpu     = 1
  graphics = "none"
  wait_for_ip {
    timeout = "3m"
  }
}
`, name))
	var out bytes.Buffer
	cmd := exec.Command(cli, "apply", "-auto-approve", "-input=false", "-no-color")
	cmd.Dir = filepath.Join(dir, "work")
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "VIRTUMANCER_DATABASE="+db, "TF_IN_AUTOMATION=1")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { // whatever the outcome, leave no process behind
		_ = cmd.Process.Kill()
		for _, pid := range processesOf(t, binary) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	// Mid-apply: the domain is defined and the provider waits for its IP.
	waitFor(t, time.Minute, exited, &out, func() bool {
		_, err := lv.DomainLookupByName(name)
		return err == nil && len(processesOf(t, binary)) > 0
	})
	before := processesOf(t, binary)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil {
		t.Fatalf("the CLI exited cleanly before it was killed:\n%s", out.String())
	}
	killed := time.Now()

	for time.Since(killed) < orphanDeadline {
		if len(processesOf(t, binary)) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left := processesOf(t, binary); len(left) > 0 {
		t.Fatalf("provider processes %v (of %v running at the kill) still run %s after %s was killed; CLI output:\n%s",
			left, before, orphanDeadline, filepath.Base(cli), out.String())
	}
	t.Logf("%d provider process(es) gone within %s of the kill", len(before), time.Since(killed).Round(100*time.Millisecond))

	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatalf("the store left by the orphaned provider does not open: %v", err)
	}
	defer st.Close()
	if h, err := st.GetHost(t.Context(), "orphan"); err != nil || h.URI != acctest.TestURI {
		t.Fatalf("host row applied before the kill = %+v, %v; want orphan -> %s", h, err, acctest.TestURI)
	}
}

// waitFor polls cond until it holds; the CLI ending first, or timeout, fails.
func waitFor(t *testing.T, timeout time.Duration, exited <-chan error, out *bytes.Buffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case err := <-exited:
			t.Fatalf("the CLI ended (%v) before the apply reached the VM's wait:\n%s", err, out.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the apply did not reach the VM's wait within %s:\n%s", timeout, out.String())
		}
	}
}

// processesOf lists the live processes running binary, found through
// /proc/PID/exe (a zombie has no exe link and does not count).
func processesOf(t *testing.T, binary string) []int {
	t.Helper()
	want, err := filepath.EvalSymlinks(binary)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.TrimSuffix(exe, " (deleted)") == want {
			pids = append(pids, pid)
		}
	}
	return pids
}
