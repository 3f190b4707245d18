package resources_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
)

// TestAccVMLive_wakeAndCrash: the tiny guest suspended to RAM through its
// agent (pmsuspended) is woken by the next apply, same domain id, no stop
// or start, and the plan the CLI got said so; then its QEMU process is
// killed (libvirt: shut off, reason crashed, a real crash rather than a
// destroy), and the next plan warns that it crashed and the apply starts
// it again exactly once, the guest answering its agent afterwards.
func TestAccVMLive_wakeAndCrash(t *testing.T) {
	acctest.PreCheck(t)
	e := newGuestEnvNamed(t, "lg", 63)
	rec := &planRecorder{}
	ev := newLifecycleCounter(t, e.vm)
	cfg := e.liveHCL(1, 128, "none", "auto", nic("")+waitFor("agent", "5m"))
	sameID := statecheck.CompareValue(compare.ValuesSame())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		CheckDestroy:             e.guestDestroyed(),
		Steps: []resource.TestStep{
			{
				Config:            cfg,
				ConfigStateChecks: []statecheck.StateCheck{sameID.AddStateValue(vmRes, attr("domain_id"))},
				Check:             e.guestVcpus(1),
			},
			{
				PreConfig: func() {
					e.suspendToRAM(t)
					rec.reset()
					ev.reset()
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(vmRes, attr("state")),
					rec.warned(fmt.Sprintf("VM %q is pmsuspended", e.vm), "running = true, so the apply resumes it"),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("state", knownvalue.StringExact("running")), sameID.AddStateValue(vmRes, attr("domain_id")),
				},
				Check: resource.ComposeTestCheckFunc(ev.notRestarted(), ev.wokenOnce(), e.guestVcpus(1)),
			},
			{
				PreConfig: func() {
					ev.reset()
					e.crash(t)
					ev.waitStopped(t) // the crash's own event, before counting the apply's
					rec.reset()
					ev.reset()
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(vmRes, attr("domain_id")),
					rec.warned(fmt.Sprintf("VM %q crashed", e.vm), "reason crashed); the apply starts it again"),
				}},
				ConfigStateChecks: []statecheck.StateCheck{expect("state", knownvalue.StringExact("running"))},
				Check:             resource.ComposeTestCheckFunc(ev.startedOnce(), e.guestVcpus(1)),
			},
		},
	})
}

// suspendToRAM has the guest agent suspend the guest to RAM and waits for
// libvirt to report it pmsuspended.
func (e *guestEnv) suspendToRAM(t *testing.T) {
	t.Helper()
	if err := e.lv.DomainPmSuspendForDuration(e.domain(e.vm), uint32(libvirt.NodeSuspendTargetMem), 0, 0); err != nil {
		t.Fatalf("suspend %s to RAM through its agent: %v", e.vm, err)
	}
	e.waitState(t, libvirt.DomainPmsuspended, -1)
}

// crash kills the domain's QEMU process, which libvirt reports as shut
// off with reason crashed, and waits for that.
func (e *guestEnv) crash(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("/run/libvirt/qemu/" + e.vm + ".pid")
	if err != nil {
		t.Fatalf("pid of %s's QEMU: %v", e.vm, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("pid file of %s holds %q", e.vm, b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s's QEMU (pid %d): %v", e.vm, pid, err)
	}
	e.waitState(t, libvirt.DomainShutoff, int32(libvirt.DomainShutoffCrashed))
}

// waitState waits up to 30 s for the domain's state (and reason, unless
// reason < 0).
func (e *guestEnv) waitState(t *testing.T, state libvirt.DomainState, reason int32) {
	t.Helper()
	var s, r int32
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if s, r, err = e.lv.DomainGetState(e.domain(e.vm), 0); err == nil && s == int32(state) && (reason < 0 || r == reason) {
			return
		}
	}
	t.Fatalf("domain %s: state %d reason %d (%v), want state %d reason %d within 30 s", e.vm, s, r, err, state, reason)
}

// startedOnce wants one start and no stop since reset.
func (c *lifecycleCounter) startedOnce() resource.TestCheckFunc {
	return func(*terraform.State) error {
		time.Sleep(time.Second)
		if s, p := c.counts(); s != 1 || p != 0 {
			return fmt.Errorf("the domain was started %d and stopped %d times, want started once", s, p)
		}
		return nil
	}
}

// wokenOnce wants one wake-up since reset.
func (c *lifecycleCounter) wokenOnce() resource.TestCheckFunc {
	return func(*terraform.State) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.woken != 1 {
			return fmt.Errorf("the domain was woken %d times, want once", c.woken)
		}
		return nil
	}
}

// waitStopped waits up to 10 s for a stopped event since reset.
func (c *lifecycleCounter) waitStopped(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, p := c.counts(); p > 0 {
			return
		}
	}
	t.Fatal("no stopped event within 10 s of the crash")
}
