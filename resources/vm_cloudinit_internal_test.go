package resources

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/cloudinit"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// ciVM is a VM as state holds it, with a cloud_init block of userData and
// metaData ("" for none) in pool, or none when pool is "".
func ciVM(running bool, userData, metaData, pool string) vmModel {
	str, null := types.StringValue, types.StringNull()
	m := vmModel{
		HostID: str("h"), Name: str("web"), Vcpu: types.Int64Value(1), Memory: types.Int64Value(128),
		MaxMemory: types.Int64Value(128), Autostart: types.BoolValue(false), Running: types.BoolValue(running),
		Graphics: str("none"), DomainType: str("qemu"), ShutdownTimeout: str("60s"),
		Disks: disksValue(nil), Interfaces: nicsValue(nil), WaitForIP: types.ObjectNull(waitAttrTypes),
		CloudInit: types.ObjectNull(cloudInitAttrTypes),
		ID:        str("h/web"), UUID: str("0b5f4e3e-6a55-4a0f-8a8e-7b1c3f0d2e11"), DomainID: types.Int64Value(1),
		State: str("running"), ConfigJSON: str(`{"name":"web"}`), Drift: driftValue(nil),
		PendingRestart: types.BoolValue(false), IPAddresses: vmStringList(nil), Unmanaged: vmStringList(nil), ConsoleLog: str("/p/web-console.log"),
	}
	m.Timeouts.Object = types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType, "delete": types.StringType})
	if pool != "" {
		meta := null
		if metaData != "" {
			meta = str(metaData)
		}
		m.CloudInit = types.ObjectValueMust(cloudInitAttrTypes, map[string]attr.Value{
			"user_data": str(userData), "meta_data": meta, "network_config": null, "pool": str(pool),
		})
	}
	return m
}

// imported is a VM with a seed as an import leaves it: no block in state,
// the seed cdrom in the recorded configuration.
func imported() vmModel {
	m := ciVM(true, "", "", "")
	rec := vminfo.VMInfo{Name: "web", Disks: []vminfo.Disk{{Device: "cdrom", Bus: seedBus, Target: seedTarget, Pool: "p", Volume: "web-cidata.iso"}}}
	raw, _ := rec.Marshal()
	m.ConfigJSON = types.StringValue(string(raw))
	return m
}

// modifyPlan runs the resource's ModifyPlan from prior to planned (whose
// configuration is the plan itself) and returns its diagnostics.
func modifyPlan(t *testing.T, prior, planned vmModel) diag.Diagnostics {
	t.Helper()
	return runModifyPlan(t, prior, planned).Diagnostics
}

// runModifyPlan is modifyPlan's whole response.
func runModifyPlan(t *testing.T, prior, planned vmModel) resource.ModifyPlanResponse {
	t.Helper()
	ctx := context.Background()
	s := vmSchemaV0(ctx)
	null := tftypes.NewValue(s.Type().TerraformType(ctx), nil)
	state, plan := tfsdk.State{Schema: s, Raw: null}, tfsdk.Plan{Schema: s, Raw: null}
	if d := append(setVM(ctx, &state, prior), setVM(ctx, &plan, planned)...); d.HasError() {
		t.Fatal(d)
	}
	resp := resource.ModifyPlanResponse{Plan: plan}
	req := resource.ModifyPlanRequest{State: state, Plan: plan, Config: tfsdk.Config{Schema: s, Raw: plan.Raw}}
	(&vmResource{}).ModifyPlan(ctx, req, &resp)
	return resp
}

// A change of cloud_init is a warning on the block that names the VM and
// says whether the VM restarts and whether cloud-init sees a new instance;
// anything else plans silently.
func TestModifyPlanWarnsOnCloudInitChange(t *testing.T) {
	const ud1, ud2, meta = "#cloud-config\n# 1\n", "#cloud-config\n# 2\n", "instance-id: mine\n"
	tests := []struct {
		name         string
		prior, plan  vmModel
		summary      string
		detail, not  []string
		wantWarnings int
	}{
		{"user_data changes", ciVM(true, ud1, "", "p"), ciVM(true, ud2, "", "p"), "cloud_init changes on vm web",
			[]string{`rewrites the seed volume "web-cidata.iso" in pool "p"`, "not restarted", "until the domain next starts", "new instance"},
			[]string{"is restarted"}, 1},
		{"own meta_data kept", ciVM(true, ud1, meta, "p"), ciVM(true, ud2, meta, "p"), "cloud_init changes on vm web",
			[]string{"not restarted", "same instance"}, nil, 1},
		{"added to a running VM", ciVM(true, "", "", ""), ciVM(true, ud1, "", "p"), "cloud_init added to vm web",
			[]string{`creates the NoCloud seed volume "web-cidata.iso" in pool "p"`, "the running VM is restarted"}, nil, 1},
		{"removed from a stopped VM", ciVM(false, ud1, "", "p"), ciVM(false, "", "", ""), "cloud_init removed from vm web",
			[]string{`deletes the volume "web-cidata.iso" from pool "p"`, "stopped"}, []string{"restarted"}, 1},
		{"pool changes", ciVM(true, ud1, "", "p"), ciVM(true, ud1, "", "q"), "cloud_init seed moves on vm web",
			[]string{`in pool "q"`, `the one in pool "p"`, "restarted"}, nil, 1},
		{"taken over after import", imported(), ciVM(true, ud1, "", "p"), "cloud_init taken over on vm web",
			[]string{`already attaches the seed volume "web-cidata.iso" of pool "p"`, "not restarted"}, []string{"is restarted"}, 1},
		{"unchanged", ciVM(true, ud1, "", "p"), ciVM(false, ud1, "", "p"), "", nil, nil, 0},
		{"no block", ciVM(true, "", "", ""), ciVM(false, "", "", ""), "", nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diags := modifyPlan(t, tt.prior, tt.plan)
			if diags.HasError() || len(diags.Warnings()) != tt.wantWarnings {
				t.Fatalf("diagnostics %v, want %d warning(s)", diags, tt.wantWarnings)
			}
			if tt.wantWarnings == 0 {
				return
			}
			w := diags.Warnings()[0]
			if w.Summary() != tt.summary {
				t.Errorf("summary %q, want %q", w.Summary(), tt.summary)
			}
			if wp, ok := w.(diag.DiagnosticWithPath); !ok || !wp.Path().Equal(path.Root("cloud_init")) {
				t.Errorf("warning not on cloud_init: %#v", w)
			}
			for _, s := range tt.detail {
				if !strings.Contains(w.Detail(), s) {
					t.Errorf("detail %q lacks %q", w.Detail(), s)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(w.Detail(), s) {
					t.Errorf("detail %q says %q", w.Detail(), s)
				}
			}
		})
	}
}

