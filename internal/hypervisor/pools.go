package hypervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/digitalocean/go-libvirt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/dirpool"
)

// Storage pools (pool.go is the connection pool). Directory pools only:
// what to define comes from internal/dirpool; this file sends it.

// Errors of the storage pool calls; test with errors.Is.
var (
	ErrPoolExists = errors.New("storage pool already exists")
	// ErrNotDirectory: the pool path exists on the host and is not a directory.
	ErrNotDirectory = errors.New("the pool path is not a directory")
	// ErrPoolNotEmpty: the pool still holds volumes; the error is a *PoolNotEmptyError.
	ErrPoolNotEmpty = errors.New("storage pool still holds volumes")
)

// StoragePool is a storage pool as its host reports it.
type StoragePool struct {
	dirpool.Definition
	Active, Autostart bool
	CapacityBytes     uint64
	AllocationBytes   uint64
	AvailableBytes    uint64
}

// PoolNotEmptyError names the volumes that keep a pool from being deleted.
type PoolNotEmptyError struct {
	Pool    string
	Volumes []string // sorted
}

func (e *PoolNotEmptyError) Error() string {
	return fmt.Sprintf("pool %q still holds %d volume(s): %s; delete them first (or remove their virtumancer_volume resources), then run again",
		e.Pool, len(e.Volumes), strings.Join(e.Volumes, ", "))
}

// Is makes errors.Is(err, ErrPoolNotEmpty) hold.
func (e *PoolNotEmptyError) Is(target error) bool { return target == ErrPoolNotEmpty }

func poolOp(verb, name string) string { return fmt.Sprintf("%s storage pool %q", verb, name) }

// LookupPool describes a pool, refreshed first so the sizes are current.
// ErrPoolNotFound when there is none by that name.
func (c *Conn) LookupPool(ctx context.Context, name string) (StoragePool, error) {
	var sp StoragePool
	err := c.callRead(ctx, poolOp("look up", name), func(l *libvirt.Libvirt) error {
		p, err := l.StoragePoolLookupByName(name)
		if err == nil {
			sp, err = describePool(l, p)
		}
		return err
	})
	if err != nil {
		return StoragePool{}, err
	}
	return sp, nil
}

func describePool(l *libvirt.Libvirt, p libvirt.StoragePool) (StoragePool, error) {
	// A refresh fails on an inactive pool and while a volume upload runs
	// ("asynchronous jobs running"); the last known sizes do then. A pool
	// whose directory vanished is stopped by the failed refresh, which
	// GetInfo below reports.
	_ = l.StoragePoolRefresh(p, 0)
	state, capacity, allocation, available, err := l.StoragePoolGetInfo(p)
	if err != nil {
		return StoragePool{}, err
	}
	doc, err := l.StoragePoolGetXMLDesc(p, 0)
	if err != nil {
		return StoragePool{}, err
	}
	def, err := dirpool.Parse(doc)
	if err != nil {
		return StoragePool{}, err
	}
	auto, err := l.StoragePoolGetAutostart(p)
	if err != nil {
		return StoragePool{}, err
	}
	st := libvirt.StoragePoolState(state)
	return StoragePool{
		Definition: def, Autostart: auto != 0,
		Active:        st == libvirt.StoragePoolRunning || st == libvirt.StoragePoolDegraded,
		CapacityBytes: capacity, AllocationBytes: allocation, AvailableBytes: available,
	}, nil
}

// CreateDirPool defines, builds (creating the directory when it is
// missing), starts and optionally autostarts a directory pool. madeDir
// says whether the directory was created, so that Delete removes only
// what it made. The path is checked first, before anything is defined:
// ErrPoolExists when the name is taken, ErrNotDirectory when the path is a
// file. A failure after the define removes the pool (and the directory it
// made) again.
func (c *Conn) CreateDirPool(ctx context.Context, spec dirpool.Spec, autostart bool) (sp StoragePool, madeDir bool, err error) {
	op := poolOp("create", spec.Name)
	doc, err := spec.XML()
	if err != nil {
		return StoragePool{}, false, c.wrap(op, err)
	}
	err = c.call(ctx, op, func(l *libvirt.Libvirt) error {
		exists, err := checkNewPool(l, spec)
		if err != nil {
			return err
		}
		p, err := l.StoragePoolDefineXML(doc, 0)
		if err != nil {
			return err
		}
		if err := setUpPool(l, p, !exists, autostart); err != nil {
			return rollBackPool(l, p, !exists, err)
		}
		madeDir = !exists
		sp, err = describePool(l, p)
		return err
	})
	if err != nil {
		return StoragePool{}, false, err
	}
	return sp, madeDir, nil
}

// checkNewPool refuses a taken name and reports whether the directory
// exists, as the daemon sees it (which works for remote hosts too).
func checkNewPool(l *libvirt.Libvirt, spec dirpool.Spec) (dirExists bool, err error) {
	_, err = l.StoragePoolLookupByName(spec.Name)
	switch {
	case err == nil:
		return false, fmt.Errorf("%w: the host already has a pool named %q", ErrPoolExists, spec.Name)
	case libvirtCode(err) != libvirt.ErrNoStoragePool:
		return false, err
	}
	return probeDir(l, spec.Path)
}

