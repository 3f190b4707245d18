// Package guestfloor is the floor `make bench` measures the provider's
// "apply until every guest has an IP" against (scripts/bench-guests.sh):
// the same guests made with plain libvirt calls over one connection, all at
// once. For each guest it creates a qcow2 overlay of the base volume and a
// NoCloud seed volume (built in Go, uploaded, attached as the provider's
// cloud_init does: a read-only SCSI cdrom), defines the domain (the provider's own XML, vminfo.BuildXML, so both boot
// the same machine), starts it, and polls the network's DHCP leases for
// its MAC every PollEvery, until every guest has one. Bench only.
package guestfloor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/cloudinit"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// PollEvery is how often the floor asks for leases: finer than the
// provider's one second, so the floor is never the slower one for polling.
const PollEvery = 200 * time.Millisecond

// Options name what the guests are made in; Pool, Base and Network exist.
type Options struct {
	Pool, Base, Network string
	Prefix              string // guest i is <Prefix>-<i>, its overlay <Prefix>-<i>.qcow2
	N                   int
	MemoryMiB           uint64
	Timeout             time.Duration // for all guests to have a lease
}

// Guest is one guest the floor made, with what it measured.
type Guest struct {
	Name, MAC, IP string
	Leased        time.Duration // since Run began
}

// Run makes the guests and returns when all have a lease (or on the first
// error), with each guest's lease and the wall time. Clean removes them.
func Run(ctx context.Context, l *libvirt.Libvirt, o Options) ([]Guest, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	pool, err := l.StoragePoolLookupByName(o.Pool)
	if err != nil {
		return nil, 0, fmt.Errorf("guestfloor: pool %q: %w", o.Pool, err)
	}
	base, err := l.StorageVolLookupByName(pool, o.Base)
	if err != nil {
		return nil, 0, fmt.Errorf("guestfloor: base volume %q: %w", o.Base, err)
	}
	netw, err := l.NetworkLookupByName(o.Network)
	if err != nil {
		return nil, 0, fmt.Errorf("guestfloor: network %q: %w", o.Network, err)
	}
	began := time.Now()
	guests := make([]Guest, o.N)
	errs := make([]error, o.N)
	var wg sync.WaitGroup
	for i := range guests {
		wg.Go(func() {
			guests[i], errs[i] = one(ctx, l, pool, base, netw, o, fmt.Sprintf("%s-%d", o.Prefix, i), began)
		})
	}
	wg.Wait()
	return guests, time.Since(began), errors.Join(errs...)
}

func one(ctx context.Context, l *libvirt.Libvirt, pool libvirt.StoragePool, base libvirt.StorageVol, netw libvirt.Network, o Options, name string, began time.Time) (Guest, error) {
	g := Guest{Name: name}
	if err := overlay(l, pool, base, name+".qcow2"); err != nil {
		return g, err
	}
	uuid := vminfo.NewUUID()
	if err := seed(l, pool, SeedVolume(name), cloudinit.Seed{UserData: UserData}.WithDefaultMetaData(uuid, name)); err != nil {
		return g, err
	}
	doc, err := vminfo.BuildXML(vminfo.Spec{
		Name: name, UUID: uuid, DomainType: "qemu", MemoryKiB: o.MemoryMiB * 1024, Vcpu: 1, Graphics: "none",
		Disks: []vminfo.Disk{
			{Pool: o.Pool, Volume: name + ".qcow2", Format: "qcow2"},
			{Device: "cdrom", Bus: "scsi", Target: "sdg", Pool: o.Pool, Volume: SeedVolume(name), Format: "raw", ReadOnly: true},
		},
		Interfaces: []vminfo.Interface{{Type: "network", Source: o.Network, Model: vminfo.DefaultInterfaceModel}},
	})
	if err != nil {
		return g, err
	}
	dom, err := l.DomainDefineXML(doc)
	if err != nil {
		return g, fmt.Errorf("guestfloor: define %s: %w", name, err)
	}
	if g.MAC, err = macOf(l, dom); err != nil {
		return g, err
	}
	if err := l.DomainCreate(dom); err != nil {
		return g, fmt.Errorf("guestfloor: start %s: %w", name, err)
	}
	for {
		leases, _, err := l.NetworkGetDhcpLeases(netw, libvirt.OptString{g.MAC}, 1, 0)
		if err != nil {
			return g, fmt.Errorf("guestfloor: leases of %s: %w", o.Network, err)
		}
		if len(leases) > 0 {
			g.IP, g.Leased = leases[0].Ipaddr, time.Since(began)
			return g, nil
		}
		select {
		case <-ctx.Done():
			return g, fmt.Errorf("guestfloor: %s (mac %s) has no lease: %w", name, g.MAC, ctx.Err())
		case <-time.After(PollEvery):
		}
	}
}

