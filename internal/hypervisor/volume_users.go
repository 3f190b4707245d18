package hypervisor

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// Who would lose a volume if it were deleted: the domains whose disks use
// it and the volumes it backs. Deleting a file under a running qemu does
// not stop the guest (it keeps writing to the unlinked file), and an
// overlay whose base is gone cannot be opened again, so neither failure
// shows until much later.

// ErrVolumeInUse: the volume has users; the error is a *VolumeInUseError.
var ErrVolumeInUse = errors.New("storage volume in use")

// usersWorkers bounds the reads in flight on one connection while
// VolumeUsers looks at every domain and volume.
const usersWorkers = 8

// VolumeUsers names a volume's users.
type VolumeUsers struct {
	// Domains: defined domains whose persistent definition has a disk on
	// the volume (by pool and volume, or by path), and running ones with a
	// live disk on it (hot-plugged only). Sorted.
	Domains []string
	// Volumes: volumes whose backing file is the volume, as "pool/name",
	// sorted.
	Volumes []string
}

// Empty reports whether nothing uses the volume.
func (u VolumeUsers) Empty() bool { return len(u.Domains) == 0 && len(u.Volumes) == 0 }

// String lists the users, e.g. `VMs "a", "b" and volumes "p/x.qcow2"`.
func (u VolumeUsers) String() string {
	var parts []string
	if len(u.Domains) > 0 {
		parts = append(parts, plural(len(u.Domains), "VM", "VMs")+" "+quoted(u.Domains))
	}
	if len(u.Volumes) > 0 {
		parts = append(parts, plural(len(u.Volumes), "volume", "volumes")+" "+quoted(u.Volumes)+" (backed by it)")
	}
	return strings.Join(parts, " and ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func quoted(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// VolumeInUseError is why DeleteUnusedVolume refused.
type VolumeInUseError struct {
	Pool, Name string
	Users      VolumeUsers
}

func (e *VolumeInUseError) Error() string {
	return fmt.Sprintf("volume %q of pool %q is still used by %s; nothing was deleted", e.Name, e.Pool, e.Users)
}

// Is makes errors.Is(err, ErrVolumeInUse) hold.
func (e *VolumeInUseError) Is(target error) bool { return target == ErrVolumeInUse }

// VolumeUsers finds the volume's users: every domain's persistent
// definition, the live disks of every running domain (one all-domain
// stats call, which also resolves pool/volume disks to their paths) and
// the backing store of every volume of every active pool. ErrVolumeNotFound
// when the volume is gone.
func (c *Conn) VolumeUsers(ctx context.Context, pool, name string) (VolumeUsers, error) {
	var u VolumeUsers
	err := c.callRead(ctx, volOp("find the users of", pool, name), func(l *libvirt.Libvirt) error {
		vol, err := lookupVol(l, pool, name)
		if err != nil {
			return err
		}
		u, err = volumeUsers(l, vol)
		return err
	})
	if err != nil {
		return VolumeUsers{}, err
	}
	return u, nil
}

// DeleteUnusedVolume deletes the volume unless something uses it: then it
// deletes nothing and returns a *VolumeInUseError naming the users.
func (c *Conn) DeleteUnusedVolume(ctx context.Context, v Volume) error {
	return c.call(ctx, volOp("delete", v.Pool, v.Name), func(l *libvirt.Libvirt) error {
		vol, err := lookupVol(l, v.Pool, v.Name)
		if err != nil {
			return err
		}
		u, err := volumeUsers(l, vol)
		if err != nil {
			return fmt.Errorf("finding its users before deleting it: %w", err)
		}
		if !u.Empty() {
			return &VolumeInUseError{Pool: v.Pool, Name: v.Name, Users: u}
		}
		return l.StorageVolDelete(vol, 0)
	})
}

func volumeUsers(l *libvirt.Libvirt, vol libvirt.StorageVol) (VolumeUsers, error) {
	path, err := volumePath(l, vol)
	if err != nil {
		return VolumeUsers{}, err
	}
	doms, err := definedUsers(l, vol, path)
	if err != nil {
		return VolumeUsers{}, err
	}
	disks, err := liveDisks(l)
	if err != nil {
		return VolumeUsers{}, err
	}
	for _, d := range disks {
		if d.Path == path {
			doms = append(doms, d.Domain.Name)
		}
	}
	overlays, err := overlaysOf(l, vol, path)
	if err != nil {
		return VolumeUsers{}, err
	}
	slices.Sort(doms)
	slices.Sort(overlays)
	return VolumeUsers{Domains: slices.Compact(doms), Volumes: overlays}, nil
}

func volumePath(l *libvirt.Libvirt, vol libvirt.StorageVol) (string, error) {
	doc, err := l.StorageVolGetXMLDesc(vol, 0)
	if err != nil {
		return "", err
	}
	var x libvirtxml.StorageVolume
	if err := x.Unmarshal(doc); err != nil {
		return "", fmt.Errorf("parse volume xml: %w", err)
	}
	if x.Target == nil || x.Target.Path == "" {
		return "", fmt.Errorf("volume %q of pool %q has no path", vol.Name, vol.Pool)
	}
	return x.Target.Path, nil
}

// diskSources is the part of a domain definition that says which files
// and volumes its disks use; decoding only that is much cheaper than a
// whole libvirtxml.Domain.
type diskSources struct {
	Disks []struct {
		Source struct {
			File   string `xml:"file,attr"`
			Dev    string `xml:"dev,attr"`
			Pool   string `xml:"pool,attr"`
			Volume string `xml:"volume,attr"`
		} `xml:"source"`
	} `xml:"devices>disk"`
}

func (d diskSources) uses(pool, name, path string) bool {
	for _, disk := range d.Disks {
		s := disk.Source
		if s.File == path || s.Dev == path || (s.Pool == pool && s.Volume == name) {
			return true
		}
	}
	return false
}

// definedUsers names the domains whose persistent definition (the live one
// for a transient domain) has a disk on the volume.
func definedUsers(l *libvirt.Libvirt, vol libvirt.StorageVol, path string) ([]string, error) {
	doms, _, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		return nil, err
	}
	return matching(doms, func(d libvirt.Domain) (string, bool, error) {
		doc, err := l.DomainGetXMLDesc(d, libvirt.DomainXMLInactive)
		if libvirtCode(err) == libvirt.ErrNoDomain {
			return "", false, nil // undefined since the listing
		}
		if err != nil {
			return "", false, fmt.Errorf("domain %q: %w", d.Name, err)
		}
		var x diskSources
		if err := xml.Unmarshal([]byte(doc), &x); err != nil {
			return "", false, fmt.Errorf("domain %q: parse xml: %w", d.Name, err)
		}
		return d.Name, x.uses(vol.Pool, vol.Name, path), nil
	})
}

// overlaysOf names the volumes of the host's active pools whose backing
// store is path. A relative backing path is relative to the overlay's
// directory, as qemu reads it.
func overlaysOf(l *libvirt.Libvirt, vol libvirt.StorageVol, path string) ([]string, error) {
	pools, _, err := l.ConnectListAllStoragePools(1, libvirt.ConnectListStoragePoolsActive)
	if err != nil {
		return nil, err
	}
	var vols []libvirt.StorageVol
	for _, p := range pools {
		vs, _, err := l.StoragePoolListAllVolumes(p, 1, 0)
		if libvirtCode(err) == libvirt.ErrNoStoragePool || libvirtCode(err) == libvirt.ErrOperationInvalid {
			continue // undefined or stopped since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("pool %q: %w", p.Name, err)
		}
		vols = append(vols, vs...)
	}
	return matching(vols, func(v libvirt.StorageVol) (string, bool, error) {
		if v.Key == vol.Key {
			return "", false, nil
		}
		doc, err := l.StorageVolGetXMLDesc(v, 0)
		if libvirtCode(err) == libvirt.ErrNoStorageVol {
			return "", false, nil // deleted since the listing
		}
		if err != nil {
			return "", false, fmt.Errorf("volume %q of pool %q: %w", v.Name, v.Pool, err)
		}
		var x libvirtxml.StorageVolume
		if err := x.Unmarshal(doc); err != nil {
			return "", false, fmt.Errorf("volume %q of pool %q: parse xml: %w", v.Name, v.Pool, err)
		}
		if x.BackingStore == nil || x.BackingStore.Path == "" || x.Target == nil {
			return "", false, nil
		}
		backing := x.BackingStore.Path
		if !filepath.IsAbs(backing) {
			backing = filepath.Join(filepath.Dir(x.Target.Path), backing)
		}
		return v.Pool + "/" + v.Name, filepath.Clean(backing) == filepath.Clean(path), nil
	})
}

// matching runs test on every item, at most usersWorkers at once on the
// one connection (go-libvirt matches replies to calls by serial), and
// returns the names test matched, unsorted. The first error wins.
func matching[T any](items []T, test func(T) (string, bool, error)) ([]string, error) {
	var (
		mu       sync.Mutex
		names    []string
		firstErr error
		wg       sync.WaitGroup
	)
	slots := make(chan struct{}, usersWorkers)
	for _, it := range items {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			name, ok, err := test(it)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && firstErr == nil:
				firstErr = err
			case ok:
				names = append(names, name)
			}
		}()
	}
	wg.Wait()
	return names, firstErr
}

