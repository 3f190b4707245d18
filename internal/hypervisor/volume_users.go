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
	"time"

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
		idx, err := readUsage(l)
		if err == nil {
			u, err = idx.users(pool, name)
		}
		return err
	})
	if err != nil {
		return VolumeUsers{}, err
	}
	return u, nil
}

// planUsageAge is how long PlanVolumeUsers reuses what it read.
const planUsageAge = 5 * time.Second

// usageMemo keeps, per connection (shared.usage), the last usage index read
// for plans, and only for planUsageAge: a timer drops it then, so an idle
// provider does not hold the index of a large host (and the
// *libvirt.Libvirt it was read on) until the process ends, and a closed
// connection drops it at once.
type usageMemo struct {
	mu    sync.Mutex
	age   time.Duration // planUsageAge unless a test sets it
	at    time.Time
	l     *libvirt.Libvirt
	idx   *usageIndex
	timer *time.Timer
}

// get returns the index read on l within the memo's age, or reads it
// with read. One read at a time: the callers arriving meanwhile wait for
// it and share it.
func (m *usageMemo) get(l *libvirt.Libvirt, read func(*libvirt.Libvirt) (*usageIndex, error)) (*usageIndex, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	age := m.age
	if age <= 0 {
		age = planUsageAge
	}
	if m.idx != nil && m.l == l && time.Since(m.at) <= age {
		return m.idx, nil
	}
	idx, err := read(l)
	if err != nil {
		m.dropLocked()
		return nil, err
	}
	m.idx, m.l, m.at = idx, l, time.Now()
	if m.timer == nil {
		m.timer = time.AfterFunc(age, m.expire)
	} else {
		m.timer.Reset(age)
	}
	return idx, nil
}

// expire drops the index once it is older than the memo's age (a read
// since the timer was set re-arms it).
func (m *usageMemo) expire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	age := m.age
	if age <= 0 {
		age = planUsageAge
	}
	if time.Since(m.at) >= age {
		m.dropLocked()
	}
}

// drop forgets the index now (the connection is closing).
func (m *usageMemo) drop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropLocked()
}

func (m *usageMemo) dropLocked() {
	m.idx, m.l = nil, nil
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
}

// held reports whether the memo holds an index (for tests).
func (m *usageMemo) held() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.idx != nil
}

// PlanVolumeUsers is VolumeUsers for plans: what it read about the whole
// host serves every volume asked about within planUsageAge on the same
// connection, so a plan that destroys 500 volumes reads the host once,
// not 500 times (about 0.1 s each with 500 domains). Its answer may be
// that old; DeleteUnusedVolume always reads afresh.
func (c *Conn) PlanVolumeUsers(ctx context.Context, pool, name string) (VolumeUsers, error) {
	var u VolumeUsers
	err := c.callRead(ctx, volOp("find the users of", pool, name), func(l *libvirt.Libvirt) error {
		idx, err := c.s.usage.get(l, readUsage)
		if err == nil {
			u, err = idx.users(pool, name)
		}
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
		idx, err := readUsage(l)
		if err != nil {
			return fmt.Errorf("finding its users before deleting it: %w", err)
		}
		u, err := idx.users(v.Pool, v.Name)
		switch {
		case IsNotFound(err):
			// Made since the listing: nothing can be backed by it yet,
			// but a domain may name it.
			u = VolumeUsers{Domains: idx.volDomains[volKey(v.Pool, v.Name)]}
		case err != nil:
			return err
		}
		if !u.Empty() {
			return &VolumeInUseError{Pool: v.Pool, Name: v.Name, Users: u}
		}
		return l.StorageVolDelete(vol, 0)
	})
}

// usageIndex is which disk sources and backing files the host's domains
// and volumes use, read in one pass.
type usageIndex struct {
	paths      map[string]string   // volKey -> the volume's path
	volDomains map[string][]string // volKey -> domains with a pool/volume disk on it
	pathUsers  map[string][]string // path -> domains with a disk on that file or device
	backed     map[string][]string // path -> volumes ("pool/name") backed by that file
}

func volKey(pool, name string) string { return pool + "\x00" + name }

func (x *usageIndex) users(pool, name string) (VolumeUsers, error) {
	key := volKey(pool, name)
	path, ok := x.paths[key]
	if !ok {
		return VolumeUsers{}, &codedError{kind: ErrVolumeNotFound, err: fmt.Errorf("no volume %q in the active pools", name)}
	}
	doms := slices.Concat(x.volDomains[key], x.pathUsers[path])
	slices.Sort(doms)
	overlays := slices.Clone(x.backed[path])
	slices.Sort(overlays)
	return VolumeUsers{Domains: slices.Compact(doms), Volumes: overlays}, nil
}

