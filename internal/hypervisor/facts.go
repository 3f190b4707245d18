package hypervisor

import (
	"context"
	"fmt"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// HostFacts describes a host as its daemon reports it.
type HostFacts struct {
	Hostname          string
	LibvirtVersion    string // "9.0.0"
	Driver            string // ConnectGetType: QEMU, TEST...
	HypervisorVersion string // qemu's version for QEMU, "0.0.2" for TEST
	CPUs              int
	MemoryKiB         uint64
	Arch              string // host CPU architecture, e.g. x86_64
	KVM               bool   // the capabilities offer domain type kvm
}

// Facts reads the host's identity and size, once per connection: they do
// not change while it is up, and a create asks for them on every VM.
func (c *Conn) Facts(ctx context.Context) (HostFacts, error) {
	var f HostFacts
	err := c.callRead(ctx, "read host facts", func(l *libvirt.Libvirt) (err error) {
		if cached, ok := c.s.memo.cachedFacts(l); ok {
			f = cached
			return nil
		}
		if f, err = readFacts(l); err == nil {
			c.s.memo.rememberFacts(l, f)
		}
		return err
	})
	if err != nil {
		return HostFacts{}, err
	}
	return f, nil
}

func readFacts(l *libvirt.Libvirt) (HostFacts, error) {
	var f HostFacts
	var err error
	if f.Hostname, err = l.ConnectGetHostname(); err != nil {
		return f, err
	}
	lib, err := l.ConnectGetLibVersion()
	if err != nil {
		return f, err
	}
	if f.Driver, err = l.ConnectGetType(); err != nil {
		return f, err
	}
	hv, err := l.ConnectGetVersion()
	if err != nil {
		return f, err
	}
	f.LibvirtVersion, f.HypervisorVersion = version(lib), version(hv)
	model, mem, cpus, _, _, _, _, _, err := l.NodeGetInfo()
	if err != nil {
		return f, err
	}
	f.CPUs, f.MemoryKiB, f.Arch = int(cpus), mem, cString(model[:])
	caps, err := l.ConnectGetCapabilities()
	if err != nil {
		return f, err
	}
	return f, applyCaps(&f, caps)
}

// applyCaps takes the architecture and KVM support from the capabilities.
func applyCaps(f *HostFacts, doc string) error {
	var caps libvirtxml.Caps
	if err := caps.Unmarshal(doc); err != nil {
		return fmt.Errorf("parse capabilities: %w", err)
	}
	if caps.Host.CPU != nil && caps.Host.CPU.Arch != "" {
		f.Arch = caps.Host.CPU.Arch
	}
	for _, g := range caps.Guests {
		for _, d := range g.Arch.Domains {
			f.KVM = f.KVM || d.Type == "kvm"
		}
	}
	return nil
}

// version renders libvirt's major*1e6 + minor*1e3 + micro encoding.
func version(v uint64) string {
	return fmt.Sprintf("%d.%d.%d", v/1000000, v%1000000/1000, v%1000)
}

func cString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}
