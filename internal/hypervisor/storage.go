package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// Volume is a storage volume as the pool reports it.
type Volume struct {
	Pool, Name      string
	Path            string
	Format          string // qcow2, raw... ("" when the pool does not say)
	CapacityBytes   uint64
	AllocationBytes uint64
	BackingPath     string // qcow2 backing file, "" when none
}

// VolumeSpec is a volume to create.
type VolumeSpec struct {
	Pool, Name    string
	Format        string // qcow2 (default) or raw
	CapacityBytes uint64 // 0 with a backing volume: the backing volume's capacity
	BackingVolume string // optional: name of a volume in the same pool to back a qcow2 overlay
	// Empty asks for a raw file of no bytes (a log something appends to);
	// CapacityBytes must then be 0.
	Empty bool
}

func (s VolumeSpec) check() error {
	switch {
	case s.Pool == "" || s.Name == "":
		return errors.New("pool and volume name are required")
	case strings.Contains(s.Name, "/"):
		return fmt.Errorf("volume name %q contains '/'; use a plain file name", s.Name)
	case s.Format != "" && s.Format != "qcow2" && s.Format != "raw":
		return fmt.Errorf("unsupported format %q: use qcow2 or raw", s.Format)
	case s.BackingVolume != "" && s.Format == "raw":
		return errors.New("a raw volume cannot have a backing volume: use format qcow2")
	case s.Empty && (s.Format != "raw" || s.CapacityBytes != 0 || s.BackingVolume != ""):
		return errors.New("an empty volume is a raw file of capacity 0 with no backing volume")
	case s.CapacityBytes == 0 && s.BackingVolume == "" && !s.Empty:
		return errors.New("capacity must be greater than 0")
	}
	return nil
}

func volOp(verb, pool, name string) string {
	return fmt.Sprintf("%s volume %q in pool %q", verb, name, pool)
}

// lookupVol resolves pool and volume, mapping each miss to its sentinel.
func lookupVol(l *libvirt.Libvirt, pool, name string) (libvirt.StorageVol, error) {
	p, err := l.StoragePoolLookupByName(pool)
	if err != nil {
		return libvirt.StorageVol{}, err
	}
	return l.StorageVolLookupByName(p, name)
}

// LookupVolume describes a volume: ErrPoolNotFound when the pool is
// missing, ErrVolumeNotFound when the volume is.
func (c *Conn) LookupVolume(ctx context.Context, pool, name string) (Volume, error) {
	var v Volume
	err := c.callRead(ctx, volOp("look up", pool, name), func(l *libvirt.Libvirt) error {
		vol, err := lookupVol(l, pool, name)
		if err == nil {
			v, err = describeVolume(l, vol)
		}
		return err
	})
	if err != nil {
		return Volume{}, err
	}
	return v, nil
}

func describeVolume(l *libvirt.Libvirt, vol libvirt.StorageVol) (Volume, error) {
	_, capacity, allocation, err := l.StorageVolGetInfo(vol)
	if err != nil {
		return Volume{}, err
	}
	doc, err := l.StorageVolGetXMLDesc(vol, 0)
	if err != nil {
		return Volume{}, err
	}
	var x libvirtxml.StorageVolume
	if err := x.Unmarshal(doc); err != nil {
		return Volume{}, fmt.Errorf("parse volume xml: %w", err)
	}
	v := Volume{Pool: vol.Pool, Name: vol.Name, CapacityBytes: capacity, AllocationBytes: allocation}
	if x.Target != nil {
		v.Path = x.Target.Path
		if x.Target.Format != nil {
			v.Format = x.Target.Format.Type
		}
	}
	if x.BackingStore != nil {
		v.BackingPath = x.BackingStore.Path
	}
	return v, nil
}

