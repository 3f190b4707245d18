package dirpool

import (
	"strings"
	"testing"
)

func TestSpecCheck(t *testing.T) {
	cases := []struct {
		spec Spec
		want string // "" = valid
	}{
		{Spec{"images", "/var/lib/libvirt/pools/images"}, ""},
		{Spec{"", "/srv/p"}, "must not be empty"},
		{Spec{"a/b", "/srv/p"}, `"a/b" contains '/'`},
		{Spec{"p", ""}, "path must not be empty"},
		{Spec{"p", "pools/images"}, `"pools/images" is relative`},
		{Spec{"p", "./p"}, "is relative"},
		{Spec{"p", "/"}, `must not be "/"`},
		{Spec{"p", "/srv/p/"}, `use "/srv/p"`},
		{Spec{"p", "/srv//p"}, `use "/srv/p"`},
		{Spec{"p", "/srv/x/../p"}, `use "/srv/p"`},
		{Spec{"p", "/srv/\x86"}, "not valid UTF-8"},
		{Spec{"a\tb", "/srv/p"}, "control character at byte 1"},
	}
	for _, c := range cases {
		err := c.spec.Check()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", c.spec, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want one containing %q", c.spec, err, c.want)
		}
	}
}

func TestXMLRoundTrip(t *testing.T) {
	doc, err := Spec{Name: "images", Path: "/srv/pools/images"}.XML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc, `<pool type="dir">`) {
		t.Errorf("not a dir pool:\n%s", doc)
	}
	d, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if d != (Definition{Name: "images", Type: "dir", Path: "/srv/pools/images"}) {
		t.Errorf("Parse = %+v", d)
	}
	if _, err := (Spec{Name: "images", Path: "rel"}).XML(); err == nil {
		t.Error("XML of a relative path succeeded")
	}
}

// TestParseHostXML reads what the test driver reports for its pool.
func TestParseHostXML(t *testing.T) {
	d, err := Parse(`<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <capacity unit='bytes'>107374182400</capacity>
  <target><path>/default-pool</path></target>
</pool>`)
	if err != nil {
		t.Fatal(err)
	}
	want := Definition{Name: "default-pool", UUID: "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566", Type: "dir", Path: "/default-pool"}
	if d != want {
		t.Errorf("Parse = %+v, want %+v", d, want)
	}
	if _, err := Parse("<pool"); err == nil || !strings.Contains(err.Error(), "dirpool: parse pool xml") {
		t.Errorf("Parse of broken xml: %v", err)
	}
}

func TestMiB(t *testing.T) {
	for in, want := range map[uint64]int64{0: 0, 1<<20 - 1: 0, 1 << 20: 1, 100<<30 + 5: 102400} {
		if got := MiB(in); got != want {
			t.Errorf("MiB(%d) = %d, want %d", in, got, want)
		}
	}
}

// FuzzSpec: a spec that passes Check reads back unchanged from its XML.
func FuzzSpec(f *testing.F) {
	f.Add("images", "/srv/pools/images")
	f.Add("a<b&c", "/srv/'\"")
	f.Fuzz(func(t *testing.T, name, path string) {
		s := Spec{Name: name, Path: path}
		doc, err := s.XML()
		if err != nil {
			return
		}
		d, err := Parse(doc)
		if err != nil {
			t.Fatalf("Parse(XML(%+v)): %v", s, err)
		}
		if d.Name != name || d.Path != path || d.Type != Type {
			t.Fatalf("round trip of %+v gave %+v", s, d)
		}
	})
}
