package testguest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
)

func TestMain(m *testing.M) { libvirttest.Main(m) }

// bootTimeout allows for a loaded 2-core machine: a boot takes 6-11 s
// under TCG alone, several times that beside other guests.
const bootTimeout = 3 * time.Minute

// TestIntegrationBoot boots the guest on qemu:///system from a qcow2
// overlay with a vfat seed: the console shows the seed's files and the
// meta-data hostname, and the real agent answers with that hostname.
func TestIntegrationBoot(t *testing.T) {
	l := libvirttest.Connect(t, libvirttest.QemuURI)
	dir := t.TempDir()
	name := "testguest-" + randomSuffix(t) // test:///default and qemu:///system are shared: a prefix of our own
	userData := "#cloud-config\n# marker " + name + "\n"
	d := Domain{
		Name:    name,
		Disk:    Overlay(t, filepath.Join(dir, name+".qcow2")),
		Seed:    SeedImage(t, filepath.Join(dir, name+"-seed.img"), Seed{MetaData: MetaData("i-"+name, name), UserData: userData, NetworkConfig: "version: 2\n"}),
		SeedBus: "sata", // the provider's default cdrom bus: the guest's ahci driver must find it
		Console: filepath.Join(dir, "console.log"),
	}
	began := time.Now()
	dom := start(t, l, d)

	c := WaitConsole(t, d.Console, bootTimeout, "the guest to finish /init", func(c Console) bool { return c.Ready })
	t.Logf("the guest was ready %s after DomainCreate, %s after its kernel started (seed on %s)",
		time.Since(began).Round(time.Second), c.ReadyAfter.Round(100*time.Millisecond), c.SeedDevice)
	if c.Sections["user-data"] != userData {
		t.Errorf("the guest read user-data %q, want %q", c.Sections["user-data"], userData)
	}
	if c.Sections["network-config"] != "version: 2\n" || c.InstanceID != "i-"+name {
		t.Errorf("the guest read network-config %q and instance-id %q, want %q and %q", c.Sections["network-config"], c.InstanceID, "version: 2\n", "i-"+name)
	}
	if c.Hostname != name || !c.Agent {
		t.Errorf("the guest set hostname %q (want %q), agent started: %v", c.Hostname, name, c.Agent)
	}
	got, err := AgentHostName(l, dom, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the agent answered %s after DomainCreate", time.Since(began).Round(time.Second))
	if got != name {
		t.Fatalf("the agent says the hostname is %q, want the meta-data's %q", got, name)
	}

	remove(t, l, dom)
	if _, err := l.DomainLookupByName(name); !isNoDomain(err) {
		t.Fatalf("domain %s still there after destroy and undefine: %v", name, err)
	}
	for _, f := range []string{d.Disk, d.Seed, d.Console} {
		if err := os.Remove(f); err != nil {
			t.Errorf("removing %s: %v", f, err)
		}
	}
}

// start defines and starts d; the test's cleanup destroys and undefines it
// even when an assertion fails first.
func start(t *testing.T, l *libvirt.Libvirt, d Domain) libvirt.Domain {
	t.Helper()
	xml, err := d.XML()
	if err != nil {
		t.Fatal(err)
	}
	dom, err := l.DomainDefineXML(xml)
	if err != nil {
		t.Fatalf("defining %s on %s: %v", d.Name, libvirttest.QemuURI, err)
	}
	t.Cleanup(func() { remove(t, l, dom) })
	if err := l.DomainCreate(dom); err != nil {
		t.Fatalf("starting %s on %s: %v", d.Name, libvirttest.QemuURI, err)
	}
	return dom
}

// remove destroys and undefines dom; a domain already gone is fine.
func remove(t *testing.T, l *libvirt.Libvirt, dom libvirt.Domain) {
	t.Helper()
	if err := l.DomainDestroy(dom); err != nil && !isNoDomain(err) && !isNotRunning(err) {
		t.Errorf("destroying %s: %v", dom.Name, err)
	}
	if err := l.DomainUndefine(dom); err != nil && !isNoDomain(err) {
		t.Errorf("undefining %s: %v", dom.Name, err)
	}
}

func isNoDomain(err error) bool { return libvirt.IsNotFound(err) }
func isNotRunning(err error) bool {
	var lerr libvirt.Error
	return errors.As(err, &lerr) && lerr.Code == uint32(libvirt.ErrOperationInvalid)
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
