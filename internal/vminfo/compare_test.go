package vminfo

import (
	"fmt"
	"reflect"
	"testing"
)

// base is a VM as FromXML reads it: everything recorded.
func base() VMInfo {
	return VMInfo{
		ID: 2, Name: "web", State: StateRunning, MaxMem: 1048576, Memory: 524288, Vcpu: 1, CPUTime: 10,
		Uptime: -1, Persistent: true, Graphics: Graphics{VNC: true},
		UUID: "c05f65a9-1e5a-45b3-932b-7b15497a6728", DomainType: "qemu", OSType: "hvm", Arch: "x86_64",
		Disks: []Disk{
			{Device: "disk", Target: "vda", Bus: "virtio", Pool: "default", Volume: "web.qcow2", Format: "qcow2"},
			{Device: "cdrom", Target: "sda", Bus: "sata", Path: "/iso/seed.iso", Format: "raw", ReadOnly: true},
		},
		Interfaces: []Interface{
			{Type: "network", Source: "default", Model: "virtio", MAC: "52:54:00:00:00:0a"},
			{Type: "bridge", Source: "br0", Model: "e1000", MAC: "52:54:00:00:00:02"},
		},
	}
}

// clone deep-copies the slices so a test's change to live cannot leak
// into recorded.
func clone(v VMInfo) VMInfo {
	if v.Disks != nil {
		v.Disks = append([]Disk{}, v.Disks...)
	}
	if v.Interfaces != nil {
		v.Interfaces = append([]Interface{}, v.Interfaces...)
	}
	return v
}

