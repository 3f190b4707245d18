package hypervisor

import (
	"context"
	"fmt"

	"github.com/digitalocean/go-libvirt"
)

// DeleteVolumeAt deletes the volume whose file is path, in whichever pool
// holds it; gone is true (and err nil) when no pool knows that path. It is
// for files the provider made as volumes and remembers by path (a VM's
// console log), so libvirt removes them on a remote host too.
func (c *Conn) DeleteVolumeAt(ctx context.Context, path string) (gone bool, err error) {
	err = c.call(ctx, fmt.Sprintf("delete the volume at %q", path), func(l *libvirt.Libvirt) error {
		vol, err := l.StorageVolLookupByPath(path)
		if err == nil {
			err = l.StorageVolDelete(vol, 0)
		}
		return err
	})
	if IsNotFound(err) {
		return true, nil
	}
	return false, err
}
