package store

import (
	"context"
	"fmt"
)

// HostRows is a host's rows, live and soft-deleted (as ListVMsWithDeleted
// gives them), and its VM statuses (as ListVMStatus gives them), read in
// one snapshot, with what a later write needs to tell whether they are
// still what the file holds. A full sync reads them while it reads
// libvirt, so that its write transaction need not list the host again:
// that listing, JSON decoding included, was most of a resync's write.
type HostRows struct {
	HostID   string
	VMs      []VM
	Statuses []VMStatus

	h *handle
	// version: SQLite, the file's data version before the snapshot began;
	// PostgreSQL, vmsync_changes' count inside the snapshot.
	version int64
}

// ReadHostRows reads a host's rows and statuses in one read transaction.
func (s *Store) ReadHostRows(ctx context.Context, hostID string) (HostRows, error) {
	h, err := s.acquire(ctx, false)
	if err != nil {
		return HostRows{}, err
	}
	defer s.mu.RUnlock()
	// Read before the snapshot begins: a commit between the two moves it,
	// so Current can only err on the side of "changed".
	v, err := h.dataVersion(s)
	if err != nil {
		return HostRows{}, err
	}
	hr := HostRows{HostID: hostID, h: h, version: v}
	err = s.readOn(ctx, h, func(tx *Tx) error {
		var err error
		if h.pg != nil { // the count of changes in this very snapshot
			if hr.version, err = tx.pgChanges(); err != nil {
				return err
			}
		}
		if hr.VMs, err = tx.ListVMsWithDeleted(hostID); err != nil {
			return err
		}
		hr.Statuses, err = tx.ListVMStatus(hostID)
		return err
	})
	if err != nil {
		return HostRows{}, err
	}
	return hr, nil
}

// Current reports whether nothing has been committed to the file, by any
// connection of any process, since rows were read: they are then exactly
// what this transaction would list. Only a write transaction can tell,
// since its lock keeps every other writer out until it ends.
func (tx *Tx) Current(rows HostRows) (bool, error) {
	if err := tx.usable(fmt.Sprintf("check the rows of host %q are current", rows.HostID), true); err != nil {
		return false, err
	}
	if rows.h == nil || rows.h != tx.h {
		return false, nil // never read, or read from the file before a Reopen
	}
	if tx.h.pg != nil {
		// The write lock is held, so this count is every commit so far.
		n, err := tx.pgChanges()
		return err == nil && n == rows.version, err
	}
	v, err := tx.h.dv.read(tx.s)
	if err != nil {
		return false, err
	}
	return v == rows.version, nil
}

// pgChanges is PostgreSQL's count of statements that changed the store, as
// this transaction sees it (vmsync_changes, kept by the change feed's
// trigger in the changing transaction).
func (tx *Tx) pgChanges() (int64, error) {
	var n int64
	err := tx.query("read the store's change count", "SELECT n FROM vmsync_changes", func(r row) error { n = r.Int64(0); return nil })
	return n, err
}
