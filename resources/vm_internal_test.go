package resources

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

func TestParseVMID(t *testing.T) {
	for _, tc := range []struct {
		id, host, name string
		ok             bool
	}{
		{"kvm1/web", "kvm1", "web", true},
		{"dc1/kvm1/web", "dc1/kvm1", "web", true}, // domain names have no slash
		{"web", "", "", false},
		{"/web", "", "", false},
		{"kvm1/", "", "", false},
		{"", "", "", false},
	} {
		host, name, ok := parseVMID(tc.id)
		if host != tc.host || name != tc.name || ok != tc.ok {
			t.Errorf("parseVMID(%q) = %q, %q, %t; want %q, %q, %t", tc.id, host, name, ok, tc.host, tc.name, tc.ok)
		}
	}
}

// current is a definition as libvirt hands it back: our devices plus what
// libvirt added (addresses, a controller, video).
const testCurrentXML = `<domain type="test">
  <name>web</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit="KiB">65536</memory>
  <currentMemory unit="KiB">65536</currentMemory>
  <vcpu placement="static">1</vcpu>
  <os><type arch="x86_64">hvm</type><boot dev="hd"/></os>
  <devices>
    <disk type="file" device="disk">
      <source file="/img/web.img"/>
      <target dev="vda" bus="virtio"/>
      <address type="pci" domain="0x0000" bus="0x00" slot="0x04" function="0x0"/>
    </disk>
    <controller type="usb" index="0"/>
    <interface type="network">
      <mac address="52:54:00:aa:bb:cc"/>
      <source network="default"/>
      <model type="virtio"/>
      <address type="pci" domain="0x0000" bus="0x00" slot="0x03" function="0x0"/>
    </interface>
    <graphics type="vnc" port="-1" autoport="yes" listen="127.0.0.1"/>
    <video><model type="vga"/></video>
  </devices>
</domain>`

func testSpec() vminfo.Spec {
	return vminfo.Spec{
		Name: "web", UUID: "6695eb01-f6a4-8304-79aa-97f2502e193f", DomainType: "test",
		MemoryKiB: 65536, Vcpu: 1, Graphics: "vnc",
		Disks:      []vminfo.Disk{{Path: "/img/web.img"}},
		Interfaces: []vminfo.Interface{{Type: "network", Source: "default", Model: "virtio"}},
	}
}

func mergeSpec(t *testing.T, s vminfo.Spec) (libvirtxml.Domain, bool) {
	t.Helper()
	built, err := vminfo.BuildXML(s)
	if err != nil {
		t.Fatal(err)
	}
	formats := make([]string, len(s.Disks))
	for i, d := range s.Disks {
		formats[i] = d.Format
	}
	merged, changed, err := mergeDefinition(testCurrentXML, built, formats)
	if err != nil {
		t.Fatal(err)
	}
	var d libvirtxml.Domain
	if err := d.Unmarshal(merged); err != nil {
		t.Fatal(err)
	}
	return d, changed
}

func TestMergeDefinitionUnchanged(t *testing.T) {
	if _, changed := mergeSpec(t, testSpec()); changed {
		t.Error("the same spec reports a change")
	}
}

// A memory change keeps every device as it was, addresses included.
func TestMergeDefinitionKeepsDevices(t *testing.T) {
	s := testSpec()
	s.MemoryKiB = 131072
	d, changed := mergeSpec(t, s)
	if !changed {
		t.Fatal("memory change not detected")
	}
	if d.Memory.Value != 131072 || d.CurrentMemory.Value != 131072 {
		t.Errorf("memory %v/%v, want 131072", d.Memory, d.CurrentMemory)
	}
	if len(d.Devices.Videos) != 1 || len(d.Devices.Controllers) != 1 {
		t.Error("devices libvirt added were dropped")
	}
	if d.Devices.Disks[0].Address == nil || d.Devices.Interfaces[0].Address == nil {
		t.Error("unchanged disk or interface lost its address")
	}
}

