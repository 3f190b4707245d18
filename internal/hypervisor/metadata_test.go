package hypervisor

import (
	"strings"
	"testing"
)

// TestIntegrationMetadata: an element of our namespace is written into the
// persistent definition, read back, leaves another namespace's element
// alone, and is removed again; a domain without one reads as "".
func TestIntegrationMetadata(t *testing.T) {
	for _, uri := range []string{testURI, qemuURI} {
		t.Run(uri, func(t *testing.T) {
			c := connect(t, uri)
			doc := testDomainXML("ip-" + uniqueName("meta"))
			if uri == qemuURI {
				doc = qemuDomainXML("ip-" + uniqueName("meta"))
			}
			d, err := c.DefineXML(ctx(t), doc)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { removeDomain(t, c, d) })
			const ours, theirs = "https://example.org/ours", "https://example.org/theirs"
			if got, err := c.Metadata(ctx(t), d, ours); err != nil || got != "" {
				t.Fatalf("metadata of a new domain = %q, %v; want none", got, err)
			}
			for ns, el := range map[string]string{ours: `<w source="agent" timeout="5m"/>`, theirs: `<x/>`} {
				if err := c.SetMetadata(ctx(t), d, ns, "p", el); err != nil {
					t.Fatal(err)
				}
			}
			got, err := c.Metadata(ctx(t), d, ours)
			if err != nil || !strings.Contains(got, `source="agent"`) || !strings.Contains(got, `timeout="5m"`) {
				t.Fatalf("metadata = %q, %v; want the element written", got, err)
			}
			if err := c.SetMetadata(ctx(t), d, ours, "p", ""); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Metadata(ctx(t), d, ours); err != nil || got != "" {
				t.Errorf("metadata after removal = %q, %v; want none", got, err)
			}
			if got, err := c.Metadata(ctx(t), d, theirs); err != nil || got == "" {
				t.Errorf("the other namespace's element = %q, %v; want it kept", got, err)
			}
		})
	}
}

// TestIntegrationCreateMark: a domain defined from XML with the create mark
// carries it (read by a metadata call and seen in its inactive XML), keeps
// metadata of other namespaces, and loses only the mark when it is cleared.
func TestIntegrationCreateMark(t *testing.T) {
	for _, uri := range []string{testURI, qemuURI} {
		t.Run(uri, func(t *testing.T) {
			c := connect(t, uri)
			name := "rs-" + uniqueName("mark")
			doc := testDomainXML(name)
			if uri == qemuURI {
				doc = qemuDomainXML(name)
			}
			doc = strings.Replace(doc, "</domain>", `<metadata><o:x xmlns:o="https://example.org/other"/></metadata></domain>`, 1)
			marked, err := WithCreateMark(doc)
			if err != nil {
				t.Fatal(err)
			}
			d := defineXML(t, c, marked)
			if ok, err := c.CreateMarked(ctx(t), d); err != nil || !ok {
				t.Fatalf("CreateMarked of a domain defined with the mark = %v, %v; want true", ok, err)
			}
			inactive, err := c.DomainXML(ctx(t), d, true)
			if err != nil || !HasCreateMark(inactive) {
				t.Fatalf("HasCreateMark(inactive XML) = false (%v):\n%s", err, inactive)
			}
			if err := c.ClearCreateMark(ctx(t), d); err != nil {
				t.Fatal(err)
			}
			if ok, err := c.CreateMarked(ctx(t), d); err != nil || ok {
				t.Errorf("CreateMarked after ClearCreateMark = %v, %v; want false", ok, err)
			}
			inactive, err = c.DomainXML(ctx(t), d, true)
			if err != nil || HasCreateMark(inactive) || !strings.Contains(inactive, "https://example.org/other") {
				t.Errorf("inactive XML after clearing: want no mark and the other element kept (%v):\n%s", err, inactive)
			}
		})
	}
}
