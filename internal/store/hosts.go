package store

import (
	"context"
	"fmt"
)

// Host is a row of Virtumancer's hosts table.
type Host struct {
	ID  string
	URI string
}

// GetHost returns the host with this id, or an error wrapping ErrNotFound.
func (tx *Tx) GetHost(id string) (Host, error) {
	var h Host
	found := false
	err := tx.query(fmt.Sprintf("get host %q", id), "SELECT id, uri FROM hosts WHERE id = ?",
		func(r row) error { h, found = scanHost(r), true; return nil }, id)
	if err == nil && !found {
		err = tx.s.errf("host %q: %w", id, ErrNotFound)
	}
	return h, err
}

// ListHosts returns every host, ordered by id.
func (tx *Tx) ListHosts() ([]Host, error) {
	var hosts []Host
	err := tx.query("list hosts", "SELECT id, uri FROM hosts ORDER BY id",
		func(r row) error { hosts = append(hosts, scanHost(r)); return nil })
	return hosts, err
}

// CreateHost inserts h, or fails with ErrExists when its id is taken.
func (tx *Tx) CreateHost(h Host) error {
	op := fmt.Sprintf("create host %q", h.ID)
	if err := tx.validHost(op, h); err != nil {
		return err
	}
	if _, err := tx.GetHost(h.ID); err == nil {
		return tx.s.errf("host %q: %w; import it or choose another id", h.ID, ErrExists)
	} else if !isNotFound(err) {
		return err
	}
	return tx.exec(op, "INSERT INTO hosts (id, uri) VALUES (?, ?)", h.ID, h.URI)
}

// PutHost inserts h or replaces the URI of the host with its id.
func (tx *Tx) PutHost(h Host) error {
	op := fmt.Sprintf("put host %q", h.ID)
	if err := tx.validHost(op, h); err != nil {
		return err
	}
	return tx.exec(op, "INSERT INTO hosts (id, uri) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET uri = excluded.uri",
		h.ID, h.URI)
}

// DeleteHost hard-deletes the host row (Virtumancer's hosts have no
// deleted_at), soft-deletes its live VM rows and drops its sync status, in
// one transaction. It returns how many VM rows it soft-deleted. Libvirt is
// never touched.
func (tx *Tx) DeleteHost(id string) (softDeletedVMs int, err error) {
	op := fmt.Sprintf("delete host %q", id)
	if _, err := tx.GetHost(id); err != nil {
		return 0, err
	}
	softDeletedVMs, err = tx.execCount(op, "UPDATE virtual_machines SET deleted_at = ? WHERE host_id = ? AND deleted_at IS NULL",
		tx.now(), id)
	if err != nil {
		return 0, err
	}
	for _, q := range []string{
		"DELETE FROM hosts WHERE id = ?",
		"DELETE FROM vmsync_vm_status WHERE host_id = ?",
		"DELETE FROM vmsync_host_status WHERE host_id = ?",
	} {
		if err := tx.exec(op, q, id); err != nil {
			return 0, err
		}
	}
	return softDeletedVMs, nil
}

func (tx *Tx) validHost(op string, h Host) error {
	if h.ID == "" {
		return tx.s.errf("%s: host id is empty", op)
	}
	return nil
}

func scanHost(r row) Host {
	return Host{ID: r.Text(0), URI: r.Text(1)}
}

// GetHost returns the host with this id, or an error wrapping ErrNotFound.
func (s *Store) GetHost(ctx context.Context, id string) (Host, error) {
	return readVal(s, ctx, func(tx *Tx) (Host, error) { return tx.GetHost(id) })
}

// ListHosts returns every host, ordered by id.
func (s *Store) ListHosts(ctx context.Context) ([]Host, error) {
	return readVal(s, ctx, (*Tx).ListHosts)
}

// CreateHost inserts h, or fails with ErrExists when its id is taken.
func (s *Store) CreateHost(ctx context.Context, h Host) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.CreateHost(h) })
}

// PutHost inserts h or replaces the URI of the host with its id.
func (s *Store) PutHost(ctx context.Context, h Host) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.PutHost(h) })
}

// DeleteHost: see Tx.DeleteHost.
func (s *Store) DeleteHost(ctx context.Context, id string) (softDeletedVMs int, err error) {
	return writeVal(s, ctx, func(tx *Tx) (int, error) { return tx.DeleteHost(id) })
}