func readUsage(l *libvirt.Libvirt) (*usageIndex, error) {
	x := &usageIndex{paths: map[string]string{}, volDomains: map[string][]string{},
		pathUsers: map[string][]string{}, backed: map[string][]string{}}
	if err := x.readDomains(l); err != nil {
		return nil, err
	}
	disks, err := liveDisks(l)
	if err != nil {
		return nil, err
	}
	for _, d := range disks {
		x.pathUsers[d.Path] = append(x.pathUsers[d.Path], d.Domain.Name)
	}
	return x, x.readVolumes(l)
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

// readDomains records the disks of every domain's persistent definition
// (the live one for a transient domain).
func (x *usageIndex) readDomains(l *libvirt.Libvirt) error {
	doms, _, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	return each(doms, func(d libvirt.Domain) error {
		doc, err := l.DomainGetXMLDesc(d, libvirt.DomainXMLInactive)
		if libvirtCode(err) == libvirt.ErrNoDomain {
			return nil // undefined since the listing
		}
		if err != nil {
			return fmt.Errorf("domain %q: %w", d.Name, err)
		}
		var ds diskSources
		if err := xml.Unmarshal([]byte(doc), &ds); err != nil {
			return fmt.Errorf("domain %q: parse xml: %w", d.Name, err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, disk := range ds.Disks {
			s := disk.Source
			if s.Pool != "" && s.Volume != "" {
				k := volKey(s.Pool, s.Volume)
				x.volDomains[k] = append(x.volDomains[k], d.Name)
			}
			for _, p := range []string{s.File, s.Dev} {
				if p != "" {
					x.pathUsers[p] = append(x.pathUsers[p], d.Name)
				}
			}
		}
		return nil
	})
}

// readVolumes records the path and backing store of every volume of the
// host's active pools. A relative backing path is relative to the
// overlay's directory, as qemu reads it.
func (x *usageIndex) readVolumes(l *libvirt.Libvirt) error {
	pools, _, err := l.ConnectListAllStoragePools(1, libvirt.ConnectListStoragePoolsActive)
	if err != nil {
		return err
	}
	var vols []libvirt.StorageVol
	for _, p := range pools {
		vs, _, err := l.StoragePoolListAllVolumes(p, 1, 0)
		if libvirtCode(err) == libvirt.ErrNoStoragePool || libvirtCode(err) == libvirt.ErrOperationInvalid {
			continue // undefined or stopped since the listing
		}
		if err != nil {
			return fmt.Errorf("pool %q: %w", p.Name, err)
		}
		vols = append(vols, vs...)
	}
	var mu sync.Mutex
	return each(vols, func(v libvirt.StorageVol) error {
		doc, err := l.StorageVolGetXMLDesc(v, 0)
		if libvirtCode(err) == libvirt.ErrNoStorageVol {
			return nil // deleted since the listing
		}
		if err != nil {
			return fmt.Errorf("volume %q of pool %q: %w", v.Name, v.Pool, err)
		}
		var vx libvirtxml.StorageVolume
		if err := vx.Unmarshal(doc); err != nil {
			return fmt.Errorf("volume %q of pool %q: parse xml: %w", v.Name, v.Pool, err)
		}
		if vx.Target == nil {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		x.paths[volKey(v.Pool, v.Name)] = vx.Target.Path
		if vx.BackingStore == nil || vx.BackingStore.Path == "" {
			return nil
		}
		backing := vx.BackingStore.Path
		if !filepath.IsAbs(backing) {
			backing = filepath.Join(filepath.Dir(vx.Target.Path), backing)
		}
		backing = filepath.Clean(backing)
		x.backed[backing] = append(x.backed[backing], v.Pool+"/"+v.Name)
		return nil
	})
}

// each runs fn on every item, at most usersWorkers at once on the one
// connection (go-libvirt matches replies to calls by serial). The first
// error wins.
func each[T any](items []T, fn func(T) error) error {
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	slots := make(chan struct{}, usersWorkers)
	for _, it := range items {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := fn(it); err != nil {
				mu.Lock()
				defer mu.Unlock()
				if firstErr == nil {
					firstErr = err
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
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