// A new disk and a changed interface are replaced; the rest stays.
func TestMergeDefinitionReplacesChangedDevices(t *testing.T) {
	s := testSpec()
	s.Disks = append(s.Disks, vminfo.Disk{Path: "/img/data.img", Bus: "scsi"})
	s.Interfaces[0].Model = "e1000"
	d, changed := mergeSpec(t, s)
	if !changed {
		t.Fatal("device change not detected")
	}
	if len(d.Devices.Disks) != 2 || d.Devices.Disks[0].Address == nil {
		t.Errorf("disks %d (first keeps its address: %t)", len(d.Devices.Disks), d.Devices.Disks[0].Address != nil)
	}
	if d.Devices.Disks[1].Target.Dev != "sda" {
		t.Errorf("new scsi disk target %q, want sda", d.Devices.Disks[1].Target.Dev)
	}
	scsi := false
	for _, c := range d.Devices.Controllers {
		scsi = scsi || c.Type == "scsi"
	}
	if !scsi {
		t.Error("no scsi controller for the scsi disk")
	}
	nic := d.Devices.Interfaces[0]
	if nic.Model.Type != "e1000" || nic.Address != nil {
		t.Errorf("interface not replaced: model %q", nic.Model.Type)
	}
}

// A planned interface without a MAC matches the current one; a graphics
// change replaces the graphics device.
func TestMergeDefinitionGraphics(t *testing.T) {
	s := testSpec()
	s.Graphics = "none"
	d, changed := mergeSpec(t, s)
	if !changed || len(d.Devices.Graphics) != 0 {
		t.Errorf("graphics none: changed %t, %d graphics devices", changed, len(d.Devices.Graphics))
	}
	if d.Devices.Interfaces[0].MAC == nil || !strings.EqualFold(d.Devices.Interfaces[0].MAC.Address, "52:54:00:aa:bb:cc") {
		t.Error("interface MAC not kept")
	}
}

// TestVMModelConversion checks getVM and setVM against the framework's own
// struct conversion for a model with every attribute and block set.
func TestVMModelConversion(t *testing.T) {
	ctx := context.Background()
	s := vmSchemaV0(ctx)
	str := types.StringValue
	m := vmModel{
		HostID: str("h"), Name: str("web"), Vcpu: types.Int64Value(2), Memory: types.Int64Value(512),
		MaxMemory: types.Int64Value(1024), Autostart: types.BoolValue(true), Running: types.BoolValue(false),
		Graphics: str("none"), DomainType: str("test"), ShutdownTimeout: str("30s"),
		Disks:      disksValue([]vminfo.Disk{{Device: "disk", Bus: "virtio", Target: "vda", Path: "/img", Format: "raw"}}),
		Interfaces: nicsValue([]vminfo.Interface{{Type: "network", Source: "default", Model: "virtio", MAC: "52:54:00:00:00:01"}}),
		WaitForIP:  types.ObjectValueMust(waitAttrTypes, map[string]attr.Value{"source": str("lease"), "timeout": str("1m")}),
		Timeouts: timeouts.Value{Object: types.ObjectValueMust(map[string]attr.Type{
			"create": types.StringType, "update": types.StringType, "delete": types.StringType,
		}, map[string]attr.Value{"create": str("1m"), "update": types.StringNull(), "delete": str("2m")})},
		ID: str("h/web"), UUID: str("0b5f4e3e-6a55-4a0f-8a8e-7b1c3f0d2e11"), DomainID: types.Int64Value(0),
		State: str("shut off"), ConfigJSON: str(`{"name":"web"}`),
		Drift:          driftValue([]vminfo.Drift{{Field: "memory", Recorded: "1", Live: "2"}}),
		PendingRestart: types.BoolValue(false), IPAddresses: vmStringList([]string{"192.0.2.1"}), Unmanaged: vmStringList([]string{"hostdev pci 0000:01:00.0"}),
		CloudInit: types.ObjectValueMust(cloudInitAttrTypes, map[string]attr.Value{"user_data": str("#cloud-config\n"),
			"meta_data": types.StringNull(), "network_config": types.StringNull(), "pool": str("p")}),
		ConsoleLog: str("/p/web-console.log"),
	}
	null := tftypes.NewValue(s.Type().TerraformType(ctx), nil)
	framework := tfsdk.State{Schema: s, Raw: null}
	if d := framework.Set(ctx, &m); d.HasError() {
		t.Fatal(d)
	}
	ours := tfsdk.State{Schema: s, Raw: null}
	if d := setVM(ctx, &ours, m); d.HasError() {
		t.Fatal(d)
	}
	if !ours.Raw.Equal(framework.Raw) {
		diffs, _ := framework.Raw.Diff(ours.Raw)
		t.Fatalf("setVM differs from State.Set: %v", diffs)
	}
	var got, want vmModel
	if d := getVM(ctx, framework, &got); d.HasError() {
		t.Fatal(d)
	}
	if d := framework.Get(ctx, &want); d.HasError() {
		t.Fatal(d)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("getVM = %+v\nState.Get = %+v", got, want)
	}
}

