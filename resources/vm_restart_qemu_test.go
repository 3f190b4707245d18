package resources_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
)

// TestAccVMLive_restartOnce boots the tiny guest with 2 vCPUs and makes
// two changes beyond the live table: vcpu 2 -> 1 (QEMU cannot unplug the
// vCPUs a guest booted with, so this is a restart, not a failed apply),
// then graphics. For each, the plan the CLI got carried the restart warning
// naming the VM and the attribute, and libvirt saw exactly one stop and
// one start of the domain during the apply; the guest then has what was
// asked. A live change after them (vcpu back to 2) neither warns nor stops
// the domain; unplugging that vCPU again is announced as a possible
// restart, which the apply takes when the guest keeps the vCPU.
func TestAccVMLive_restartOnce(t *testing.T) {
	acctest.PreCheck(t)
	e := newGuestEnvNamed(t, "lg", 61)
	rec := &planRecorder{}
	ev := newLifecycleCounter(t, e.vm)
	cfg := func(vcpu int, graphics string) string {
		return e.liveHCL(vcpu, 128, graphics, "auto", nic("")+waitFor("agent", "5m"))
	}
	restartWarning := func(field string) plancheck.PlanCheck {
		return rec.warned(fmt.Sprintf("VM %q will be restarted", e.vm),
			fmt.Sprintf("vm %q on host %q is running; the apply shuts it down", e.vm, e.hostID), field)
	}
	sameID := statecheck.CompareValue(compare.ValuesSame())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		CheckDestroy:             e.guestDestroyed(),
		Steps: []resource.TestStep{
			{
				Config: cfg(2, "none"),
				Check:  e.guestVcpus(2),
			},
			{
				PreConfig: func() { rec.reset(); ev.reset() },
				Config:    cfg(1, "none"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(vmRes, attr("domain_id")),
					restartWarning("vcpu (QEMU unplugs only vCPUs that were plugged into the running guest; those it booted " +
						"with stay until it restarts: it booted with 2 and is to have 1)"),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("pending_restart", knownvalue.Bool(false)), expect("vcpu", knownvalue.Int64Exact(1)),
				},
				Check: resource.ComposeTestCheckFunc(ev.restartedOnce(), e.guestVcpus(1)),
			},
			{
				PreConfig: func() { rec.reset(); ev.reset() },
				Config:    cfg(1, "vnc"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(vmRes, attr("domain_id")),
					restartWarning("graphics (QEMU cannot add or remove a VNC or SPICE console on a running guest)"),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("graphics", knownvalue.StringExact("vnc")), sameID.AddStateValue(vmRes, attr("domain_id")),
				},
				Check: resource.ComposeTestCheckFunc(ev.restartedOnce(), e.guestVcpus(1)),
			},
			{
				PreConfig: func() { rec.reset(); ev.reset() },
				Config:    cfg(2, "vnc"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(vmRes, attr("domain_id"), knownvalue.Int64Func(vmPositive)),
					rec.noWarning("will be restarted"),
				}},
				ConfigStateChecks: []statecheck.StateCheck{sameID.AddStateValue(vmRes, attr("domain_id"))},
				Check:             resource.ComposeTestCheckFunc(ev.notRestarted(), e.guestVcpus(2)),
			},
			{
				// The vCPU plugged in live is unplugged live if the guest
				// releases it; this one does not within libvirt's timeout
				// (under TCG), and the apply falls back to the restart the
				// plan said might come.
				PreConfig: func() { rec.reset(); ev.reset() },
				Config:    cfg(1, "vnc"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(vmRes, attr("domain_id")),
					rec.warned(fmt.Sprintf("VM %q may be restarted", e.vm), "vcpu 2 -> 1 unplugs vCPUs from the running guest"),
					rec.noWarning("will be restarted"),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("pending_restart", knownvalue.Bool(false)), expect("vcpu", knownvalue.Int64Exact(1)),
				},
				Check: resource.ComposeTestCheckFunc(ev.restartedAtMostOnce(t), e.guestVcpus(1)),
			},
		},
	})
}

// planRecorder serves the provider and keeps the diagnostics of every
// PlanResourceChange it answers: the CLI prints them, but
// terraform-plugin-testing does not expose them.
type planRecorder struct {
	mu    sync.Mutex
	diags []*tfprotov6.Diagnostic
}

type recordingServer struct {
	tfprotov6.ProviderServer
	rec *planRecorder
}

