package vminfo

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// sameAsReference fails unless FromXML and the libvirtxml reference give
// the same VMInfo, or both an error, for doc.
func sameAsReference(t *testing.T, what, doc string) {
	t.Helper()
	rt := Runtime{ID: 3, State: 1, CPUTime: 7, Persistent: true, Autostart: true}
	got, err := FromXML(doc, rt)
	want, wantErr := fromXMLReference(doc, rt)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%s: FromXML error %v, reference error %v", what, err, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: FromXML and the reference differ:\n got %#v\nwant %#v", what, got, want)
	}
}

// xmlFiles is every XML under testdata, libvirt's own output included,
// and the fuzz corpus of FuzzFromXML when there is one.
func xmlFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, g := range []string{"*.xml", "*/*.xml", "fuzz/FuzzFromXML/*"} {
		paths, err := filepath.Glob(filepath.Join("testdata", g))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = string(data)
		}
	}
	return out
}

func TestFromXMLScannerMatchesReferenceOnTestdata(t *testing.T) {
	files := xmlFiles(t)
	if len(files) < 10 {
		t.Fatalf("only %d XML files under testdata", len(files))
	}
	for p, doc := range files {
		sameAsReference(t, p, doc)
		if filepath.Ext(p) == ".xml" {
			if _, ok := scanDomain(doc); !ok {
				t.Errorf("%s: the scanner gave up on a definition libvirt wrote; it would be slow", p)
			}
		}
	}
}

