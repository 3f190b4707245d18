package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// vmWrite is one prepared write of a recorded configuration.
type vmWrite struct {
	op, hostID, name string
	cfg              vminfo.VMInfo
	js               string // cfg through vminfo's codec
	cur              VM     // the current row, soft-deleted or not
	found            bool
}

// UpsertVM records cfg as the VM's configuration (provider create, update
// and import): it inserts a new row, updates config_json and updated_at of
// the live row, or revives a soft-deleted row (the unique index covers
// those too), keeping its id and created_at. Our vmsync_recorded row gets
// the same configuration in the same transaction.
func (tx *Tx) UpsertVM(hostID, name string, cfg vminfo.VMInfo) (VM, error) {
	w, err := tx.prepareVMWrite(fmt.Sprintf("upsert vm %q on host %q", name, hostID), hostID, name, cfg)
	if err != nil {
		return VM{}, err
	}
	if !w.found {
		return tx.insertVM(w)
	}
	return tx.recordVM(w)
}

// InsertVMIfAbsent is the sync service's write on discovery: it never
// overwrites the recorded configuration of a live row (that row is returned
// unchanged), but inserts a new row or revives a soft-deleted one with cfg,
// writing config_json and our vmsync_recorded row together. A sync acting
// on a listing older than the row checks VM.ChangedSince first.
func (tx *Tx) InsertVMIfAbsent(hostID, name string, cfg vminfo.VMInfo) (inserted, revived bool, vm VM, err error) {
	w, err := tx.prepareVMWrite(fmt.Sprintf("insert vm %q on host %q", name, hostID), hostID, name, cfg)
	if err != nil {
		return false, false, VM{}, err
	}
	return tx.insertIfAbsent(w)
}

// InsertListedVMIfAbsent is InsertVMIfAbsent for a caller that listed the
// host's rows (ListVMsWithDeleted) earlier in this same write transaction:
// listed is the row that listing had for name, nil when it had none. The
// write lock held since then means nobody else changed it, so the lookup
// of the row is skipped (a first sync inserts thousands).
func (tx *Tx) InsertListedVMIfAbsent(hostID, name string, cfg vminfo.VMInfo, listed *VM) (inserted, revived bool, vm VM, err error) {
	w, err := tx.encodeVMWrite(fmt.Sprintf("insert vm %q on host %q", name, hostID), hostID, name, cfg)
	if err != nil {
		return false, false, VM{}, err
	}
	if listed != nil {
		w.cur, w.found = *listed, true
	}
	return tx.insertIfAbsent(w)
}

func (tx *Tx) insertIfAbsent(w vmWrite) (inserted, revived bool, vm VM, err error) {
	switch {
	case !w.found:
		vm, err = tx.insertVM(w)
		return err == nil, false, vm, err
	case w.cur.DeletedAt == nil:
		return false, false, w.cur, nil
	}
	vm, err = tx.recordVM(w)
	return false, err == nil, vm, err
}

// SoftDeleteVM sets deleted_at on the live row, as GORM's Delete does, and
// drops its sync status (a deleted VM has no status to report). Our
// vmsync_recorded row stays: a revive overwrites it. No live row gives an
// error wrapping ErrNotFound.
func (tx *Tx) SoftDeleteVM(hostID, name string) error {
	op := fmt.Sprintf("delete vm %q on host %q", name, hostID)
	n, err := tx.execCount(op, "UPDATE virtual_machines SET deleted_at = ? WHERE name = ? AND host_id = ? AND deleted_at IS NULL",
		tx.now(), name, hostID)
	if err != nil {
		return err
	}
	if n == 0 {
		return tx.s.errf("vm %q on host %q: %w", name, hostID, ErrNotFound)
	}
	return tx.DeleteVMStatus(hostID, name)
}

// UndeleteVM undoes SoftDeleteVM of row id exactly: it clears deleted_at
// and nothing else (config_json, updated_at and our recorded copy stay as
// they were; the sync status is the sync service's to write again). A row
// that is live again already, or whose name or host changed, is left alone.
func (tx *Tx) UndeleteVM(prev VM) (bool, error) {
	op := fmt.Sprintf("undelete vm %q on host %q (row %d)", prev.Name, prev.HostID, prev.ID)
	n, err := tx.execCount(op, "UPDATE virtual_machines SET deleted_at = NULL WHERE id = ? AND name = ? AND host_id = ? AND deleted_at IS NOT NULL",
		prev.ID, prev.Name, prev.HostID)
	return n > 0, err
}

// ChangedSince reports whether the row was written at or after t: any of
// created_at, updated_at, deleted_at or our recorded_at is not before t.
// The same instant counts as changed, since a listing taken then may or may
// not include that write. A timestamp that could not be parsed (TimeErr,
// zero time) counts as old: no writer we know leaves such text, and a sync
// must still be able to retire the row.
func (vm VM) ChangedSince(t time.Time) bool {
	after := func(at time.Time) bool { return !at.IsZero() && !at.Before(t) }
	return after(vm.CreatedAt) || after(vm.UpdatedAt) || after(vm.RecordedAt) ||
		(vm.DeletedAt != nil && after(*vm.DeletedAt))
}