// UserData is what both sides give every guest through cloud-init.
const UserData = "#cloud-config\n# bench-guests\n"

// SeedVolume is the name of guest name's seed, as the provider names it.
func SeedVolume(name string) string { return name + "-cidata.iso" }

// seed builds s, creates the raw volume name of its size and uploads it.
func seed(l *libvirt.Libvirt, pool libvirt.StoragePool, name string, s cloudinit.Seed) error {
	img, err := cloudinit.Build(s)
	if err != nil {
		return fmt.Errorf("guestfloor: build seed %s: %w", name, err)
	}
	v := libvirtxml.StorageVolume{
		Name:     name,
		Capacity: &libvirtxml.StorageVolumeSize{Value: uint64(len(img)), Unit: "bytes"},
		Target:   &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: "raw"}},
	}
	doc, err := v.Marshal()
	if err != nil {
		return err
	}
	vol, err := l.StorageVolCreateXML(pool, doc, 0)
	if err != nil {
		return fmt.Errorf("guestfloor: create seed %s: %w", name, err)
	}
	if err := l.StorageVolUpload(vol, bytes.NewReader(img), 0, uint64(len(img)), 0); err != nil {
		return fmt.Errorf("guestfloor: upload seed %s: %w", name, err)
	}
	return nil
}

// overlay creates a qcow2 volume backed by base, as virtumancer_volume's
// base_volume does.
func overlay(l *libvirt.Libvirt, pool libvirt.StoragePool, base libvirt.StorageVol, name string) error {
	_, capacity, _, err := l.StorageVolGetInfo(base)
	if err != nil {
		return fmt.Errorf("guestfloor: base volume info: %w", err)
	}
	path, err := l.StorageVolGetPath(base)
	if err != nil {
		return fmt.Errorf("guestfloor: base volume path: %w", err)
	}
	v := libvirtxml.StorageVolume{
		Name:         name,
		Capacity:     &libvirtxml.StorageVolumeSize{Value: capacity, Unit: "bytes"},
		Target:       &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: "qcow2"}},
		BackingStore: &libvirtxml.StorageVolumeBackingStore{Path: path, Format: &libvirtxml.StorageVolumeTargetFormat{Type: "raw"}},
	}
	doc, err := v.Marshal()
	if err != nil {
		return err
	}
	if _, err := l.StorageVolCreateXML(pool, doc, 0); err != nil {
		return fmt.Errorf("guestfloor: create overlay %s: %w", name, err)
	}
	return nil
}

func macOf(l *libvirt.Libvirt, dom libvirt.Domain) (string, error) {
	doc, err := l.DomainGetXMLDesc(dom, 0)
	if err != nil {
		return "", err
	}
	var x libvirtxml.Domain
	if err := x.Unmarshal(doc); err != nil {
		return "", err
	}
	if x.Devices == nil || len(x.Devices.Interfaces) == 0 || x.Devices.Interfaces[0].MAC == nil {
		return "", fmt.Errorf("guestfloor: %s got no MAC", dom.Name)
	}
	return x.Devices.Interfaces[0].MAC.Address, nil
}

// Clean destroys and undefines the floor's domains and deletes their
// overlays; what is already gone is fine. It returns the first failure.
func Clean(l *libvirt.Libvirt, o Options) error {
	var first error
	keep := func(err error) {
		if first == nil && err != nil && !libvirt.IsNotFound(err) {
			first = err
		}
	}
	pool, poolErr := l.StoragePoolLookupByName(o.Pool)
	keep(poolErr)
	for i := range o.N {
		name := fmt.Sprintf("%s-%d", o.Prefix, i)
		if dom, err := l.DomainLookupByName(name); err == nil {
			_ = l.DomainDestroy(dom) // a stopped domain refuses; undefine follows
			keep(l.DomainUndefine(dom))
		}
		if poolErr != nil {
			continue
		}
		for _, vol := range []string{name + ".qcow2", SeedVolume(name)} {
			if v, err := l.StorageVolLookupByName(pool, vol); err == nil {
				keep(l.StorageVolDelete(v, 0))
			}
		}
	}
	return first
}
