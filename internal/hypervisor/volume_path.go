package hypervisor

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/digitalocean/go-libvirt"
)

// DeleteVolumeAt deletes the volume whose file is path, in whichever pool
// holds it, and the rotated copies path.0 … path.(rotated-1) beside it (a
// console log: virtlogd, which writes it for QEMU, renames a full log to
// path.0 and keeps max_backups of them, 3 by default). gone is true (and
// err nil) when no pool knows path. It is for files the provider made as
// volumes and remembers by path, so libvirt removes them on a remote host
// too.
func (c *Conn) DeleteVolumeAt(ctx context.Context, path string, rotated int) (gone bool, err error) {
	err = c.call(ctx, fmt.Sprintf("delete the volume at %q", path), func(l *libvirt.Libvirt) error {
		vol, err := l.StorageVolLookupByPath(path)
		if err != nil {
			return err
		}
		if err := l.StorageVolDelete(vol, 0); err != nil {
			return err
		}
		return deleteRotated(l, vol, rotated)
	})
	if IsNotFound(err) {
		return true, nil
	}
	return false, err
}

// deleteRotated deletes vol's rotated copies that its pool holds. The pool
// is refreshed first: libvirt lists a file virtlogd made only after that.
func deleteRotated(l *libvirt.Libvirt, vol libvirt.StorageVol, rotated int) error {
	if rotated <= 0 {
		return nil
	}
	pool, err := l.StoragePoolLookupByName(vol.Pool)
	if err != nil {
		return err
	}
	_ = l.StoragePoolRefresh(pool, 0) // fails only while an upload runs; the lookups then miss
	base := filepath.Base(vol.Name)
	for i := range rotated {
		v, err := l.StorageVolLookupByName(pool, base+"."+strconv.Itoa(i))
		if err != nil {
			continue // not there
		}
		if err := l.StorageVolDelete(v, 0); err != nil {
			return fmt.Errorf("rotated copy %s: %w", v.Name, err)
		}
	}
	return nil
}