// prepareVMWrite validates and encodes cfg and finds the current row for
// (hostID, name), soft-deleted or not.
func (tx *Tx) prepareVMWrite(op, hostID, name string, cfg vminfo.VMInfo) (vmWrite, error) {
	w, err := tx.encodeVMWrite(op, hostID, name, cfg)
	if err != nil {
		return w, err
	}
	vms, err := tx.listVMs(op, "WHERE v.name = ? AND v.host_id = ?", name, hostID)
	if err != nil || len(vms) == 0 {
		return w, err
	}
	w.cur, w.found = vms[0], true
	return w, nil
}

// encodeVMWrite validates and encodes cfg.
func (tx *Tx) encodeVMWrite(op, hostID, name string, cfg vminfo.VMInfo) (vmWrite, error) {
	w := vmWrite{op: op, hostID: hostID, name: name, cfg: cfg}
	if hostID == "" || name == "" {
		return w, tx.s.errf("%s: host id and vm name must not be empty", op)
	}
	if err := tx.usable(op, true); err != nil {
		return w, err
	}
	b, err := cfg.Marshal()
	if err != nil {
		return w, tx.s.errf("%s: %w", op, err)
	}
	w.js = string(b)
	return w, nil
}

func (tx *Tx) insertVM(w vmWrite) (VM, error) {
	now, at := tx.stamp(time.Now())
	id, err := tx.insertID(w.op, "virtual_machines", []string{"created_at", "updated_at", "deleted_at", "name", "host_id", "config_json"},
		now, now, nil, w.name, w.hostID, w.js)
	if err != nil {
		return VM{}, err
	}
	if err := tx.writeRecorded(w, id, now); err != nil {
		return VM{}, err
	}
	return tx.insertedVM(w, id, at)
}

// insertedVM is the row insertVM just wrote, built from what it wrote
// instead of read back (a first sync inserts thousands); it equals what
// vmByID would return, which it still asks in the unlikely cases.
func (tx *Tx) insertedVM(w vmWrite, id int64, at time.Time) (VM, error) {
	if strings.Contains(w.js, `\ufffd`) {
		// json.Marshal replaced invalid UTF-8: the text no longer
		// parses back to w.cfg.
		return tx.vmByID(w.op, id)
	}
	// Otherwise Parse(Marshal(cfg)) is cfg, lists nil or empty alike
	// (omitzero), so the row's values need no parse.
	cfg, rec := cloneInfo(w.cfg), cloneInfo(w.cfg) // as from two parses: nothing shared
	return VM{
		ID: id, CreatedAt: at, UpdatedAt: at, Name: w.name, HostID: w.hostID,
		ConfigJSON: w.js, Config: cfg,
		Recorded: rec, RecordedFrom: RecordedFromTable, RecordedJSON: w.js, RecordedAt: at,
	}, nil
}

// recordVM writes a new recorded config into the current row and makes it
// live.
func (tx *Tx) recordVM(w vmWrite) (VM, error) {
	now := tx.now()
	err := tx.exec(w.op, "UPDATE virtual_machines SET config_json = ?, updated_at = ?, deleted_at = NULL WHERE id = ?",
		w.js, now, w.cur.ID)
	if err != nil {
		return VM{}, err
	}
	if err := tx.writeRecorded(w, w.cur.ID, now); err != nil {
		return VM{}, err
	}
	return tx.vmByID(w.op, w.cur.ID)
}

// writeRecorded puts our copy of the record for row id. It also drops our
// rows left for the same VM under another id (its old row was hard-deleted
// by someone else), which the join would never match anyway.
func (tx *Tx) writeRecorded(w vmWrite, id int64, now any) error {
	err := tx.exec(w.op, `INSERT INTO vmsync_recorded (vm_id, host_id, name, config_json, recorded_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (vm_id) DO UPDATE SET host_id = excluded.host_id, name = excluded.name,
	config_json = excluded.config_json, recorded_at = excluded.recorded_at`,
		id, w.hostID, w.name, w.js, now)
	if err != nil {
		return err
	}
	return tx.exec(w.op, "DELETE FROM vmsync_recorded WHERE host_id = ? AND name = ? AND vm_id <> ?", w.hostID, w.name, id)
}

// vmByID re-reads a row we just wrote so callers get exactly what is stored.
func (tx *Tx) vmByID(op string, id int64) (VM, error) {
	vms, err := tx.listVMs(op, "WHERE v.id = ?", id)
	if err == nil && len(vms) == 0 {
		err = tx.s.errf("%s: virtual_machines row %d vanished inside its own transaction", op, id)
	}
	if err != nil {
		return VM{}, err
	}
	return vms[0], nil
}

// UpsertVM: see Tx.UpsertVM.
func (s *Store) UpsertVM(ctx context.Context, hostID, name string, cfg vminfo.VMInfo) (VM, error) {
	return writeVal(s, ctx, func(tx *Tx) (VM, error) { return tx.UpsertVM(hostID, name, cfg) })
}

// SoftDeleteVM: see Tx.SoftDeleteVM.
func (s *Store) SoftDeleteVM(ctx context.Context, hostID, name string) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.SoftDeleteVM(hostID, name) })
}

// UndeleteVM: see Tx.UndeleteVM.
func (s *Store) UndeleteVM(ctx context.Context, prev VM) (undeleted bool, err error) {
	err = s.Write(ctx, func(tx *Tx) error {
		undeleted, err = tx.UndeleteVM(prev)
		return err
	})
	return undeleted, err
}
