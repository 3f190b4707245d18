package observe

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// A definition read without its runtime and given it after reads exactly
// as FromXML with the runtime (what the overlapped All relies on).
func TestWithRuntimeMatchesFromXML(t *testing.T) {
	paths, err := filepath.Glob("../vminfo/testdata/*/*.xml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no definitions under ../vminfo/testdata: %v", err)
	}
	rt := vminfo.Runtime{ID: 4, State: 3, CPUTime: 99, Persistent: true, Autostart: true}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := vminfo.FromXML(string(data), rt)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got, err := vminfo.FromXML(string(data), vminfo.Runtime{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		withRuntime(&got, rt)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: with the runtime after\n %#v\nwant %#v", p, got, want)
		}
	}
}