// liveDisk is one disk of a running domain as its block stats name it.
type liveDisk struct {
	Domain libvirt.Domain
	Target string // vda, sdb...
	Path   string // the file or device qemu has open (a pool volume resolved)
}

// liveDisks lists the disks of every running domain in one call. The live
// XML names a pool volume disk by pool and volume only, while block stats
// give its path, which is what qemu has open. The test driver reports no
// block stats: it has no disks to resize live.
func liveDisks(l *libvirt.Libvirt) ([]liveDisk, error) {
	stats, err := l.ConnectGetAllDomainStats(nil, uint32(libvirt.DomainStatsBlock), uint32(libvirt.ConnectGetAllDomainsStatsActive))
	if err != nil {
		return nil, err
	}
	var out []liveDisk
	for _, st := range stats {
		byIndex := map[string]*liveDisk{}
		for _, p := range st.Params {
			idx, field, ok := blockField(p.Field)
			if !ok {
				continue
			}
			d := byIndex[idx]
			if d == nil {
				d = &liveDisk{Domain: st.Dom}
				byIndex[idx] = d
			}
			s, _ := p.Value.I.(string)
			switch field {
			case "name":
				d.Target = s
			case "path":
				d.Path = s
			}
		}
		for _, d := range byIndex {
			if d.Target != "" && d.Path != "" {
				out = append(out, *d)
			}
		}
	}
	return out, nil
}

// blockField splits "block.3.path" into "3" and "path".
func blockField(f string) (idx, field string, ok bool) {
	rest, ok := strings.CutPrefix(f, "block.")
	if !ok {
		return "", "", false
	}
	idx, field, ok = strings.Cut(rest, ".")
	if !ok || (field != "name" && field != "path") {
		return "", "", false
	}
	return idx, field, true
}
