package resources_test

import (
	"encoding/base64"
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

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
)

// TestAccVMLive_devices: on the running tiny guest a virtio disk is
// attached, then detached, and a second virtio NIC attached, then
// detached, each live: the domain id stays, libvirt sends no stop or
// start, and the guest itself (asked through its agent) sees the disk in
// /proc/partitions and the NIC in /sys/class/net appear and go.
func TestAccVMLive_devices(t *testing.T) {
	acctest.PreCheck(t)
	e := newGuestEnvNamed(t, "lg", 62)
	ev := newLifecycleCounter(t, e.vm)
	data := e.vm + "-data.raw"
	t.Cleanup(func() { removeLeftPool(t, acctest.QemuURI, e.pool, data) })
	cfg := func(disk bool, nics int) string {
		body := strings.Repeat(nic(""), nics) + waitFor("agent", "5m")
		if disk {
			body += "  disk {\n    pool   = virtumancer_volume.data.pool\n    volume = virtumancer_volume.data.name\n  }\n"
		}
		return e.liveHCL(1, 128, "none", "auto", body) + fmt.Sprintf(`
resource "virtumancer_volume" "data" {
  host_id  = virtumancer_host.h.id
  pool     = virtumancer_pool.p.name
  name     = %q
  format   = "raw"
  capacity = 8
}
`, data)
	}
	sameID := statecheck.CompareValue(compare.ValuesSame())
	live := func(disk bool, nics int, check resource.TestCheckFunc) resource.TestStep {
		return resource.TestStep{
			PreConfig: ev.reset,
			Config:    cfg(disk, nics),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate),
				plancheck.ExpectKnownValue(vmRes, attr("domain_id"), knownvalue.Int64Func(vmPositive)),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				sameID.AddStateValue(vmRes, attr("domain_id")), expect("pending_restart", knownvalue.Bool(false)),
			},
			Check: resource.ComposeTestCheckFunc(ev.notRestarted(), check),
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             e.guestDestroyed(),
		Steps: []resource.TestStep{
			{
				Config:            cfg(false, 1),
				ConfigStateChecks: []statecheck.StateCheck{sameID.AddStateValue(vmRes, attr("domain_id"))},
				Check:             e.guestSees("/proc/partitions", "vdb", false),
			},
			live(true, 1, e.guestSees("/proc/partitions", "vdb", true)),
			live(false, 1, e.guestSees("/proc/partitions", "vdb", false)),
			live(false, 2, e.guestSees("/sys/class/net", "eth1", true)),
			live(false, 1, e.guestSees("/sys/class/net", "eth1", false)),
		},
	})
}

// guestSees waits up to 30 s for the guest to list (or no longer list)
// name in what (a file it cats, or a directory it lists), asked through
// its agent.
func (e *guestEnv) guestSees(what, name string, want bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		cmd := "cat"
		if strings.HasPrefix(what, "/sys/") {
			cmd = "ls"
		}
		var out string
		var err error
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
			if out, err = e.agentExec(cmd, what); err == nil && strings.Contains(out, name) == want {
				return nil
			}
		}
		verb := "no longer list"
		if want {
			verb = "list"
		}
		if err != nil {
			return fmt.Errorf("want the guest's `%s %s` to %s %s within 30 s: %w", cmd, what, verb, name, err)
		}
		return fmt.Errorf("want the guest's `%s %s` to %s %s within 30 s; it printed %q", cmd, what, verb, name, out)
	}
}

// agentExec runs busybox's cmd with args in the guest through guest-exec
// and returns its output.
func (e *guestEnv) agentExec(cmd string, args ...string) (string, error) {
	req, _ := json.Marshal(map[string]any{"execute": "guest-exec", "arguments": map[string]any{
		"path": "/bin/busybox", "arg": append([]string{cmd}, args...), "capture-output": true}})
	res, err := e.lv.QEMUDomainAgentCommand(e.domain(e.vm), string(req), 5, 0)
	if err != nil {
		return "", fmt.Errorf("guest-exec: %w", err)
	}
	if len(res) == 0 {
		return "", fmt.Errorf("guest-exec: no answer")
	}
	var started struct {
		Return struct {
			PID int `json:"pid"`
		} `json:"return"`
	}
	if err := json.Unmarshal([]byte(res[0]), &started); err != nil {
		return "", err
	}
	for i := 0; i < 50; i++ {
		res, err = e.lv.QEMUDomainAgentCommand(e.domain(e.vm), fmt.Sprintf(`{"execute":"guest-exec-status","arguments":{"pid":%d}}`, started.Return.PID), 5, 0)
		if err != nil {
			return "", fmt.Errorf("guest-exec-status: %w", err)
		}
		if len(res) == 0 {
			return "", fmt.Errorf("guest-exec-status: no answer")
		}
		var st struct {
			Return struct {
				Exited  bool   `json:"exited"`
				OutData string `json:"out-data"`
			} `json:"return"`
		}
		if err := json.Unmarshal([]byte(res[0]), &st); err != nil {
			return "", err
		}
		if st.Return.Exited {
			out, err := base64.StdEncoding.DecodeString(st.Return.OutData)
			return string(out), err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("guest-exec of %s %v did not exit", cmd, args)
}