// CreateVolume creates an empty volume, or a qcow2 overlay on a backing
// volume of the same pool.
func (c *Conn) CreateVolume(ctx context.Context, spec VolumeSpec) (Volume, error) {
	op := volOp("create", spec.Pool, spec.Name)
	if err := spec.check(); err != nil {
		return Volume{}, c.wrap(op, err)
	}
	var v Volume
	err := c.call(ctx, op, func(l *libvirt.Libvirt) error {
		pool, err := l.StoragePoolLookupByName(spec.Pool)
		if err != nil {
			return err
		}
		doc, err := volumeXML(l, pool, spec)
		if err != nil {
			return err
		}
		vol, err := l.StorageVolCreateXML(pool, doc, 0)
		if err != nil {
			return existsErr(l, pool, spec.Name, err)
		}
		v, err = describeVolume(l, vol)
		return err
	})
	if err != nil {
		return Volume{}, err
	}
	return v, nil
}

// existsErr marks a failed create as ErrVolumeExists when the name is
// taken: qemu says VIR_ERR_STORAGE_VOL_EXIST, the test driver only
// VIR_ERR_OPERATION_FAILED "storage vol already exists".
func existsErr(l *libvirt.Libvirt, pool libvirt.StoragePool, name string, err error) error {
	var le libvirt.Error
	if !errors.As(err, &le) || libvirt.ErrorNumber(le.Code) == libvirt.ErrStorageVolExist {
		return err
	}
	if _, lerr := l.StorageVolLookupByName(pool, name); lerr != nil {
		return err
	}
	return &codedError{kind: ErrVolumeExists, err: err}
}

func volumeXML(l *libvirt.Libvirt, pool libvirt.StoragePool, spec VolumeSpec) (string, error) {
	format := spec.Format
	if format == "" {
		format = "qcow2"
	}
	x := libvirtxml.StorageVolume{
		Name:     spec.Name,
		Capacity: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: spec.CapacityBytes},
		Target:   &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: format}},
	}
	if format == "qcow2" {
		// libvirt creates qcow2 at compat 0.10 unless told otherwise, and
		// qemu-img cannot grow such an overlay while its base is larger
		// ("Failed to zero out new clusters": 0.10 has no zero clusters).
		x.Target.Compat = "1.1"
	}
	if spec.BackingVolume != "" {
		bvol, err := l.StorageVolLookupByName(pool, spec.BackingVolume)
		if err != nil {
			return "", fmt.Errorf("backing volume %q: %w", spec.BackingVolume, err)
		}
		base, err := describeVolume(l, bvol)
		if err != nil {
			return "", err
		}
		if x.Capacity.Value == 0 {
			x.Capacity.Value = base.CapacityBytes
		}
		x.BackingStore = &libvirtxml.StorageVolumeBackingStore{
			Path:   base.Path,
			Format: &libvirtxml.StorageVolumeTargetFormat{Type: firstNonEmpty(base.Format, "raw")},
		}
	}
	return x.Marshal()
}

// Resized says how ResizeVolume grew a volume: through the running domain
// that has it open (Domain and its disk Target), or offline (both "").
type Resized struct {
	Domain, Target string
}

// ErrShrink: a resize asked for less than the volume holds.
var ErrShrink = errors.New("a volume is never shrunk")

// ResizeVolume grows the volume to capacityBytes, keeping its data. A
// volume that a running domain has open is grown through that domain
// (virDomainBlockResize), so qemu, which holds the file's write lock,
// resizes it and the guest sees the new size at once; any other volume
// with virStorageVolResize. A smaller capacity is ErrShrink (qemu would
// cut the disk without asking); the same one changes nothing.
func (c *Conn) ResizeVolume(ctx context.Context, pool, name string, capacityBytes uint64) (Resized, error) {
	var r Resized
	op := volOp("resize", pool, name) + fmt.Sprintf(" to %d bytes", capacityBytes)
	err := c.call(ctx, op, func(l *libvirt.Libvirt) error {
		vol, err := lookupVol(l, pool, name)
		if err != nil {
			return err
		}
		v, err := describeVolume(l, vol)
		switch {
		case err != nil:
			return err
		case capacityBytes < v.CapacityBytes:
			return fmt.Errorf("%w: it holds %d bytes, more than the %d asked; data past the new end would be lost", ErrShrink, v.CapacityBytes, capacityBytes)
		case capacityBytes == v.CapacityBytes:
			return nil
		}
		r, err = resize(l, vol, v.Path, capacityBytes)
		return err
	})
	if err != nil {
		return Resized{}, err
	}
	return r, nil
}

