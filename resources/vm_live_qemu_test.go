package resources_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/testguest"
)

// TestAccVMLive boots the tiny guest once and changes it while it runs:
// vcpu and memory within their maxima and a second virtio NIC reach the
// guest live (same domain id; the agent counts the vCPUs, the balloon
// target moves); graphics needs a restart, which restart = "never" leaves
// pending and "auto" then takes, planned (domain_id unknown) before it
// happens; a domain paused behind Terraform's back is resumed.
func TestAccVMLive(t *testing.T) {
	acctest.PreCheck(t)
	e := newLiveEnv(t)
	cfg := func(vcpu, memory int, graphics, restart string, nics int) string {
		return e.liveHCL(vcpu, memory, graphics, restart, strings.Repeat(nic(""), nics)+waitFor("agent", "5m"))
	}
	sameID := statecheck.CompareValue(compare.ValuesSame())
	idKnown := plancheck.ExpectKnownValue(vmRes, attr("domain_id"), knownvalue.Int64Func(vmPositive))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             e.guestDestroyed(),
		Steps: []resource.TestStep{
			{
				Config:            cfg(1, 128, "none", "auto", 1),
				ConfigStateChecks: []statecheck.StateCheck{sameID.AddStateValue(vmRes, attr("domain_id")), expect("max_vcpu", knownvalue.Int64Exact(2))},
				Check:             e.guestVcpus(1),
			},
			{
				Config: cfg(2, 160, "none", "auto", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate), idKnown,
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(vmRes, attr("domain_id")), expect("pending_restart", knownvalue.Bool(false)),
				},
				Check: resource.ComposeTestCheckFunc(e.guestVcpus(2), e.balloon(160*1024)),
			},
			{
				Config:           cfg(2, 160, "none", "auto", 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{idKnown}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(vmRes, attr("domain_id")), expect("pending_restart", knownvalue.Bool(false)),
					expect("network_interface", knownvalue.ListSizeExact(2)),
				},
				Check: e.liveNICs(2),
			},
			{
				Config:           cfg(2, 160, "vnc", "never", 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{idKnown}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(vmRes, attr("domain_id")), expect("pending_restart", knownvalue.Bool(true)),
				},
			},
			{
				Config: cfg(2, 160, "vnc", "auto", 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(vmRes, attr("domain_id")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("pending_restart", knownvalue.Bool(false)), expect("graphics", knownvalue.StringExact("vnc")),
				},
				Check: e.guestVcpus(2),
			},
			{
				PreConfig: func() {
					if err := e.lv.DomainSuspend(e.domain(e.vm)); err != nil {
						t.Fatalf("suspend: %v", err)
					}
				},
				Config: cfg(2, 160, "vnc", "auto", 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate), idKnown,
					plancheck.ExpectUnknownValue(vmRes, attr("state")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{expect("state", knownvalue.StringExact("running"))},
				Check:             e.guestVcpus(2),
			},
		},
	})
}

// newLiveEnv is a guestEnv whose names start with lv- on 10.77.122.0/24.
func newLiveEnv(t *testing.T) *guestEnv { return newGuestEnvNamed(t, "lv", 122) }

// guestVcpus asks the guest's agent how many vCPUs are online.
func (e *guestEnv) guestVcpus(want int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var got int
		var err error
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
			if got, err = e.agentVcpus(); err == nil && got == want {
				return nil
			}
		}
		return fmt.Errorf("the guest's agent reports %d online vCPUs, want %d (last error: %w)", got, want, err)
	}
}

func (e *guestEnv) agentVcpus() (int, error) {
	res, err := e.lv.QEMUDomainAgentCommand(e.domain(e.vm), `{"execute":"guest-get-vcpus"}`, 5, 0)
	if err != nil {
		return 0, fmt.Errorf("guest-get-vcpus: %w", err)
	}
	if len(res) == 0 {
		return 0, fmt.Errorf("guest-get-vcpus: no answer")
	}
	var out struct {
		Return []struct {
			Online bool `json:"online"`
		} `json:"return"`
	}
	if err := json.Unmarshal([]byte(res[0]), &out); err != nil {
		return 0, err
	}
	n := 0
	for _, c := range out.Return {
		if c.Online {
			n++
		}
	}
	return n, nil
}

// balloon checks the running domain's balloon target (live <currentMemory>).
func (e *guestEnv) balloon(kib uint) resource.TestCheckFunc {
	return func(*terraform.State) error {
		x := e.liveXML()
		if x.CurrentMemory == nil || x.CurrentMemory.Value != kib {
			return fmt.Errorf("live currentMemory %+v, want %d KiB", x.CurrentMemory, kib)
		}
		return nil
	}
}

func (e *guestEnv) liveNICs(want int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if x := e.liveXML(); x.Devices == nil || len(x.Devices.Interfaces) != want {
			return fmt.Errorf("running domain has not %d interfaces", want)
		}
		return nil
	}
}

func (e *guestEnv) liveXML() libvirtxml.Domain {
	doc, err := e.lv.DomainGetXMLDesc(e.domain(e.vm), 0)
	var x libvirtxml.Domain
	if err == nil {
		err = x.Unmarshal(doc)
	}
	if err != nil {
		e.t.Fatalf("live XML of %s: %v", e.vm, err)
	}
	return x
}

// liveHCL is guestEnv.hcl with the VM's vcpu, memory, graphics and
// restart chosen (maxima 2 vCPUs and 192 MiB).
func (e *guestEnv) liveHCL(vcpu, memory int, graphics, restart, body string) string {
	return e.hostHCL() + guestStorageHCL(e.pool, e.poolDir, e.base, testguest.Image(e.t), e.vm+".qcow2") +
		e.networkHCL("") + fmt.Sprintf(`
resource "virtumancer_vm" "t" {
  host_id     = virtumancer_host.h.id
  name        = %[1]q
  domain_type = "qemu"
  vcpu        = %[2]d
  max_vcpu    = 2
  memory      = %[3]d
  max_memory  = 192
  graphics    = %[4]q
  restart     = %[5]q

  disk {
    pool   = virtumancer_volume.root.pool
    volume = virtumancer_volume.root.name
  }
%[6]s}
`, e.vm, vcpu, memory, graphics, restart, body)
}
