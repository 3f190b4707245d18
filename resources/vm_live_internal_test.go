package resources

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// liveVMModel is a running VM as state holds it: 1 of 2 vCPUs, 128 of 256 MiB.
func liveVMModel() vmModel {
	m := ciVM(true, "", "", "")
	m.MaxVcpu, m.MaxMemory, m.Restart = types.Int64Value(2), types.Int64Value(256), types.StringValue(vmRestartAuto)
	return m
}

// planVM runs ModifyPlan from prior to planned and returns its diagnostics
// and the planned domain_id.
func planVM(t *testing.T, prior, planned vmModel) ([]string, types.Int64) {
	t.Helper()
	resp := runModifyPlan(t, prior, planned)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics)
	}
	var id types.Int64
	resp.Plan.GetAttribute(context.Background(), path.Root("domain_id"), &id)
	var out []string
	for _, d := range resp.Diagnostics.Warnings() {
		out = append(out, d.Summary()+": "+d.Detail())
	}
	return out, id
}

// The plan warns, naming the VM, the attribute and the reason, exactly
// when a running VM needs a restart, and plans domain_id unknown only then;
// live changes plan quietly with the id kept; never warns without a restart.
func TestModifyPlanRestartWarning(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*vmModel)
		warn    string // "" for none
		restart bool
	}{
		{"vcpu and memory within the maxima", func(m *vmModel) { m.Vcpu, m.Memory = types.Int64Value(2), types.Int64Value(192) }, "", false},
		{"max_vcpu", func(m *vmModel) { m.MaxVcpu = types.Int64Value(4) }, `VM "web" will be restarted: vm "web" on host "h" is running; ` +
			`the apply shuts it down (forced off after shutdown_timeout) and starts it again for: max_vcpu (QEMU fixes the most vCPUs`, true},
		{"graphics", func(m *vmModel) { m.Graphics = types.StringValue("vnc") }, "graphics (QEMU cannot add or remove a VNC or SPICE console", true},
		{"graphics, never", func(m *vmModel) { m.Graphics, m.Restart = types.StringValue("vnc"), types.StringValue(vmRestartNever) },
			`VM "web" needs a restart it will not get: vm "web" on host "h": graphics (`, false},
		{"sata disk", func(m *vmModel) {
			m.Disks = disksValue([]vminfo.Disk{{Device: "cdrom", Bus: "sata", Target: "sda", Path: "/x.iso", ReadOnly: true, Format: "raw"}})
		}, "disks[sda] (QEMU cannot plug sata or ide devices", true},
		{"virtio disk", func(m *vmModel) {
			m.Disks = disksValue([]vminfo.Disk{{Device: "disk", Bus: "virtio", Target: "vdb", Path: "/x.img", Format: "raw"}})
		}, "", false},
		{"e1000 nic", func(m *vmModel) {
			m.Interfaces = nicsValue([]vminfo.Interface{{Type: "network", Source: "n", Model: "e1000"}})
		}, "interfaces[0] (only virtio interfaces", true},
		{"virtio nic", func(m *vmModel) {
			m.Interfaces = nicsValue([]vminfo.Interface{{Type: "network", Source: "n", Model: "virtio"}})
		}, "", false},
		{"pending restart taken when restart becomes auto", func(m *vmModel) { m.PendingRestart = types.BoolValue(true) },
			"pending_restart (changes an earlier apply left", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prior, planned := liveVMModel(), liveVMModel()
			tt.change(&planned)
			if tt.name == "pending restart taken when restart becomes auto" {
				prior.PendingRestart, prior.Restart = types.BoolValue(true), types.StringValue(vmRestartNever)
			}
			warnings, id := planVM(t, prior, planned)
			joined := strings.Join(warnings, "\n")
			switch {
			case tt.warn == "" && len(warnings) > 0:
				t.Errorf("warnings %q, want none", joined)
			case tt.warn != "" && !strings.Contains(joined, tt.warn):
				t.Errorf("warnings %q, want one holding %q", joined, tt.warn)
			}
			if id.IsUnknown() != tt.restart {
				t.Errorf("planned domain_id %v, want unknown=%t", id, tt.restart)
			}
		})
	}
}

// A paused domain plans an update (state unknown) that resumes it, and a
// crashed one (state "crashed") one that starts it, each with a warning.
func TestModifyPlanPowerState(t *testing.T) {
	paused := liveVMModel()
	paused.State = types.StringValue("paused")
	warnings, id := planVM(t, paused, paused)
	if len(warnings) != 1 || !strings.Contains(warnings[0], `VM "web" is paused`) || !strings.Contains(warnings[0], "resumes it") || id.IsUnknown() {
		t.Errorf("paused: warnings %q, domain_id %v; want the resume warning and the id kept", warnings, id)
	}
	crashed := liveVMModel()
	crashed.State, crashed.Running = types.StringValue("crashed"), types.BoolValue(false)
	want := liveVMModel()
	warnings, id = planVM(t, crashed, want)
	if len(warnings) != 1 || !strings.Contains(warnings[0], `VM "web" crashed`) || !id.IsUnknown() {
		t.Errorf("crashed: warnings %q, domain_id %v; want the crash warning and the id unknown", warnings, id)
	}
}

// Every rule the classifier can pick is in the table the docs render.
func TestChangeTableRendered(t *testing.T) {
	table := vmChangeTable()
	for _, r := range vmChangeRules {
		if !strings.Contains(table, "| "+r.Attribute+" | "+r.Mode+" | ") {
			t.Errorf("table lacks %q", r.Attribute)
		}
	}
	for _, key := range []string{"memory", "max_mem", "vcpu", "max_vcpu", "graphics", "disk.hotplug", "disk.other", "nic.hotplug", "nic.other", "other"} {
		if vmRule(key).key != key {
			t.Errorf("no rule %q", key)
		}
	}
}