func TestFromXMLScannerMatchesReferenceOnOddDocuments(t *testing.T) {
	const mem = "<memory unit='MiB'>64</memory>"
	docs := map[string]string{
		"prolog and comments": "<?xml version='1.0'?><!-- c --><domain type='kvm'><!-- x --><name>a</name>" + mem + "</domain>",
		"namespaced extra":    "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>a</name>" + mem + "<qemu:commandline><qemu:arg value='-x'/></qemu:commandline></domain>",
		"prefixed name":       "<domain type='kvm'><x:name>b</x:name><name>a</name>" + mem + "</domain>",
		"entity in name":      "<domain type='kvm'><name>a&amp;b</name>" + mem + "</domain>",
		"entity in source":    "<domain><name>a</name>" + mem + "<devices><disk type='file'><source file='/a&amp;b'/></disk></devices></domain>",
		"cdata":               "<domain><name><![CDATA[a<b]]></name>" + mem + "</domain>",
		"two memories":        "<domain><name>a</name>" + mem + "<memory>1</memory></domain>",
		"no memory":           "<domain><name>a</name></domain>",
		"empty root":          "<domain/>",
		"other root":          "<network><name>a</name></network>",
		"bad memory":          "<domain><name>a</name><memory>x</memory></domain>",
		"blank memory":        "<domain><name>a</name><memory> </memory></domain>",
		"bad unit":            "<domain><name>a</name><memory unit='parsec'>1</memory></domain>",
		"vcpu current":        "<domain><name>a</name>" + mem + "<vcpu current='2'> 4 </vcpu></domain>",
		"vcpu empty":          "<domain><name>a</name>" + mem + "<vcpu/></domain>",
		"id attr":             "<domain id='5'><name>a</name>" + mem + "</domain>",
		"bad id":              "<domain id='x'><name>a</name>" + mem + "</domain>",
		"mismatched tags":     "<domain><name>a</name>" + mem + "<os><type>hvm</os></type></domain>",
		"unclosed":            "<domain><name>a</name>" + mem,
		"trailing garbage":    "<domain><name>a</name>" + mem + "</domain><<<",
		"disk kinds":          "<domain><name>a</name>" + mem + "<devices><disk type='block' device='cdrom'><source dev='/dev/sr0'/><readonly/><target dev='hdc' bus='ide'/></disk><disk><driver name='qemu' type='qcow2'/><source file='/f'/></disk><disk type='volume'><source pool='p' volume='v'/></disk><disk type='dir'><source dir='/d'/></disk><disk type='file'/><disk type='network'><source protocol='nbd' name='x'/></disk></devices></domain>",
		"interfaces":          "<domain><name>a</name>" + mem + "<devices><interface type='network'><mac address='52:54:00:AA:00:01'/><source network='default'/><model type='virtio'/></interface><interface type='bridge'><source bridge='br0'/></interface><interface type='direct'><source dev='eth0' mode='vepa'/></interface><interface type='user'/><interface type='ethernet'/><interface type='udp'/><interface type='weird'/><interface type='network'/></devices></domain>",
		"interface no type":   "<domain><name>a</name>" + mem + "<devices><interface><source network='n'/></interface></devices></domain>",
		"graphics":            "<domain><name>a</name>" + mem + "<devices><graphics type='spice' autoport='yes'><listen type='address'/></graphics><graphics type='vnc'/><graphics type='sdl'/></devices></domain>",
		"graphics no type":    "<domain><name>a</name>" + mem + "<devices><graphics/></devices></domain>",
		"duplicate attribute": "<domain type='a' type='b'><name>a</name>" + mem + "</domain>",
		"prefixed attribute":  "<domain x:type='a'><name>a</name>" + mem + "</domain>",
		"gt in attribute":     "<domain type='a>b'><name>a</name>" + mem + "<devices><disk type='file'><source file='/x>y'/></disk></devices></domain>",
		"double quotes":       `<domain type="kvm"><name>a</name><memory unit="KiB">1024</memory><uuid>ABCDEF00-0000-0000-0000-000000000000</uuid></domain>`,
		"carriage return":     "<domain type='kvm'>\r\n<name>a\r\nb</name>" + mem + "</domain>",
		"name with child":     "<domain><name>a<b/>c</name>" + mem + "</domain>",
		"os":                  "<domain><name>a</name>" + mem + "<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/><boot dev='cdrom'/></os></domain>",
		"repeated skipped":    "<domain><name>a</name>" + mem + "<seclabel type='dynamic'/><seclabel type='none'/><devices><controller type='usb'/><controller type='pci'/></devices></domain>",
		"comment with dashes": "<domain><!-- a -- b --><name>a</name>" + mem + "</domain>",
		"leading text":        "junk<domain><name>a</name>" + mem + "</domain>",
		"currentMemory":       "<domain><name>a</name><memory unit='GiB'>1</memory><currentMemory unit='MiB'>512</currentMemory></domain>",
		"invalid utf8":        "<domain><name>a\xff</name>" + mem + "</domain>",
		"serial kinds":        "<domain><name>a</name>" + mem + "<devices><serial type='pty'><target port='0'/></serial><serial><source path='/p'/></serial><serial type='file'><source path='/var/log/a.log' append='on'/><target type='isa-serial' port='1'><model name='isa-serial'/></target></serial><serial type='file'><source path='/b'/></serial><console type='file'><source path='/c'/></console></devices></domain>",
		"serial file empty":   "<domain><name>a</name>" + mem + "<devices><serial type='file'/><serial type='file'><source path='/b'/></serial></devices></domain>",
		"serial two sources":  "<domain><name>a</name>" + mem + "<devices><serial type='file'><source path='/a'/><source path='/b'/></serial></devices></domain>",
		"serial entity":       "<domain><name>a</name>" + mem + "<devices><serial type='file'><source path='/a&amp;b'/></serial></devices></domain>",
	}
	for what, doc := range docs {
		sameAsReference(t, what, doc)
	}
}

func BenchmarkFromXML(b *testing.B) {
	data, err := os.ReadFile("testdata/qemu/full.xml")
	if err != nil {
		b.Fatal(err)
	}
	doc := string(data)
	for _, c := range []struct {
		name string
		fn   func(string, Runtime) (VMInfo, error)
	}{{"scanner", FromXML}, {"libvirtxml", fromXMLReference}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := c.fn(doc, Runtime{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
