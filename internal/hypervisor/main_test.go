package hypervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
)

// Test* tests need nothing; TestIntegration* need the real libvirtd started
// by scripts/testenv.sh and fail (never skip) when it does not answer.

const (
	testURI = "test:///default"
	qemuURI = "qemu:///system"
)

const fixHint = libvirttest.FixHint

// TestMain closes the test:///default holder (the daemon's test driver
// resets when its last connection closes) that the first test needing
// libvirtd opened; plain Test… tests never open it.
func TestMain(m *testing.M) { libvirttest.Main(m) }

// requireDaemon fails the test loudly when libvirtd is not usable.
func requireDaemon(t testing.TB) {
	t.Helper()
	libvirttest.Require(t)
}

// newPool returns a pool closed at the end of the test.
func newPool(t testing.TB, opts Options) *Pool {
	t.Helper()
	p := NewPool(opts)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close pool: %v", err)
		}
	})
	return p
}

// connect returns a connection to uri from a fresh pool.
func connect(t testing.TB, uri string) *Conn {
	t.Helper()
	requireDaemon(t)
	c, err := newPool(t, Options{}).Get(ctx(t), "local", uri)
	if err != nil {
		t.Fatalf("get %s: %v", uri, err)
	}
	return c
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// uniqueName makes hv- names that parallel test binaries do not share.
func uniqueName(purpose string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "hv-" + purpose + "-" + hex.EncodeToString(b)
}

// testDomainXML is a minimal domain for the test driver.
func testDomainXML(name string) string {
	return fmt.Sprintf(`<domain type='test'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>`, name)
}

// defineTest defines a test-driver domain and removes it when the test ends.
func defineTest(t *testing.T, c *Conn, name string) Domain {
	t.Helper()
	return defineXML(t, c, testDomainXML(name))
}

// defineXML defines the domain doc describes and removes it when the test
// ends.
func defineXML(t *testing.T, c *Conn, doc string) Domain {
	t.Helper()
	d, err := c.DefineXML(ctx(t), doc)
	if err != nil {
		t.Fatalf("define: %v\n%s", err, doc)
	}
	t.Cleanup(func() { removeDomain(t, c, d) })
	return d
}

// startXML is defineXML, then starts the domain.
func startXML(t *testing.T, c *Conn, doc string) Domain {
	t.Helper()
	d := defineXML(t, c, doc)
	started, err := c.Start(ctx(t), d)
	if err != nil {
		t.Fatalf("start %s: %v", d.Name, err)
	}
	return started
}

// removeDomain destroys and undefines d, ignoring "already gone".
func removeDomain(t testing.TB, c *Conn, d Domain) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Destroy(ctx, d); err != nil && !IsNotFound(err) {
		t.Errorf("cleanup: destroy %s: %v", d.Name, err)
	}
	if err := c.Undefine(ctx, d); err != nil && !IsNotFound(err) {
		t.Errorf("cleanup: undefine %s: %v", d.Name, err)
	}
}

func contextWithCancel(t testing.TB) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return c, cancel
}
