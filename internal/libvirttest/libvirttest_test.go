package libvirttest_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
)

func TestMain(m *testing.M) { libvirttest.Main(m) }

// TestIntegrationHolderKeepsTestDriver: a domain defined over one
// connection outlives it, because the holder that Connect opened keeps the
// daemon's test driver from resetting.
func TestIntegrationHolderKeepsTestDriver(t *testing.T) {
	name := fmt.Sprintf("libvirttest-holder-%d", os.Getpid())
	first, err := libvirttest.Dial(libvirttest.TestURI)
	if err != nil {
		t.Fatal(err)
	}
	dom, err := first.DomainDefineXML(fmt.Sprintf(`<domain type='test'><name>%s</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`, name))
	if err != nil {
		t.Fatalf("define %s: %v", name, err)
	}
	if err := first.Disconnect(); err != nil {
		t.Fatal(err)
	}
	second := libvirttest.Connect(t, libvirttest.TestURI)
	got, err := second.DomainLookupByName(name)
	if err != nil {
		t.Fatalf("%s is gone after its connection closed: %v", name, err)
	}
	if got.UUID != dom.UUID {
		t.Errorf("%s has UUID %x, want %x", name, got.UUID, dom.UUID)
	}
	if err := second.DomainUndefine(got); err != nil {
		t.Errorf("undefine %s: %v", name, err)
	}
}