func resize(l *libvirt.Libvirt, vol libvirt.StorageVol, path string, capacityBytes uint64) (Resized, error) {
	disks, err := liveDisks(l)
	if err != nil {
		return Resized{}, err
	}
	for _, d := range disks {
		if d.Path != path {
			continue
		}
		if err := l.DomainBlockResize(d.Domain, d.Target, capacityBytes, libvirt.DomainBlockResizeBytes); err != nil {
			return Resized{}, fmt.Errorf("through disk %s of running domain %q: %w", d.Target, d.Domain.Name, err)
		}
		return Resized{Domain: d.Domain.Name, Target: d.Target}, nil
	}
	err = l.StorageVolResize(vol, capacityBytes, 0)
	if err != nil && strings.Contains(err.Error(), "zero out new clusters") {
		return Resized{}, fmt.Errorf("%w (a qcow2 file of compat 0.10 cannot grow past its size while its base is larger; "+
			"upgrade it with `qemu-img amend -f qcow2 -o compat=1.1 %s` while no VM runs on it, then run again)", err, path)
	}
	return Resized{}, err
}

// DeleteVolume deletes the volume and its data.
func (c *Conn) DeleteVolume(ctx context.Context, v Volume) error {
	return c.call(ctx, volOp("delete", v.Pool, v.Name), func(l *libvirt.Libvirt) error {
		vol, err := lookupVol(l, v.Pool, v.Name)
		if err == nil {
			err = l.StorageVolDelete(vol, 0)
		}
		return err
	})
}

// UploadVolume writes size bytes read from r to the start of the volume.
// CallTimeout applies to stalls, not to the whole transfer: the timer
// restarts while data flows. After UploadVolume returns, no new Read of r
// starts, but after a timeout or cancellation one already blocked in r may
// still complete.
func (c *Conn) UploadVolume(ctx context.Context, v Volume, r io.Reader, size uint64) error {
	op := fmt.Sprintf("upload %d bytes to volume %q in pool %q", size, v.Name, v.Pool)
	src := &uploadReader{ctx: ctx, r: io.LimitReader(r, int64(size))}
	defer src.stopped.Store(true)
	err := c.callWatched(ctx, op, &src.n, func(l *libvirt.Libvirt) error {
		vol, err := lookupVol(l, v.Pool, v.Name)
		if err == nil {
			err = l.StorageVolUpload(vol, src, 0, size, 0)
		}
		return err
	})
	if err != nil {
		return err
	}
	if got := uint64(src.n.Load()); got != size {
		return c.wrap(op, fmt.Errorf("the source ended after %d of %d bytes; the volume holds a partial copy", got, size))
	}
	return nil
}

// uploadReader counts bytes for the stall timer and makes go-libvirt
// abort the stream (it sends libvirt a stream error when a read fails)
// once ctx ends or the upload was given up, since go-libvirt's sender
// goroutine may outlive the call.
type uploadReader struct {
	ctx     context.Context
	r       io.Reader
	n       atomic.Int64
	stopped atomic.Bool
}

func (u *uploadReader) Read(p []byte) (int, error) {
	if u.stopped.Load() {
		return 0, errors.New("upload abandoned")
	}
	if err := u.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := u.r.Read(p)
	u.n.Add(int64(n))
	return n, err
}