func TestCompareEachField(t *testing.T) {
	tests := []struct {
		name   string
		change func(*VMInfo)
		want   []Drift
	}{
		{"memory", func(v *VMInfo) { v.Memory = 1048576 }, []Drift{{"memory", "524288", "1048576"}}},
		{"max_mem", func(v *VMInfo) { v.MaxMem = 2097152 }, []Drift{{"max_mem", "1048576", "2097152"}}},
		{"vcpu", func(v *VMInfo) { v.Vcpu = 2 }, []Drift{{"vcpu", "1", "2"}}},
		{"autostart", func(v *VMInfo) { v.Autostart = true }, []Drift{{"autostart", "false", "true"}}},
		{"persistent", func(v *VMInfo) { v.Persistent = false }, []Drift{{"persistent", "true", "false"}}},
		{"vnc", func(v *VMInfo) { v.Graphics.VNC = false }, []Drift{{"graphics", "vnc", "none"}}},
		{"spice", func(v *VMInfo) { v.Graphics.Spice = true }, []Drift{{"graphics", "vnc", "vnc+spice"}}},
		{"domain_type", func(v *VMInfo) { v.DomainType = "kvm" }, []Drift{{"domain_type", "qemu", "kvm"}}},
		{"os_type", func(v *VMInfo) { v.OSType = "xen" }, []Drift{{"os_type", "hvm", "xen"}}},
		{"arch", func(v *VMInfo) { v.Arch = "i686" }, []Drift{{"arch", "x86_64", "i686"}}},
		{"disk pool", func(v *VMInfo) { v.Disks[0].Pool = "fast" }, []Drift{{"disks[vda].pool", "default", "fast"}}},
		{"disk volume", func(v *VMInfo) { v.Disks[0].Volume = "x" }, []Drift{{"disks[vda].volume", "web.qcow2", "x"}}},
		{"disk path", func(v *VMInfo) { v.Disks[1].Path = "/iso/other.iso" }, []Drift{{"disks[sda].path", "/iso/seed.iso", "/iso/other.iso"}}},
		{"disk bus", func(v *VMInfo) { v.Disks[0].Bus = "scsi" }, []Drift{{"disks[vda].bus", "virtio", "scsi"}}},
		{"disk device", func(v *VMInfo) { v.Disks[1].Device = "disk" }, []Drift{{"disks[sda].device", "cdrom", "disk"}}},
		{"disk format", func(v *VMInfo) { v.Disks[0].Format = "raw" }, []Drift{{"disks[vda].format", "qcow2", "raw"}}},
		{"disk read_only", func(v *VMInfo) { v.Disks[1].ReadOnly = false }, []Drift{{"disks[sda].read_only", "true", "false"}}},
		{"disk source kind", func(v *VMInfo) { v.Disks[0].Pool, v.Disks[0].Volume, v.Disks[0].Path = "", "", "/p" }, []Drift{
			{"disks[vda].path", "", "/p"}, {"disks[vda].pool", "default", ""}, {"disks[vda].volume", "web.qcow2", ""},
		}},
		{"disk added", func(v *VMInfo) {
			v.Disks = append(v.Disks, Disk{Device: "disk", Target: "vdb", Bus: "virtio", Path: "/d"})
		},
			[]Drift{{"disks[vdb]", "", "vdb:/d"}}},
		{"disk removed", func(v *VMInfo) { v.Disks = v.Disks[:1] }, []Drift{{"disks[sda]", "sda:/iso/seed.iso", ""}}},
		{"all disks removed", func(v *VMInfo) { v.Disks = nil }, []Drift{
			{"disks[sda]", "sda:/iso/seed.iso", ""}, {"disks[vda]", "vda:default/web.qcow2", ""},
		}},
		{"disk reordered", func(v *VMInfo) { v.Disks[0], v.Disks[1] = v.Disks[1], v.Disks[0] }, nil},
		{"interface type", func(v *VMInfo) { v.Interfaces[1].Type = "network" }, []Drift{{"interfaces[1].type", "bridge", "network"}}},
		{"interface source", func(v *VMInfo) { v.Interfaces[0].Source = "lab" }, []Drift{{"interfaces[0].source", "default", "lab"}}},
		{"interface model", func(v *VMInfo) { v.Interfaces[0].Model = "rtl8139" }, []Drift{{"interfaces[0].model", "virtio", "rtl8139"}}},
		{"interface mac", func(v *VMInfo) { v.Interfaces[0].MAC = "52:54:00:00:00:09" }, []Drift{{"interfaces[0].mac", "52:54:00:00:00:0a", "52:54:00:00:00:09"}}},
		{"interface mac case", func(v *VMInfo) { v.Interfaces[0].MAC = "52:54:00:00:00:0A" }, nil},
		{"interface added", func(v *VMInfo) { v.Interfaces = append(v.Interfaces, Interface{Type: "network", Source: "x"}) },
			[]Drift{{"interfaces[2]", "", "network:x"}}},
		{"interface removed", func(v *VMInfo) { v.Interfaces = v.Interfaces[:1] }, []Drift{{"interfaces[1]", "bridge:br0", ""}}},
		{"several, sorted", func(v *VMInfo) { v.Vcpu, v.Memory, v.Autostart = 4, 1, true }, []Drift{
			{"autostart", "false", "true"}, {"memory", "524288", "1"}, {"vcpu", "1", "4"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := clone(base())
			tt.change(&live)
			if got := Compare(base(), live); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Compare =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

func TestCompareIgnoresRuntimeAndIdentity(t *testing.T) {
	live := clone(base())
	live.ID, live.State, live.CPUTime, live.Uptime = 0, StateShutoff, 999, 42
	live.Name, live.UUID = "renamed", "00000000-0000-0000-0000-000000000000"
	if got := Compare(base(), live); got != nil {
		t.Errorf("runtime fields reported as drift: %v", got)
	}
}

// A row written by Virtumancer has none of our additions; comparing it to a
// fully read live domain must only look at Virtumancer's own fields.
func TestCompareOldVirtumancerRow(t *testing.T) {
	recorded, err := Parse(readFixture(t, "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	live := clone(base())
	live.MaxMem, live.Memory, live.Vcpu, live.Graphics = 65536, 65536, 1, Graphics{VNC: true}
	if got := Compare(recorded, live); got != nil {
		t.Errorf("old row reports drift for fields it never recorded: %v", got)
	}
	live.Memory = 131072
	want := []Drift{{"memory", "65536", "131072"}}
	if got := Compare(recorded, live); !reflect.DeepEqual(got, want) {
		t.Errorf("Compare = %v, want %v", got, want)
	}
}

func TestCompareRecordedNoneVersusNotRecorded(t *testing.T) {
	live := base()
	recordedNone := clone(base())
	recordedNone.Disks, recordedNone.Interfaces = []Disk{}, []Interface{}
	want := []Drift{
		{"disks[sda]", "", "sda:/iso/seed.iso"}, {"disks[vda]", "", "vda:default/web.qcow2"},
		{"interfaces[0]", "", "network:default"}, {"interfaces[1]", "", "bridge:br0"},
	}
	if got := Compare(recordedNone, live); !reflect.DeepEqual(got, want) {
		t.Errorf("recorded none: Compare =\n%v\nwant\n%v", got, want)
	}
	// The distinction must survive a trip through config_json.
	data, err := recordedNone.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	reread, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := Compare(reread, live); !reflect.DeepEqual(got, want) {
		t.Errorf("recorded none after JSON: Compare =\n%v\nwant\n%v", got, want)
	}
}

// Values libvirt picks itself may be unknown when recording from a spec.
func TestCompareLeftToLibvirt(t *testing.T) {
	recorded := clone(base())
	recorded.DomainType, recorded.OSType, recorded.Arch = "", "", ""
	recorded.Disks[0].Format, recorded.Interfaces[0].MAC, recorded.Interfaces[1].Model = "", "", ""
	if got := Compare(recorded, base()); got != nil {
		t.Errorf("fields left to libvirt reported as drift: %v", got)
	}
}

func TestCompareDuplicateAndEmptyTargets(t *testing.T) {
	recorded := VMInfo{Disks: []Disk{{Target: "vda", Path: "/a"}, {Target: "vda", Path: "/b"}, {Path: "/c"}}}
	live := VMInfo{Disks: []Disk{{Target: "vda", Path: "/a"}}}
	want := []Drift{{"disks[#2]", ":/c", ""}, {"disks[vda#1]", "vda:/b", ""}}
	if got := Compare(recorded, live); !reflect.DeepEqual(got, want) {
		t.Errorf("Compare = %v, want %v", got, want)
	}
}

func TestCompareDeterministic(t *testing.T) {
	live := clone(base())
	live.Disks = []Disk{{Target: "vdz"}, {Target: "vdb"}, {Target: "hda"}, {Target: "sdc"}}
	first := fmt.Sprint(Compare(base(), live))
	for range 50 {
		if got := fmt.Sprint(Compare(base(), live)); got != first {
			t.Fatalf("Compare order changed:\n%s\n%s", first, got)
		}
	}
}

func TestDriftSummary(t *testing.T) {
	tests := []struct {
		drift []Drift
		want  string
	}{
		{nil, `vm "web": no drift`},
		{[]Drift{{"memory", "524288", "1048576"}, {"vcpu", "1", "2"}},
			`vm "web": memory recorded 524288 live 1048576; vcpu recorded 1 live 2`},
		{[]Drift{{"disks[vdb]", "", "vdb:/d"}}, `vm "web": disks[vdb] recorded (none) live vdb:/d`},
	}
	for _, tt := range tests {
		if got := DriftSummary("web", tt.drift); got != tt.want {
			t.Errorf("DriftSummary = %q, want %q", got, tt.want)
		}
	}
}
