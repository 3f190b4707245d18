package vminfo

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// update rewrites testdata/build/*.xml from BuildXML. After it, run
// testdata/capture.sh against the local libvirtd to refresh what libvirt
// reads back (testdata/qemu, testdata/test).
var update = flag.Bool("update", false, "rewrite testdata/build golden files")

// drivers are the libvirt drivers the captured samples come from, with the
// domain type each accepts (no /dev/kvm here: QEMU runs under TCG).
var drivers = []string{"qemu", "test"}

// captureSpecs are defined on both drivers by testdata/capture.sh. Names
// carry the "vminfo-" prefix so they never collide with other packages'
// test domains.
func captureSpecs(domainType string) map[string]Spec {
	return map[string]Spec{
		"minimal": {
			Name: "vminfo-minimal", DomainType: domainType, MemoryKiB: 65536, Vcpu: 1, Graphics: "none",
		},
		"full": {
			Name: "vminfo-full", DomainType: domainType, MemoryKiB: 524288, MaxMemoryKiB: 1048576, Vcpu: 2,
			Graphics: "vnc",
			Disks: []Disk{
				{Path: "/var/lib/libvirt/images/vminfo-root.qcow2", Format: "qcow2"},
				{Pool: "default", Volume: "vminfo-data.qcow2"},
				{Device: "cdrom", Path: "/var/lib/libvirt/images/vminfo-seed.iso"},
				{Path: "/dev/vminfo-block", Bus: "scsi", ReadOnly: true},
			},
			Interfaces: []Interface{
				{Type: "network", Source: "default", Model: "virtio"},
				{Type: "bridge", Source: "br0", Model: "e1000", MAC: "52:54:00:AA:BB:01"},
			},
		},
		// Buses listed out of libvirt's order, with explicit and assigned
		// targets mixed, to pin down how libvirt reorders disks on define.
		"spice-order": {
			Name: "vminfo-spice-order", DomainType: domainType, MemoryKiB: 131072, Vcpu: 1, Graphics: "spice",
			Disks: []Disk{
				{Device: "cdrom", Path: "/var/lib/libvirt/images/vminfo-a.iso"},
				{Path: "/var/lib/libvirt/images/vminfo-b.img", Target: "vdb"},
				{Path: "/var/lib/libvirt/images/vminfo-c.img"},
				{Path: "/var/lib/libvirt/images/vminfo-d.img", Bus: "ide"},
				{Path: "/var/lib/libvirt/images/vminfo-e.img", Bus: "sata"},
			},
			Interfaces: []Interface{{Type: "network", Source: "default", Model: "rtl8139"}},
		},
	}
}

func TestBuildXMLGolden(t *testing.T) {
	for _, driver := range drivers {
		for name, spec := range captureSpecs(driver) {
			t.Run(driver+"/"+name, func(t *testing.T) {
				got, err := BuildXML(spec)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "build", driver+"-"+name+".xml")
				if *update {
					if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if got+"\n" != string(want) {
					t.Errorf("BuildXML changed; if intended run go test -update and testdata/capture.sh\n got:\n%s", got)
				}
			})
		}
	}
}

// TestFromXMLCapturedMatchesExpected reads what libvirt stored for each
// capture spec and checks it equals Spec.Expected: this is the contract the
// provider relies on to see "no drift" right after it defines a domain.
func TestFromXMLCapturedMatchesExpected(t *testing.T) {
	for _, driver := range drivers {
		for name, spec := range captureSpecs(driver) {
			t.Run(driver+"/"+name, func(t *testing.T) {
				data, err := os.ReadFile(filepath.Join("testdata", driver, name+".xml"))
				if err != nil {
					t.Fatalf("%v (run testdata/capture.sh)", err)
				}
				got, err := FromXML(string(data), Runtime{Persistent: true})
				if err != nil {
					t.Fatal(err)
				}
				want := withAssigned(t, spec.Expected(), got)
				want.Disks = LibvirtDiskOrder(want.Disks)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("FromXML(captured) =\n%+v\nwant Expected()\n%+v", got, want)
				}
				if d := Compare(spec.Expected(), got); d != nil {
					t.Errorf("Compare(Expected, captured) reports drift: %s", DriftSummary(spec.Name, d))
				}
			})
		}
	}
}

// withAssigned copies into want what libvirt assigns on define (the UUID and
// MACs left empty), after checking libvirt did assign them.
func withAssigned(t *testing.T, want, got VMInfo) VMInfo {
	t.Helper()
	if want.UUID == "" {
		if len(got.UUID) != 36 {
			t.Errorf("libvirt assigned no UUID: %q", got.UUID)
		}
		want.UUID = got.UUID
	}
	if len(got.Interfaces) != len(want.Interfaces) {
		return want
	}
	for i := range want.Interfaces {
		if want.Interfaces[i].MAC == "" {
			if !strings.HasPrefix(got.Interfaces[i].MAC, "52:54:00:") {
				t.Errorf("interface %d: libvirt assigned MAC %q, want a 52:54:00 one", i, got.Interfaces[i].MAC)
			}
			want.Interfaces[i].MAC = got.Interfaces[i].MAC
		}
	}
	return want
}

func TestBuildXMLRoundTrip(t *testing.T) {
	specs := captureSpecs("qemu")
	specs["test driver"] = Spec{Name: "t", DomainType: "test", MemoryKiB: 1024, Vcpu: 4, Graphics: "vnc"}
	specs["uuid and machine"] = Spec{
		Name: "m", UUID: "C05F65A9-1E5A-45B3-932B-7B15497A6728", DomainType: "kvm", MemoryKiB: 2048,
		Vcpu: 1, Graphics: "none", Arch: "i686", Machine: "q35",
		Disks: []Disk{{Path: "/dev/sdb", Target: "sdc", Bus: "scsi", Format: "raw"}, {Path: "/i.iso", Device: "cdrom", Bus: "ide"}},
	}
	specs["many disks"] = Spec{Name: "n", DomainType: "qemu", MemoryKiB: 1, Vcpu: 1, Graphics: "none", Disks: manyDisks(30)}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			x, err := BuildXML(spec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := FromXML(x, Runtime{Persistent: true})
			if err != nil {
				t.Fatal(err)
			}
			if want := spec.Expected(); !reflect.DeepEqual(got, want) {
				t.Errorf("FromXML(BuildXML(spec)) =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func manyDisks(n int) []Disk {
	disks := make([]Disk, n)
	for i := range disks {
		disks[i] = Disk{Path: "/d/" + diskSuffix(i)}
	}
	return disks
}
