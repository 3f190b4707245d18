package vminfo

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile("testdata/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The domain every test:///default connection starts with, as captured from
// the daemon: memory below max, i686, a file disk without format, a network
// interface without model.
func TestFromXMLTestDriverDefault(t *testing.T) {
	rt := Runtime{ID: 1, State: StateRunning, CPUTime: 123, Persistent: true, Autostart: true}
	got, err := FromXML(readTestdata(t, "test/default-test.xml"), rt)
	if err != nil {
		t.Fatal(err)
	}
	want := VMInfo{
		ID: 1, Name: "test", State: StateRunning, MaxMem: 8388608, Memory: 2097152, Vcpu: 2, MaxVcpu: 2,
		CPUTime: 123, Uptime: -1, Persistent: true, Autostart: true,
		UUID: "6695eb01-f6a4-8304-79aa-97f2502e193f", DomainType: "test", OSType: "hvm", Arch: "i686",
		Disks:      []Disk{{Device: "disk", Target: "vda", Bus: "virtio", Path: "/guest/diskimage1"}},
		Interfaces: []Interface{{Type: "network", Source: "default", MAC: "aa:bb:cc:dd:ee:ff"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestFromXMLCapturedQEMU(t *testing.T) {
	got, err := FromXML(readTestdata(t, "qemu/full.xml"), Runtime{State: StateShutoff, Persistent: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxMem != 1048576 || got.Memory != 524288 || got.Vcpu != 2 || !got.Graphics.VNC || got.Graphics.Spice {
		t.Errorf("scalars: %+v", got)
	}
	if got.DomainType != "qemu" || got.Arch != "x86_64" || got.OSType != "hvm" || got.Uptime != -1 {
		t.Errorf("os: %+v", got)
	}
	wantDisks := []Disk{
		{Device: "disk", Target: "vda", Bus: "virtio", Path: "/var/lib/libvirt/images/vminfo-root.qcow2", Format: "qcow2"},
		{Device: "disk", Target: "vdb", Bus: "virtio", Pool: "default", Volume: "vminfo-data.qcow2"},
		{Device: "cdrom", Target: "sda", Bus: "sata", Path: "/var/lib/libvirt/images/vminfo-seed.iso", Format: "raw", ReadOnly: true},
		{Device: "disk", Target: "sdb", Bus: "scsi", Path: "/dev/vminfo-block", Format: "raw", ReadOnly: true},
	}
	if !reflect.DeepEqual(got.Disks, wantDisks) {
		t.Errorf("disks:\n got %+v\nwant %+v", got.Disks, wantDisks)
	}
	if len(got.Interfaces) != 2 || got.Interfaces[1] != (Interface{Type: "bridge", Source: "br0", Model: "e1000", MAC: "52:54:00:aa:bb:01"}) {
		t.Errorf("interfaces: %+v", got.Interfaces)
	}
}

// memoryXML is a domain with the given <memory> and optional
// <currentMemory>, to exercise units libvirt accepts but never writes.
func memoryXML(mem, cur string) string {
	return "<domain type='test'><name>m</name>" + mem + cur + "</domain>"
}

func TestFromXMLMemoryUnits(t *testing.T) {
	tests := []struct {
		mem, cur      string
		wantMax, want uint64
	}{
		{"<memory>1024</memory>", "", 1024, 1024}, // no unit: KiB
		{"<memory unit='KiB'>2048</memory>", "<currentMemory unit='k'>1024</currentMemory>", 2048, 1024},
		{"<memory unit='MiB'>512</memory>", "<currentMemory unit='M'>256</currentMemory>", 524288, 262144},
		{"<memory unit='GiB'>2</memory>", "<currentMemory unit='G'>1</currentMemory>", 2097152, 1048576},
		{"<memory unit='TiB'>1</memory>", "", 1 << 30, 1 << 30},
		{"<memory unit='b'>1048576</memory>", "<currentMemory unit='bytes'>524288</currentMemory>", 1024, 512},
		{"<memory unit='bytes'>1025</memory>", "", 2, 2}, // libvirt rounds bytes up to KiB
		{"<memory unit='KB'>1024</memory>", "", 1000, 1000},
		{"<memory unit='MB'>1</memory>", "", 977, 977}, // 1e6 bytes, rounded up
		{"<memory unit='GB'>1</memory>", "", 976563, 976563},
		{"<memory unit='mib'>1</memory>", "<currentMemory unit='KIB'>512</currentMemory>", 1024, 512},
		{"<memory unit='EiB'>15</memory>", "", 15 << 50, 15 << 50},
		{"<memory unit='KiB'> 64 </memory>", "", 64, 64},
	}
	for _, tt := range tests {
		t.Run(tt.mem+tt.cur, func(t *testing.T) {
			got, err := FromXML(memoryXML(tt.mem, tt.cur), Runtime{})
			if err != nil {
				t.Fatal(err)
			}
			if got.MaxMem != tt.wantMax || got.Memory != tt.want {
				t.Errorf("max_mem %d memory %d, want %d %d", got.MaxMem, got.Memory, tt.wantMax, tt.want)
			}
		})
	}
}

func TestToKiBLimits(t *testing.T) {
	fits := []struct {
		v    uint64
		unit string
		want uint64
	}{{math.MaxUint64, "b", 1 << 54}, {1<<54 - 1, "KiB", 1<<54 - 1}, {15, "EiB", 15 << 50}}
	for _, in := range fits {
		if got, err := toKiB(in.v, in.unit); err != nil || got != in.want {
			t.Errorf("toKiB(%d, %s) = %d, %v; want %d", in.v, in.unit, got, err, in.want)
		}
	}
	tooBig := []struct {
		v    uint64
		unit string
	}{{math.MaxUint64, "MiB"}, {16, "EiB"}, {1 << 54, "KiB"}, {math.MaxUint64, "KB"}}
	for _, in := range tooBig {
		if _, err := toKiB(in.v, in.unit); err == nil || !strings.Contains(err.Error(), "does not fit") {
			t.Errorf("toKiB(%d, %s) error = %v, want overflow", in.v, in.unit, err)
		}
	}
}

func TestFromXMLDevices(t *testing.T) {
	x := `<domain type='kvm'><name>d</name><memory>1</memory><vcpu current='3'>8</vcpu>
<os><type arch='aarch64' machine='virt'>hvm</type></os>
<devices>
 <disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/sdb'/><target dev='sdb' bus='scsi'/></disk>
 <disk type='volume'><source pool='p' volume='v'/><target dev='vdc' bus='virtio'/></disk>
 <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
 <disk type='network' device='disk'><source protocol='rbd' name='pool/img'/><target dev='vdd' bus='virtio'/></disk>
 <disk type='dir' device='floppy'><source dir='/srv/fd'/><target dev='fda' bus='fdc'/></disk>
 <interface type='bridge'><mac address='52:54:00:AB:CD:EF'/><source bridge='br0'/><model type='e1000'/></interface>
 <interface type='user'/>
 <interface type='direct'><source dev='eth0' mode='bridge'/></interface>
 <interface type='ethernet'/>
 <interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/></interface>
 <graphics type='spice' autoport='yes'/><graphics type='vnc' port='5900'/><graphics type='sdl'/>
</devices></domain>`
	got, err := FromXML(x, Runtime{})
	if err != nil {
		t.Fatal(err)
	}
	want := VMInfo{
		Name: "d", MaxMem: 1, Memory: 1, Vcpu: 3, MaxVcpu: 8, Uptime: -1, Graphics: Graphics{VNC: true, Spice: true},
		DomainType: "kvm", OSType: "hvm", Arch: "aarch64",
		Disks: []Disk{
			{Device: "disk", Target: "sdb", Bus: "scsi", Path: "/dev/sdb", Format: "raw"},
			{Device: "disk", Target: "vdc", Bus: "virtio", Pool: "p", Volume: "v"},
			{Device: "cdrom", Target: "hdc", Bus: "ide", ReadOnly: true}, // empty tray
			{Device: "disk", Target: "vdd", Bus: "virtio"},               // network: not ours
			{Device: "floppy", Target: "fda", Bus: "fdc", Path: "/srv/fd"},
		},
		Interfaces: []Interface{
			{Type: "bridge", Source: "br0", Model: "e1000", MAC: "52:54:00:ab:cd:ef"},
			{Type: "user"}, {Type: "direct", Source: "eth0"}, {Type: "ethernet"}, {Type: "other"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestFromXMLNoDevicesRecordsNone(t *testing.T) {
	got, err := FromXML(`<domain type='test'><name>n</name><memory>1</memory></domain>`, Runtime{})
	if err != nil {
		t.Fatal(err)
	}
	// Read from libvirt, "no disks" is a fact: it must be recorded, not
	// mistaken for an old row that never recorded disks.
	if got.Disks == nil || got.Interfaces == nil || len(got.Disks)+len(got.Interfaces) != 0 {
		t.Errorf("want empty non-nil lists, got %#v %#v", got.Disks, got.Interfaces)
	}
	if got.Vcpu != 1 {
		t.Errorf("missing <vcpu> should read as libvirt's default 1, got %d", got.Vcpu)
	}
}

func TestFromXMLErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", ``, "parse domain XML"},
		{"not xml", `{"name":"a"}`, "parse domain XML"},
		{"unclosed", `<domain><name>a</name>`, "parse domain XML"},
		{"no memory", `<domain><name>a</name></domain>`, `domain "a": definition has no <memory>`},
		{"bad unit", memoryXML("<memory unit='KiBs'>1</memory>", ""), `<memory>: unknown memory unit "KiBs"`},
		{"bad current unit", memoryXML("<memory>1</memory>", "<currentMemory unit='x'>1</currentMemory>"), `<currentMemory>: unknown memory unit "x"`},
		{"overflow", memoryXML("<memory unit='EiB'>16</memory>", ""), "does not fit"},
		{"not a number", memoryXML("<memory>lots</memory>", ""), "parse domain XML"},
		{"negative", memoryXML("<memory>-1</memory>", ""), "parse domain XML"},
		{"interface without type", `<domain><name>a</name><memory>1</memory><devices><interface/></devices></domain>`, "parse domain XML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromXML(tt.in, Runtime{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "vminfo: ") {
				t.Errorf("FromXML(%q) error = %v, want %q", tt.in, err, tt.want)
			}
		})
	}
}

// A running QEMU domain captured by capture.sh -running: its active XML
// differs from its definition only in ways that are not pending changes.
func TestPendingRestartIgnoresHowQEMURuns(t *testing.T) {
	inactive, err := FromXML(readTestdata(t, "qemu/running-inactive.xml"), Runtime{State: StateRunning, Persistent: true})
	if err != nil {
		t.Fatal(err)
	}
	active, err := FromXML(readTestdata(t, "qemu/running-active.xml"), Runtime{State: StateRunning, Persistent: true})
	if err != nil {
		t.Fatal(err)
	}
	// The quirks this test exists for; if libvirt stops doing them the
	// workaround in PendingRestart can go.
	if active.MaxMem != 132096 || inactive.MaxMem != 131073 || active.Memory != 132096 {
		t.Errorf("expected QEMU to round max_mem to MiB and report the balloon: inactive %+v active %+v", inactive, active)
	}
	if active.Disks[0].Format != "raw" || inactive.Disks[0].Format != "" {
		t.Errorf("expected QEMU to fill in the volume format at start: %+v / %+v", inactive.Disks, active.Disks)
	}
	if d := inactive.PendingRestart(active); d != nil {
		t.Errorf("PendingRestart = %s, want none", DriftSummary("vminfo-running", d))
	}

	active.Vcpu, active.MaxMem, active.Disks[0].Bus = 2, 262144, "sata"
	got := fmt.Sprint(inactive.PendingRestart(active))
	want := "[{disks[vda].bus virtio sata} {max_mem 131073 262144} {vcpu 1 2}]"
	if got != want {
		t.Errorf("PendingRestart = %s, want %s", got, want)
	}
}

func TestPendingRestartTestDriver(t *testing.T) {
	inactive, err := FromXML(readTestdata(t, "test/default-test.xml"), Runtime{Persistent: true})
	if err != nil {
		t.Fatal(err)
	}
	active, err := FromXML(readTestdata(t, "test/default-test-active.xml"), Runtime{ID: 1, State: StateRunning})
	if err != nil {
		t.Fatal(err)
	}
	if d := inactive.PendingRestart(active); d != nil {
		t.Errorf("PendingRestart = %v, want none", d)
	}
}