// probeDir starts a transient pool on path under a throw-away name:
// libvirt opens the directory to start it, which tells a directory from a
// missing path or a file, and a transient pool leaves no definition
// behind. The test driver touches no file system, so to it every path is
// an existing directory. A path that another pool uses already fails here
// with libvirt's "Storage source conflict with pool".
func probeDir(l *libvirt.Libvirt, path string) (bool, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	doc, err := dirpool.Spec{Name: "virtumancer-probe-" + hex.EncodeToString(b), Path: path}.XML()
	if err != nil {
		return false, err
	}
	p, err := l.StoragePoolCreateXML(doc, 0)
	if err == nil {
		return true, l.StoragePoolDestroy(p)
	}
	switch {
	case systemError(err, "No such file or directory"):
		return false, nil
	case systemError(err, "Not a directory"):
		return false, &codedError{kind: ErrNotDirectory, err: fmt.Errorf("%q exists on the host and is not a directory; choose another path or remove the file: %w", path, err)}
	}
	return false, fmt.Errorf("check path %q: %w", path, err)
}

// systemError: libvirt reports errno failures as VIR_ERR_SYSTEM_ERROR
// with strerror's text in the message.
func systemError(err error, text string) bool {
	var le libvirt.Error
	return errors.As(err, &le) && libvirt.ErrorNumber(le.Code) == libvirt.ErrSystemError && strings.Contains(le.Message, text)
}

func setUpPool(l *libvirt.Libvirt, p libvirt.StoragePool, build, autostart bool) error {
	if build {
		if err := l.StoragePoolBuild(p, 0); err != nil {
			return fmt.Errorf("build (create the directory): %w", err)
		}
	}
	if err := l.StoragePoolCreate(p, 0); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if autostart {
		if err := l.StoragePoolSetAutostart(p, 1); err != nil {
			return fmt.Errorf("set autostart: %w", err)
		}
	}
	return nil
}

// rollBackPool undoes a half-made pool so a failed create leaves nothing.
func rollBackPool(l *libvirt.Libvirt, p libvirt.StoragePool, madeDir bool, cause error) error {
	_ = l.StoragePoolDestroy(p) // fails when it never started
	var errs []error
	if madeDir {
		if err := l.StoragePoolDelete(p, 0); err != nil && !systemError(err, "No such file or directory") {
			errs = append(errs, fmt.Errorf("remove the directory: %w", err))
		}
	}
	if err := l.StoragePoolUndefine(p); err != nil {
		errs = append(errs, fmt.Errorf("undefine: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w; removing the half-made pool failed too (%w): remove it with `virsh pool-undefine %s`", cause, errors.Join(errs...), p.Name)
	}
	return fmt.Errorf("%w; the pool was removed again", cause)
}

// SetPoolAutostart turns the pool's autostart on or off.
func (c *Conn) SetPoolAutostart(ctx context.Context, name string, on bool) error {
	return c.call(ctx, poolOp("set autostart of", name), func(l *libvirt.Libvirt) error {
		p, err := l.StoragePoolLookupByName(name)
		if err != nil {
			return err
		}
		var v int32
		if on {
			v = 1
		}
		return l.StoragePoolSetAutostart(p, v)
	})
}

// StartPool starts an inactive pool.
func (c *Conn) StartPool(ctx context.Context, name string) error {
	return c.call(ctx, poolOp("start", name), func(l *libvirt.Libvirt) error {
		p, err := l.StoragePoolLookupByName(name)
		if err == nil {
			err = l.StoragePoolCreate(p, 0)
		}
		return err
	})
}

// DeletePool removes a pool that holds no volumes: it refuses with a
// *PoolNotEmptyError naming them before anything is removed. Otherwise it
// stops the pool, removes its directory when removeDir is set (libvirt
// removes the empty leaf directory only, never its parents) and undefines
// it. An inactive pool is started first so that its volumes can be listed;
// one that cannot start (its directory is gone) holds none.
func (c *Conn) DeletePool(ctx context.Context, name string, removeDir bool) error {
	return c.call(ctx, poolOp("delete", name), func(l *libvirt.Libvirt) error {
		p, err := l.StoragePoolLookupByName(name)
		if err != nil {
			return err
		}
		active, err := l.StoragePoolIsActive(p)
		if err != nil {
			return err
		}
		if active == 0 && l.StoragePoolCreate(p, 0) != nil {
			return l.StoragePoolUndefine(p)
		}
		if err := refuseNonEmpty(l, p); err != nil {
			if active == 0 {
				_ = l.StoragePoolDestroy(p) // leave it as it was found
			}
			return err
		}
		if err := l.StoragePoolDestroy(p); err != nil {
			return fmt.Errorf("stop: %w", err)
		}
		if removeDir {
			if err := l.StoragePoolDelete(p, 0); err != nil {
				return fmt.Errorf("remove the directory (the pool is stopped, still defined): %w", err)
			}
		}
		return l.StoragePoolUndefine(p)
	})
}

func refuseNonEmpty(l *libvirt.Libvirt, p libvirt.StoragePool) error {
	_ = l.StoragePoolRefresh(p, 0) // see the files created behind libvirt's back
	vols, _, err := l.StoragePoolListAllVolumes(p, 1, 0)
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	if len(vols) == 0 {
		return nil
	}
	names := make([]string, len(vols))
	for i, v := range vols {
		names[i] = v.Name
	}
	sort.Strings(names)
	return &PoolNotEmptyError{Pool: p.Name, Volumes: names}
}