// TestVMBlockConversion checks disksOf/diskList and nicsOf/nicList against
// the framework's ElementsAs and ListValueFrom.
func TestVMBlockConversion(t *testing.T) {
	ctx := context.Background()
	str := types.StringValue
	disks := []vmDiskModel{
		{Pool: types.StringNull(), Volume: types.StringNull(), Path: str("/a"), Device: str("disk"), Bus: str("virtio"),
			ReadOnly: types.BoolValue(false), Target: str("vda"), Format: types.StringUnknown()},
		{Pool: str("p"), Volume: str("v"), Path: types.StringNull(), Device: str("cdrom"), Bus: types.StringNull(),
			ReadOnly: types.BoolUnknown(), Target: types.StringNull(), Format: str("raw")},
	}
	want, d := types.ListValueFrom(ctx, diskObjType, disks)
	got, d2 := diskList(disks)
	if d.HasError() || d2.HasError() || !got.Equal(want) {
		t.Fatalf("diskList = %v (%v), ListValueFrom = %v (%v)", got, d2, want, d)
	}
	back, d := disksOf(ctx, got)
	if d.HasError() || !reflect.DeepEqual(back, disks) {
		t.Fatalf("disksOf = %+v (%v), want %+v", back, d, disks)
	}
	nics := []vmNICModel{{Network: str("default"), Bridge: types.StringNull(), Model: str("virtio"), MAC: types.StringUnknown()}}
	wantN, d := types.ListValueFrom(ctx, nicObjType, nics)
	gotN, d2 := nicList(nics)
	if d.HasError() || d2.HasError() || !gotN.Equal(wantN) {
		t.Fatalf("nicList = %v (%v), ListValueFrom = %v (%v)", gotN, d2, wantN, d)
	}
	backN, d := nicsOf(ctx, gotN)
	if d.HasError() || !reflect.DeepEqual(backN, nics) {
		t.Fatalf("nicsOf = %+v (%v), want %+v", backN, d, nics)
	}
	if l, d := disksOf(ctx, types.ListUnknown(diskObjType)); l != nil || d.HasError() {
		t.Fatalf("disksOf(unknown) = %v, %v", l, d)
	}
}

// An update keeps what the schema does not model: a direct interface placed
// before the managed one and a hostdev stay, and the managed interface at
// position 0 of the plan still matches the network one.
func TestMergeDefinitionKeepsUnmanagedDevices(t *testing.T) {
	current := strings.Replace(testCurrentXML, `<interface type="network">`,
		`<interface type="direct"><source dev="eth0" mode="bridge"/></interface>
    <hostdev mode="subsystem" type="pci"><source><address domain="0x0000" bus="0x01" slot="0x00" function="0x0"/></source></hostdev>
    <interface type="network">`, 1)
	s := testSpec()
	s.MemoryKiB = 131072
	built, err := vminfo.BuildXML(s)
	if err != nil {
		t.Fatal(err)
	}
	merged, changed, err := mergeDefinition(current, built, []string{""})
	if err != nil || !changed {
		t.Fatalf("changed %t, err %v", changed, err)
	}
	var d libvirtxml.Domain
	if err := d.Unmarshal(merged); err != nil {
		t.Fatal(err)
	}
	if len(d.Devices.Hostdevs) != 1 {
		t.Error("the hostdev was dropped")
	}
	var direct, network int
	for _, i := range d.Devices.Interfaces {
		switch {
		case i.Source.Direct != nil:
			direct++
		case i.Source.Network != nil && i.Address != nil:
			network++ // kept its own element, address included
		}
	}
	if direct != 1 || network != 1 || len(d.Devices.Interfaces) != 2 {
		t.Errorf("interfaces %d (direct %d, network kept %d), want the direct one kept and the network one unchanged",
			len(d.Devices.Interfaces), direct, network)
	}
	if _, changed, _ := mergeDefinition(current, builtOf(t, testSpec()), []string{""}); changed {
		t.Error("an unchanged spec reports a change beside a direct interface")
	}
}

func builtOf(t *testing.T, s vminfo.Spec) string {
	t.Helper()
	b, err := vminfo.BuildXML(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
