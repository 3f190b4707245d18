package vminfo

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// seedFiles adds every file matching the globs under testdata to the corpus.
func seedFiles(f *testing.F, globs ...string) {
	f.Helper()
	for _, g := range globs {
		paths, err := filepath.Glob(filepath.Join("testdata", g))
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// FuzzParse: Parse never panics, and whatever it accepts survives
// Marshal and Parse unchanged, including nil versus empty lists.
func FuzzParse(f *testing.F) {
	seedFiles(f, "fixture/*.json")
	full, _ := Spec{
		Name: "f", DomainType: "qemu", MemoryKiB: 1, Vcpu: 1, Graphics: "vnc",
		Disks:      []Disk{{Pool: "p", Volume: "v"}, {Device: "cdrom", Path: "/i"}},
		Interfaces: []Interface{{Type: "bridge", Source: "br0", MAC: "52:54:00:00:00:01"}},
	}.Expected().Marshal()
	f.Add(full)
	for _, s := range []string{`{"disks":[],"interfaces":[]}`, `{"disks":null}`, `{"disks":[null]}`, `null`, ``, `{"Memory":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err != nil {
			return
		}
		out, err := v.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed %q: %v", data, err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse of our own output %q: %v", out, err)
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("round trip changed the value:\n%#v\n%#v\nvia %s", v, again, out)
		}
		_ = Compare(v, again)
	})
}

// FuzzFromXML: FromXML never panics on arbitrary input, what it reads
// compares without drift against itself, and whatever the libvirtxml
// reference reads FromXML reads the same (FromXML may accept documents
// the reference refuses for parts VMInfo does not read).
func FuzzFromXML(f *testing.F) {
	seedFiles(f, "qemu/*.xml", "test/*.xml", "build/*.xml")
	f.Add([]byte(memoryXML("<memory unit='GB'>1</memory>", "<currentMemory unit='bytes'>1</currentMemory>")))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := FromXML(string(data), Runtime{})
		ref, refErr := fromXMLReference(string(data), Runtime{})
		if refErr == nil && (err != nil || !reflect.DeepEqual(v, ref)) {
			t.Fatalf("FromXML (%v) differs from the reference:\n got %#v\nwant %#v", err, v, ref)
		}
		if err != nil {
			return
		}
		if d := Compare(v, v); d != nil {
			t.Fatalf("a VMInfo drifts from itself: %v", d)
		}
		_ = v.PendingRestart(v)
		_ = DriftSummary(v.Name, Compare(v, VMInfo{}))
	})
}
