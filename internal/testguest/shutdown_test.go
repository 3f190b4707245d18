package testguest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
)

// shutdownTimeout bounds a graceful shutdown: the guest powers off well
// under a second after the request, so this is room for a loaded machine,
// still far below the provider's shutdown_timeout.
const shutdownTimeout = 20 * time.Second

// TestIntegrationShutdown asks a booted guest to shut down each way libvirt
// can: the default (the provider's virDomainShutdown: the agent when it is
// connected, the power button otherwise), the ACPI power button, and the
// agent's guest-shutdown. The guest must power off by itself within
// shutdownTimeout with reason "shutdown" (a forced power-off says
// "destroyed"), and its console must name the path it took.
func TestIntegrationShutdown(t *testing.T) {
	l := libvirttest.Connect(t, libvirttest.QemuURI)
	cases := []struct {
		name  string
		flags libvirt.DomainShutdownFlagValues
		want  []string // what the console may say after "shutting down: "
	}{
		{"default", libvirt.DomainShutdownDefault, []string{"poweroff (agent)", "poweroff (power button)"}},
		{"acpi", libvirt.DomainShutdownAcpiPowerBtn, []string{"poweroff (power button)"}},
		{"agent", libvirt.DomainShutdownGuestAgent, []string{"poweroff (agent)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // three TCG boots: side by side they take little more than one
			d, dom := bootReady(t, l, "acpi-"+tc.name+"-"+randomSuffix(t))
			if tc.flags == libvirt.DomainShutdownGuestAgent {
				// libvirt sends agent commands only once the agent has opened its port.
				if _, err := AgentHostName(l, dom, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			began := time.Now()
			if err := shutdown(l, dom, tc.flags); err != nil {
				t.Fatalf("shutting %s down (flags %v): %v", d.Name, tc.flags, err)
			}
			reason := waitShutOff(t, l, dom, shutdownTimeout, d.Console)
			took := time.Since(began)
			c := readConsole(t, d.Console)
			t.Logf("shut off %s after the request, reason %v, the guest said %q", took.Round(10*time.Millisecond), reason, c.Shutdown)
			if reason != libvirt.DomainShutoffShutdown {
				t.Errorf("%s is shut off with reason %v, want %v (the guest powering itself off)", d.Name, reason, libvirt.DomainShutoffShutdown)
			}
			if !slices.Contains(tc.want, c.Shutdown) {
				t.Errorf("the console says the guest shut down by %q, want one of %q", c.Shutdown, tc.want)
			}
		})
	}
}

// bootReady starts the guest with a seed and waits until /init has finished
// and acpid runs (a power button pressed earlier is lost).
func bootReady(t *testing.T, l *libvirt.Libvirt, name string) (Domain, libvirt.Domain) {
	t.Helper()
	dir := t.TempDir()
	d := Domain{
		Name:    name,
		Disk:    Overlay(t, filepath.Join(dir, name+".qcow2")),
		Seed:    SeedImage(t, filepath.Join(dir, name+"-seed.img"), Seed{MetaData: MetaData("i-"+name, name)}),
		Console: filepath.Join(dir, name+"-console.log"),
	}
	dom := start(t, l, d)
	c := WaitConsole(t, d.Console, bootTimeout, "the guest to finish /init", func(c Console) bool { return c.Ready })
	if !c.PowerButton {
		t.Fatalf("the guest finished /init without acpid, so the power button does nothing; its console:\n%s", tail(readFile(t, d.Console), 20))
	}
	return d, dom
}

func shutdown(l *libvirt.Libvirt, dom libvirt.Domain, flags libvirt.DomainShutdownFlagValues) error {
	if flags == libvirt.DomainShutdownDefault {
		return l.DomainShutdown(dom) // exactly what internal/hypervisor sends
	}
	return l.DomainShutdownFlags(dom, flags)
}

// waitShutOff polls dom until it is shut off and returns why; after timeout
// it fails the test with the state it is in and the guest's console.
func waitShutOff(t *testing.T, l *libvirt.Libvirt, dom libvirt.Domain, timeout time.Duration, console string) libvirt.DomainShutoffReason {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		state, reason, err := l.DomainGetState(dom, 0)
		if err != nil {
			t.Fatalf("state of %s: %v", dom.Name, err)
		}
		if libvirt.DomainState(state) == libvirt.DomainShutoff {
			return libvirt.DomainShutoffReason(reason)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still %s %s after the shutdown request; its console:\n%s",
				dom.Name, libvirt.DomainState(state), time.Since(deadline.Add(-timeout)).Round(time.Second), tail(readFile(t, console), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readConsole(t *testing.T, path string) Console { return ParseConsole(readFile(t, path)) }

func readFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return string(raw)
}