func (s recordingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	resp, err := s.ProviderServer.PlanResourceChange(ctx, req)
	if resp != nil {
		s.rec.mu.Lock()
		defer s.rec.mu.Unlock()
		s.rec.diags = append(s.rec.diags, resp.Diagnostics...)
	}
	return resp, err
}

func (r *planRecorder) factories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"virtumancer": func() (tfprotov6.ProviderServer, error) {
			srv, err := acctest.ProtoV6ProviderFactories["virtumancer"]()
			if err != nil {
				return nil, err
			}
			return recordingServer{ProviderServer: srv, rec: r}, nil
		},
	}
}

func (r *planRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.diags = nil
}

func (r *planRecorder) warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, d := range r.diags {
		if d.Severity == tfprotov6.DiagnosticSeverityWarning {
			out = append(out, d.Summary+": "+d.Detail)
		}
	}
	return out
}

// warned wants a plan warning with this summary whose detail holds every
// part.
func (r *planRecorder) warned(summary string, parts ...string) plancheck.PlanCheck {
	return planCheckFunc(func(resp *plancheck.CheckPlanResponse) {
		for _, w := range r.warnings() {
			if !strings.HasPrefix(w, summary+": ") {
				continue
			}
			missing := false
			for _, p := range parts {
				missing = missing || !strings.Contains(w, p)
			}
			if !missing {
				return
			}
		}
		resp.Error = fmt.Errorf("no plan warning %q holding %q among %q", summary, parts, r.warnings())
	})
}

func (r *planRecorder) noWarning(part string) plancheck.PlanCheck {
	return planCheckFunc(func(resp *plancheck.CheckPlanResponse) {
		for _, w := range r.warnings() {
			if strings.Contains(w, part) {
				resp.Error = fmt.Errorf("unexpected plan warning: %s", w)
			}
		}
	})
}

// lifecycleCounter counts the started and stopped events libvirt sends for
// one domain, on a connection of its own (wake-ups apart).
type lifecycleCounter struct {
	mu                      sync.Mutex
	started, stopped, woken int
}

func newLifecycleCounter(t *testing.T, name string) *lifecycleCounter {
	t.Helper()
	l, err := acctest.Dial(acctest.QemuURI)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events, err := l.LifecycleEvents(ctx)
	if err != nil {
		cancel()
		_ = l.Disconnect()
		t.Fatal(err)
	}
	c := &lifecycleCounter{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			if ev.Dom.Name != name {
				continue
			}
			c.mu.Lock()
			switch libvirt.DomainEventType(ev.Event) {
			case libvirt.DomainEventStarted:
				if libvirt.DomainEventStartedDetailType(ev.Detail) == libvirt.DomainEventStartedWakeup {
					c.woken++ // a pmsuspended guest woken: the same QEMU goes on
					break
				}
				c.started++
			case libvirt.DomainEventStopped:
				c.stopped++
			}
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = l.Disconnect()
		<-done
	})
	return c
}

func (c *lifecycleCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started, c.stopped, c.woken = 0, 0, 0
}

func (c *lifecycleCounter) counts() (started, stopped int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started, c.stopped
}

// restartedOnce wants exactly one stop and one start since reset (events
// arrive within tens of milliseconds; a second restart would too).
func (c *lifecycleCounter) restartedOnce() resource.TestCheckFunc {
	return func(*terraform.State) error {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if s, p := c.counts(); s >= 1 && p >= 1 {
				break
			}
		}
		time.Sleep(time.Second)
		if s, p := c.counts(); s != 1 || p != 1 {
			return fmt.Errorf("during the apply the domain was stopped %d and started %d times, want once each", p, s)
		}
		return nil
	}
}

func (c *lifecycleCounter) notRestarted() resource.TestCheckFunc {
	return func(*terraform.State) error {
		time.Sleep(time.Second)
		if s, p := c.counts(); s != 0 || p != 0 {
			return fmt.Errorf("a live change stopped the domain %d and started it %d times, want never", p, s)
		}
		return nil
	}
}

// restartedAtMostOnce wants no stop and start, or one of each, since reset.
func (c *lifecycleCounter) restartedAtMostOnce(t *testing.T) resource.TestCheckFunc {
	return func(*terraform.State) error {
		time.Sleep(time.Second)
		s, p := c.counts()
		if (s != 0 || p != 0) && (s != 1 || p != 1) {
			return fmt.Errorf("the domain was stopped %d and started %d times, want never or once each", p, s)
		}
		t.Logf("vCPU unplug: the domain was restarted %d times", s)
		return nil
	}
}