// validateConfig runs the resource's ValidateConfig on m as configuration.
func validateConfig(t *testing.T, m vmModel) diag.Diagnostics {
	t.Helper()
	ctx := context.Background()
	s := vmSchemaV0(ctx)
	state := tfsdk.State{Schema: s, Raw: tftypes.NewValue(s.Type().TerraformType(ctx), nil)}
	if d := setVM(ctx, &state, m); d.HasError() {
		t.Fatal(d)
	}
	var resp resource.ValidateConfigResponse
	(&vmResource{}).ValidateConfig(ctx, resource.ValidateConfigRequest{Config: tfsdk.Config{Schema: s, Raw: state.Raw}}, &resp)
	return resp.Diagnostics
}

// Every problem of the block is an error on its attribute, found before
// anything is planned; a valid block passes.
func TestValidateConfigCloudInit(t *testing.T) {
	if d := validateConfig(t, ciVM(true, "#cloud-config\n", "", "p")); d.HasError() {
		t.Fatalf("a valid block: %v", d)
	}
	bad := ciVM(true, "#cloud-config\n"+strings.Repeat("x", cloudinit.MaxPartBytes), "instance-id x\n", "p")
	noPool := ciVM(true, "#cloud-config\n", "", "p")
	a := noPool.CloudInit.Attributes()
	a["pool"] = types.StringNull()
	noPool.CloudInit = types.ObjectValueMust(cloudInitAttrTypes, a)
	reserved := ciVM(true, "", "", "p")
	reserved.Disks = disksValue([]vminfo.Disk{{Device: "disk", Bus: "scsi", Target: seedTarget, Path: "/a"}})
	for _, tc := range []struct {
		m     vmModel
		paths []path.Path
		want  []string
	}{
		{bad, []path.Path{path.Root("cloud_init").AtName("user_data"), path.Root("cloud_init").AtName("meta_data")},
			[]string{"over the limit of 1048576 bytes", `line 1 is not "key: value"`}},
		{noPool, []path.Path{path.Root("cloud_init").AtName("pool")}, []string{"cloud_init needs pool"}},
		{reserved, []path.Path{path.Root("disk").AtListIndex(0).AtName("target")}, []string{`"sdg" is the cloud_init seed's cdrom`}},
	} {
		d := validateConfig(t, tc.m)
		if len(d.Errors()) != len(tc.paths) {
			t.Fatalf("errors %v, want %d", d, len(tc.paths))
		}
		for i, e := range d.Errors() {
			if wp, ok := e.(diag.DiagnosticWithPath); !ok || !wp.Path().Equal(tc.paths[i]) || !strings.Contains(e.Detail(), tc.want[i]) {
				t.Errorf("error %d: %s: %s, want %s on %s", i, e.Summary(), e.Detail(), tc.want[i], tc.paths[i])
			}
		}
		if strings.Contains(d.Errors()[0].Detail(), "xxxx") {
			t.Error("an error quotes user_data")
		}
	}
}

// The seed cdrom is the provider's: it is not one of the disk blocks, and
// destroy finds its pool in the block or in the recorded disks (after an
// import, state has no block).
func TestSeedDiskAndPools(t *testing.T) {
	m := ciVM(true, "#cloud-config\n", "", "p")
	seed := m.seedDisks()
	if len(seed) != 1 || seed[0].Volume != "web-cidata.iso" || seed[0].Bus != "scsi" || !seed[0].ReadOnly || seed[0].Target != seedTarget {
		t.Fatalf("seed disk %+v", seed)
	}
	user := vminfo.Disk{Device: "disk", Pool: "p", Volume: "web.qcow2", Target: "vda"}
	if got := withoutSeed([]vminfo.Disk{user, seed[0]}, "web"); len(got) != 1 || got[0] != user {
		t.Errorf("withoutSeed = %+v", got)
	}
	if got := seedPools(m); len(got) != 1 || got[0] != "p" {
		t.Errorf("seedPools with the block = %v", got)
	}
	if got := seedPools(imported()); len(got) != 1 || got[0] != "p" {
		t.Errorf("seedPools after import = %v", got)
	}
	if d := m.seedDigest(); len(d) != 64 || d == ciVM(true, "#cloud-config\n# other\n", "", "p").seedDigest() {
		t.Errorf("seed digest %q does not follow the seed", d)
	}
}

func TestNewDomainUUID(t *testing.T) {
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := vminfo.NewUUID(), vminfo.NewUUID()
	if !v4.MatchString(a) || a == b {
		t.Errorf("uuids %s, %s: want two distinct version 4 uuids", a, b)
	}
}
