package hypervisor

import (
	"fmt"
	"strings"
	"testing"
)

func TestDefineShapeIgnoresOnlyNameAndUUID(t *testing.T) {
	const doc = `<domain type="test"><name>%s</name><uuid>%s</uuid><memory unit="KiB">%s</memory>` +
		`<devices><disk><source file="/x"/></disk></devices><metadata><name>keep</name></metadata></domain>`
	const u1, u2 = "c05f65a9-1e5a-45b3-932b-7b15497a6728", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	base := defineShape(fmt.Sprintf(doc, "a", u1, "1024"))
	if base == "" {
		t.Fatal("a well-formed document has no shape")
	}
	if got := defineShape(fmt.Sprintf(doc, "b-other", u2, "1024")); got != base {
		t.Errorf("another name and uuid changed the shape:\n%s\n%s", got, base)
	}
	if got := defineShape(fmt.Sprintf(doc, "a", u1, "2048")); got == base {
		t.Error("another memory size kept the shape")
	}
	if got := defineShape(fmt.Sprintf(doc, "a", "C05F65A91E5A45B3932B7B15497A6728", "1024")); got == base {
		t.Error("a uuid in a non-canonical form was left out of the shape")
	}
	nested := `<domain><name>a</name><metadata><name>x</name></metadata></domain>`
	if defineShape(nested) == defineShape(`<domain><name>a</name><metadata><name>y</name></metadata></domain>`) {
		t.Error("a nested <name> was left out of the shape")
	}
	for _, bad := range []string{`<domain><name>a&#10;b</name></domain>`, `<domain><name>a`, ""} {
		if s := defineShape(bad); s != "" && bad != "" {
			t.Errorf("defineShape(%q) = %q, want \"\" (always validated)", bad, s)
		}
	}
}

// A document of a shape already validated is defined without validation;
// any other change of the document is validated again: an element the
// schema refuses (and libvirt's parser would ignore) is still refused.
func TestIntegrationDefineValidatesEachShape(t *testing.T) {
	c := connect(t, "test:///default")
	defineTest(t, c, uniqueName("shape"))
	d := defineTest(t, c, uniqueName("shape")) // same shape: skips validation
	if d.UUID == "" {
		t.Fatal("the second define of one shape returned no uuid")
	}
	bad := strings.Replace(testDomainXML(uniqueName("shape")), "<vcpu>", "<bogus/><vcpu>", 1)
	dom, err := c.DefineXML(ctx(t), bad)
	if err == nil {
		removeDomain(t, c, dom)
		t.Fatal("a document the schema refuses was defined: validation was skipped for a new shape")
	}
}
