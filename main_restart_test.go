package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
)

// TestAccLibvirtdRestartMidApplyConverges is the libvirtd variant of
// TestAccInterruptedApplyConverges: libvirtd is restarted (inside the
// tests' network namespace) while an apply creates 20 VMs on the test
// driver, which loses every domain with the restart. The apply that was
// running may fail; the next one converges with no manual step, and the
// state, the store and libvirt then hold the same 20 VMs, a plan is empty.
// Run with the pinned OpenTofu and, when one is on PATH, with terraform.
func TestAccLibvirtdRestartMidApplyConverges(t *testing.T) {
	acctest.PreCheck(t)
	if os.Getenv(libvirttest.RestartEnv) != "1" {
		t.Skipf("restarts the machine's libvirtd, disturbing anything else using it; set %s=1 to run", libvirttest.RestartEnv)
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
	libvirttest.Restart(t)
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
