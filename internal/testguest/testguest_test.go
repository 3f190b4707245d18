package testguest

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"libvirt.org/go/libvirtxml"
)

// A console as the guest writes it: CRLF from the serial tty, a kernel
// message in between, and a last line still being written.
const sampleConsole = "\r\nSYSLINUX 6.04\r\n" +
	"testguest: init started (kernel 6.1.0-57-amd64)\r\n" +
	"testguest: seed found on /dev/vdb\r\n" +
	"----- testguest begin meta-data -----\r\ninstance-id: i-1\r\nlocal-hostname: guest-one\r\n----- testguest end meta-data -----\r\n" +
	"[    3.1] random: crng init done\r\n" +
	"----- testguest begin user-data -----\r\n#cloud-config\r\ntestguest: not a report line\r\n\r\n----- testguest end user-data -----\r\n" +
	"testguest: instance-id=i-1\r\n" +
	"testguest: hostname=guest-one\r\n" +
	"testguest: lease eth0 ip=10.77.0.5 mask=24 router=10.77.0.1 server=10.77.0.1\r\n" +
	"testguest: agent started on /dev/vport0p1\r\n" +
	"testguest: acpid started (input: Power Button,AT Translated Set 2 keyboard)\r\n" +
	"testguest: readyish\r\n" +
	"testguest: rea"

func TestParseConsole(t *testing.T) {
	got := ParseConsole(sampleConsole)
	want := Console{
		Sections: map[string]string{
			"meta-data": "instance-id: i-1\nlocal-hostname: guest-one\n",
			"user-data": "#cloud-config\ntestguest: not a report line\n\n",
		},
		SeedDevice:  "/dev/vdb",
		InstanceID:  "i-1",
		Hostname:    "guest-one",
		Leases:      []Lease{{Interface: "eth0", IP: "10.77.0.5", Prefix: 24, Router: "10.77.0.1", Server: "10.77.0.1"}},
		Agent:       true,
		PowerButton: true,
		Ready:       false, // "ready" is not complete yet
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseConsole:\n got %+v\nwant %+v", got, want)
	}
	if done := ParseConsole(sampleConsole + "dy (uptime 7.25 s)\r\n"); !done.Ready || done.ReadyAfter != 7250*time.Millisecond {
		t.Fatalf("ParseConsole: a complete \"testguest: ready (uptime 7.25 s)\" line gave Ready %v after %s", done.Ready, done.ReadyAfter)
	}
	off := ParseConsole(sampleConsole + "dy (uptime 7.25 s)\r\ntestguest: shutting down: poweroff (agent)\r\n[   40.2] reboot: Power down\r\n")
	if off.Shutdown != "poweroff (agent)" {
		t.Fatalf("ParseConsole: \"testguest: shutting down: poweroff (agent)\" gave Shutdown %q", off.Shutdown)
	}
	if failed := ParseConsole("testguest: acpid failed: acpid: can't open '/var/log/acpid.log'\n"); failed.PowerButton {
		t.Fatal("ParseConsole: \"acpid failed\" counted as a working power button")
	}
}

func TestParseConsoleUnclosedSection(t *testing.T) {
	got := ParseConsole("----- testguest begin user-data -----\nhalf\n")
	if _, ok := got.Sections["user-data"]; ok {
		t.Fatalf("a section without its end line was returned: %q", got.Sections)
	}
}

func TestSeedFiles(t *testing.T) {
	if got := (Seed{}).Files(); !reflect.DeepEqual(got, map[string]string{"meta-data": ""}) {
		t.Fatalf("an empty seed must still carry meta-data (the guest looks for it): %v", got)
	}
	s := Seed{MetaData: MetaData("i-9", "h9"), UserData: "u", NetworkConfig: "n"}
	want := map[string]string{"meta-data": "instance-id: i-9\nlocal-hostname: h9\n", "user-data": "u", "network-config": "n"}
	if got := s.Files(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Files: got %v, want %v", got, want)
	}
	if kib := (Seed{UserData: strings.Repeat("x", 4<<20)}).seedKiB(); kib < 8192 {
		t.Fatalf("a 4 MiB user-data got a %d KiB seed; it needs room for twice its content", kib)
	}
}

func TestDomainXML(t *testing.T) {
	text, err := Domain{Name: "guest-x", Disk: "/d/guest.qcow2", Seed: "/d/seed.img", Console: "/d/console.log", Network: "net1"}.XML()
	if err != nil {
		t.Fatal(err)
	}
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(text); err != nil {
		t.Fatalf("XML does not parse back: %v\n%s", err, text)
	}
	dev := dom.Devices
	checks := map[string][2]string{
		"type":          {dom.Type, "qemu"},
		"memory":        {dom.Memory.Unit, "MiB"},
		"disk format":   {dev.Disks[0].Driver.Type, "qcow2"},
		"seed format":   {dev.Disks[1].Driver.Type, "raw"},
		"agent channel": {dev.Channels[0].Target.VirtIO.Name, AgentChannel},
		"console file":  {dev.Serials[0].Source.File.Path, "/d/console.log"},
		"network":       {dev.Interfaces[0].Source.Network.Network, "net1"},
	}
	for what, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s: got %q, want %q", what, c[0], c[1])
		}
	}
	if dev.Disks[1].ReadOnly == nil || dom.Features.ACPI == nil || dom.Memory.Value != 128 {
		t.Errorf("seed read-only %v, ACPI %v, memory %d: want a read-only seed, ACPI on and 128 MiB", dev.Disks[1].ReadOnly != nil, dom.Features.ACPI != nil, dom.Memory.Value)
	}
	scsi, err := Domain{Name: "guest-s", Disk: "/d/raw.img", Seed: "/d/seed.img", SeedBus: "scsi", Console: "/d/c"}.XML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(scsi, `<controller type="scsi" model="virtio-scsi">`) || !strings.Contains(scsi, `<target dev="sda" bus="scsi">`) {
		t.Errorf("a seed on the scsi bus needs a virtio-scsi controller (the guest has no LSI driver) and target sda:\n%s", scsi)
	}
	if _, err := (Domain{Name: "guest-b", Disk: "/d", Console: "/c", SeedBus: "ide"}).XML(); err == nil || !strings.Contains(err.Error(), `seed bus "ide" is not one of virtio, sata, scsi`) {
		t.Errorf("seed bus ide: got %v, want the error that lists the buses", err)
	}
	if _, err := (Domain{Name: "guest-x"}).XML(); err == nil || !strings.Contains(err.Error(), "needs a name, a disk and a console file") {
		t.Fatalf("a domain without disk and console: got %v, want the error that names what is missing", err)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, Script)); err != nil {
		t.Fatalf("module root %s has no %s: %v", root, Script, err)
	}
}
