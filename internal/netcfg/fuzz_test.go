package netcfg

import (
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics, and a network it accepts that also
// validates survives XML and Parse again unchanged.
func FuzzParse(f *testing.F) {
	for _, n := range []Network{good(), {Name: "b", Mode: ModeBridge, Bridge: "br0"}} {
		doc, _ := XML(n)
		f.Add(doc)
	}
	f.Add(`<network><name>x</name><ip address='10.0.0.1' netmask='255.255.0.0'/></network>`)
	f.Fuzz(func(t *testing.T, doc string) {
		n, err := Parse(doc)
		if err != nil || Validate(&n) != nil {
			return
		}
		again, err := XML(n)
		if err != nil {
			t.Fatalf("XML of a valid network: %v", err)
		}
		back, err := Parse(again)
		if err != nil {
			t.Fatalf("Parse of our own XML: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(back, n) {
			t.Fatalf("round trip changed %+v into %+v", n, back)
		}
	})
}
