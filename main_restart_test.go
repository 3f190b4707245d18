package main

import (
	"bytes"
	"errors"
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
	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
)

// restartEnv opts in to restarting the machine's libvirtd (as the sync
// service's fault tests do): it resets test:///default for every process
// and breaks other test binaries' connections, so it only runs where
// nothing else does.
const restartEnv = "VIRTUMANCER_TEST_RESTART_LIBVIRTD"

// TestAccLibvirtdRestartMidApplyConverges is the libvirtd variant of
// TestAccInterruptedApplyConverges: libvirtd is restarted (inside the
// tests' network namespace) while an apply creates 20 VMs on the test
// driver, which loses every domain with the restart. The apply that was
// running may fail; the next one converges with no manual step, and the
// state, the store and libvirt then hold the same 20 VMs, a plan is empty.
// Run with the pinned OpenTofu and, when one is on PATH, with terraform.
func TestAccLibvirtdRestartMidApplyConverges(t *testing.T) {
	acctest.PreCheck(t)
	if os.Getenv(restartEnv) != "1" {
		t.Skipf("restarts the machine's libvirtd, disturbing anything else using it; set %s=1 to run", restartEnv)
	}
	clis := []string{os.Getenv("TF_ACC_TERRAFORM_PATH")}
	if tf, err := exec.LookPath("terraform"); err == nil && tf != clis[0] {
		clis = append(clis, tf)
	}
	dir := t.TempDir()
	binary, rc := buildProvider(t, dir)
	for _, cli := range clis {
		t.Run(filepath.Base(cli), func(t *testing.T) {
			r := newResumeRunNamed(t, cli, binary, rc, "lg-restart")
			r.restartMidApply()
			start := time.Now()
			out := r.run("apply", "-auto-approve", "-input=false", "-no-color")
			t.Logf("the apply after the restart converged in %s", time.Since(start).Round(100*time.Millisecond))
			r.agree(out)
		})
	}
}

// restartMidApply starts the apply one VM at a time, restarts libvirtd
// once half the domains exist and waits for the apply to end.
func (r *resumeRun) restartMidApply() {
	t := r.t
	var out bytes.Buffer
	cmd := r.command("apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=1")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	for deadline := time.Now().Add(2 * time.Minute); len(r.domains()) < resumeVMs/2; time.Sleep(5 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("the apply ended (%v) before half the VMs existed:\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("half the VMs did not appear within 2m:\n%s", out.String())
		}
	}
	restartLibvirtd(t)
	lv, err := acctest.Dial(acctest.TestURI) // the old connection died with the daemon
	if err != nil {
		t.Fatal(err)
	}
	r.lv = lv
	select {
	case err := <-exited:
		t.Logf("the apply during the restart ended with %v; %d of %d domains exist now", err, len(r.domains()), resumeVMs)
	case <-time.After(3 * time.Minute):
		t.Fatalf("the apply did not end within 3m of the restart:\n%s", out.String())
	}
}

// restartLibvirtd stops libvirtd by its pid file, starts it again with
// scripts/libvirtd.sh (inside the tests' network namespace) and takes a new
// holder of test:///default, as the sync service's fault tests do.
func restartLibvirtd(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile("/run/libvirtd.pid")
	if err != nil {
		t.Fatalf("%s=1 but libvirtd's pid file is unreadable: %v", restartEnv, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("libvirtd pid file holds %q: %v", data, err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stop libvirtd (pid %d): %v", pid, err)
	}
	waitUntil(t, 30*time.Second, "libvirtd exited", func() error {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("pid %d: %w", pid, err)
		}
		return nil
	})
	if out, err := exec.Command("bash", "scripts/libvirtd.sh", "start").CombinedOutput(); err != nil {
		t.Fatalf("scripts/libvirtd.sh start: %v: %s", err, out)
	}
	waitUntil(t, 30*time.Second, "libvirtd answers again", libvirttest.Rehold)
	t.Logf("libvirtd (pid %d) restarted", pid)
}

func waitUntil(t *testing.T, limit time.Duration, what string, ok func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = ok(); err == nil {
			return
		}
	}
	t.Fatalf("%s: not within %s: %v", what, limit, err)
}
