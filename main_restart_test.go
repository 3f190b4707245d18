package main

import (
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
	a := r.startSlowApply()
	r.waitMidApply(a, "half the VMs existed", func() bool { return len(r.domains()) >= resumeVMs/2 })
	exited, out := a.exited, &a.out
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
