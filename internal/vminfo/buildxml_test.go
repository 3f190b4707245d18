package vminfo

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func validSpec() Spec {
	return Spec{Name: "web", DomainType: "qemu", MemoryKiB: 524288, Vcpu: 1, Graphics: "vnc"}
}

func TestBuildXMLValidation(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"no name", func(s *Spec) { s.Name = "" }, "name: must not be empty"},
		{"slash in name", func(s *Spec) { s.Name = "a/b" }, `name "a/b": must not contain '/'`},
		{"bad uuid", func(s *Spec) { s.UUID = "1234" }, `uuid "1234": want the 8-4-4-4-12 hex form`},
		{"no domain type", func(s *Spec) { s.DomainType = "" }, `domain_type "": use one of kvm, qemu, test`},
		{"bad domain type", func(s *Spec) { s.DomainType = "xen" }, `domain_type "xen": use one of kvm, qemu, test`},
		{"no vcpu", func(s *Spec) { s.Vcpu = 0 }, "vcpu: must be at least 1"},
		{"no memory", func(s *Spec) { s.MemoryKiB = 0 }, "memory: must be greater than 0"},
		{"max below memory", func(s *Spec) { s.MaxMemoryKiB = 1024 }, "max_memory 1024 KiB: must be at least memory (524288 KiB)"},
		{"no graphics", func(s *Spec) { s.Graphics = "" }, `graphics "": use one of vnc, spice, none`},
		{"bad graphics", func(s *Spec) { s.Graphics = "rdp" }, `graphics "rdp": use one of vnc, spice, none`},
		{"bad arch", func(s *Spec) { s.Arch = "x86 64" }, `arch "x86 64"`},
		{"bad machine", func(s *Spec) { s.Machine = "q35'" }, `machine "q35'"`},
		{"disk no source", func(s *Spec) { s.Disks = []Disk{{}} }, "disks[0].source: set path, or pool and volume (only a cdrom may be empty)"},
		{"disk both sources", func(s *Spec) { s.Disks = []Disk{{Path: "/a", Pool: "p", Volume: "v"}} }, "disks[0].source: set either path or pool and volume, not both"},
		{"disk pool only", func(s *Spec) { s.Disks = []Disk{{Pool: "p"}} }, `disks[0].source: pool and volume go together (pool "p", volume "")`},
		{"relative path", func(s *Spec) { s.Disks = []Disk{{Path: "a.img"}} }, `disks[0].path "a.img": must be absolute`},
		{"bad bus", func(s *Spec) { s.Disks = []Disk{{Path: "/a", Bus: "usb"}} }, `disks[0].bus "usb": use one of virtio, sata, scsi, ide`},
		{"bad device", func(s *Spec) { s.Disks = []Disk{{Path: "/a", Device: "floppy"}} }, `disks[0].device "floppy": use one of disk, cdrom`},
		{"virtio cdrom", func(s *Spec) { s.Disks = []Disk{{Path: "/a", Device: "cdrom", Bus: "virtio"}} }, "disks[0].bus \"virtio\": a cdrom needs sata, scsi or ide"},
		{"bad format", func(s *Spec) { s.Disks = []Disk{{Path: "/a", Format: "vmdk"}} }, `disks[0].format "vmdk": use one of qcow2, raw`},
		{"bad target", func(s *Spec) { s.Disks = []Disk{{Path: "/a", Target: "vda1"}} }, `disks[0].target "vda1": want a device name`},
		{"duplicate target", func(s *Spec) { s.Disks = []Disk{{Path: "/a", Target: "vda"}, {Path: "/b", Target: "vda"}} }, `disks[1].target "vda": used by another disk`},
		{"bad interface type", func(s *Spec) { s.Interfaces = []Interface{{Type: "user", Source: "x"}} }, `interfaces[0].type "user": use one of network, bridge`},
		{"interface no source", func(s *Spec) { s.Interfaces = []Interface{{Type: "network"}} }, "interfaces[0].source: name the network or bridge"},
		{"bad model", func(s *Spec) { s.Interfaces = []Interface{{Type: "network", Source: "d", Model: "a b"}} }, `interfaces[0].model "a b"`},
		{"bad mac", func(s *Spec) { s.Interfaces = []Interface{{Type: "bridge", Source: "br0", MAC: "52:54:00:12:34"}} }, `interfaces[0].mac "52:54:00:12:34": want a unicast MAC`},
		{"multicast mac", func(s *Spec) { s.Interfaces = []Interface{{Type: "bridge", Source: "br0", MAC: "01:00:5e:00:00:01"}} }, `interfaces[0].mac "01:00:5e:00:00:01"`},
		{"dash mac", func(s *Spec) { s.Interfaces = []Interface{{Type: "bridge", Source: "br0", MAC: "52-54-00-12-34-56"}} }, `interfaces[0].mac "52-54-00-12-34-56"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.change(&s)
			_, err := BuildXML(s)
			if err == nil {
				t.Fatalf("BuildXML(%+v) succeeded", s)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "vminfo: invalid spec for vm ") ||
				!errors.Is(err, ErrInvalidSpec) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Spec{Graphics: "x", Disks: []Disk{{}}}.Validate()
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	for _, want := range []string{"name:", "domain_type", "vcpu:", "memory:", "graphics", "disks[0].source"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestBuildXMLSecureAndMinimal(t *testing.T) {
	for _, g := range []string{"vnc", "spice"} {
		s := validSpec()
		s.Graphics = g
		x, err := BuildXML(s)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(x, `<graphics type="`+g+`"`) || !strings.Contains(x, `listen="127.0.0.1"`) ||
			!strings.Contains(x, `<listen type="address" address="127.0.0.1">`) || strings.Contains(x, "0.0.0.0") {
			t.Errorf("%s graphics must listen on loopback only:\n%s", g, x)
		}
	}
	s := validSpec()
	s.Graphics = "none"
	x, err := BuildXML(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"<graphics", "<uuid", "machine=", "<disk", "<interface"} {
		if strings.Contains(x, absent) {
			t.Errorf("XML has %s:\n%s", absent, x)
		}
	}
	for _, present := range []string{`<boot dev="hd">`, `<type arch="x86_64">hvm</type>`, `<serial type="pty">`, "<acpi>"} {
		if !strings.Contains(x, present) {
			t.Errorf("XML lacks %s:\n%s", present, x)
		}
	}
}

func TestBuildXMLRedefineKeepsUUID(t *testing.T) {
	s := validSpec()
	s.UUID = "C05F65A9-1E5A-45B3-932B-7B15497A6728"
	x, err := BuildXML(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(x, "<uuid>c05f65a9-1e5a-45b3-932b-7b15497a6728</uuid>") {
		t.Errorf("redefinition XML lacks the UUID:\n%s", x)
	}
}

func TestBuildXMLEscapes(t *testing.T) {
	s := validSpec()
	s.Name = `<evil name="&">`
	s.Disks = []Disk{{Path: `/a'"<b>.img`}}
	x, err := BuildXML(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromXML(x, Runtime{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != s.Name || got.Disks[0].Path != s.Disks[0].Path {
		t.Errorf("special characters did not survive: %+v", got)
	}
}

func TestExpectedDefaults(t *testing.T) {
	s := Spec{
		Name: "d", DomainType: "test", MemoryKiB: 1024, Vcpu: 1, Graphics: "spice",
		Disks: []Disk{
			{Path: "/b", Target: "vda"},
			{Path: "/c"},
			{Device: "cdrom", Path: "/i.iso"},
			{Pool: "p", Volume: "v", Bus: "scsi", Format: "qcow2"},
			{Path: "/dev/sdx", Bus: "ide"},
		},
		Interfaces: []Interface{{Type: "network", Source: "default", MAC: "52:54:00:AB:CD:EF"}},
	}
	got := s.Expected()
	want := VMInfo{
		Name: "d", MaxMem: 1024, Memory: 1024, Vcpu: 1, MaxVcpu: 1, Uptime: -1, Persistent: true, Graphics: Graphics{Spice: true},
		DomainType: "test", OSType: "hvm", Arch: "x86_64",
		Disks: []Disk{
			{Device: "disk", Target: "vda", Bus: "virtio", Path: "/b", Format: "raw"},
			{Device: "disk", Target: "vdb", Bus: "virtio", Path: "/c", Format: "raw"},
			{Device: "cdrom", Target: "sda", Bus: "sata", Path: "/i.iso", Format: "raw", ReadOnly: true},
			{Device: "disk", Target: "sdb", Bus: "scsi", Pool: "p", Volume: "v", Format: "qcow2"},
			{Device: "disk", Target: "hda", Bus: "ide", Path: "/dev/sdx", Format: "raw"},
		},
		// No model: the interface gets libvirt's default, as an imported one has it.
		Interfaces: []Interface{{Type: "network", Source: "default", MAC: "52:54:00:ab:cd:ef"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Expected =\n%+v\nwant\n%+v", got, want)
	}
	// Callers line up Expected().Disks[i] with their own disk i.
	order := Spec{Disks: []Disk{{Path: "/b", Target: "vdb"}, {Path: "/a"}}}.Expected().Disks
	if order[0].Target != "vdb" || order[1].Target != "vda" {
		t.Errorf("Expected must keep the spec's disk order: %+v", order)
	}
	if e := (Spec{}).Expected(); e.Disks == nil || e.Interfaces == nil {
		t.Error("Expected must record empty lists as none (non-nil), since a spec says exactly which disks exist")
	}
	if x, _ := BuildXML(s); !strings.Contains(x, `<disk type="block" device="disk">`) ||
		!strings.Contains(x, `<controller type="scsi" model="virtio-scsi">`) {
		t.Errorf("want a block disk for /dev paths and a virtio-scsi controller:\n%s", x)
	}
}

// libvirt orders disks on define (virDomainDiskInsert); these cases are
// checked against real libvirt by the spice-order capture.
func TestLibvirtDiskOrder(t *testing.T) {
	in := []Disk{
		{Bus: "sata", Target: "sda"}, {Bus: "virtio", Target: "vdb"}, {Bus: "virtio", Target: "vda"},
		{Bus: "ide", Target: "hda"}, {Bus: "sata", Target: "sdb"}, {Bus: "virtio", Target: "vdaa"},
	}
	var got []string
	for _, d := range LibvirtDiskOrder(in) {
		got = append(got, d.Target)
	}
	want := []string{"sda", "sdb", "vda", "vdb", "vdaa", "hda"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestDiskNames(t *testing.T) {
	for i, name := range map[int]string{0: "a", 25: "z", 26: "aa", 27: "ab", 51: "az", 52: "ba", 701: "zz", 702: "aaa"} {
		if got := diskSuffix(i); got != name {
			t.Errorf("diskSuffix(%d) = %q, want %q", i, got, name)
		}
		if got := diskIndex("vd" + name); got != i {
			t.Errorf("diskIndex(vd%s) = %d, want %d", name, got, i)
		}
	}
	for _, bad := range []string{"", "vd", "nvme0", "vd1"} {
		if got := diskIndex(bad); got != -1 {
			t.Errorf("diskIndex(%q) = %d, want -1", bad, got)
		}
	}
}
