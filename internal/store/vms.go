package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
	"zombiezen.com/go/sqlite"
)

// VM is a row of Virtumancer's virtual_machines table.
type VM struct {
	ID        int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// DeletedAt is non-nil for a soft-deleted row (only ListVMsWithDeleted
	// and InsertVMIfAbsent ever return one).
	DeletedAt *time.Time
	Name      string
	HostID    string
	// ConfigJSON is the column exactly as stored.
	ConfigJSON string
	// Config is ConfigJSON parsed; zero when ConfigErr is set.
	Config vminfo.VMInfo
	// ConfigErr is set when config_json is not valid VMInfo JSON. It names
	// the file, row, host and VM; the row is still returned so one corrupt
	// row never hides the others.
	ConfigErr error
	// TimeErr is set when a timestamp column holds text we cannot parse;
	// that time is then zero (DeletedAt still non-nil if the column was set).
	TimeErr error
}

const vmCols = "id, created_at, updated_at, deleted_at, name, host_id, config_json"

// GetVM returns the live row for (hostID, name); a soft-deleted or absent
// row gives an error wrapping ErrNotFound.
func (tx *Tx) GetVM(hostID, name string) (VM, error) {
	vms, err := tx.listVMs(fmt.Sprintf("get vm %q on host %q", name, hostID),
		"WHERE name = ? AND host_id = ? AND deleted_at IS NULL", name, hostID)
	if err != nil {
		return VM{}, err
	}
	if len(vms) == 0 {
		return VM{}, tx.s.errf("vm %q on host %q: %w", name, hostID, ErrNotFound)
	}
	return vms[0], nil
}

// ListVMs returns the live rows of a host, ordered by name.
func (tx *Tx) ListVMs(hostID string) ([]VM, error) {
	return tx.listVMs(fmt.Sprintf("list vms of host %q", hostID),
		"WHERE host_id = ? AND deleted_at IS NULL ORDER BY name", hostID)
}

// ListAllVMs returns every live row, ordered by host_id then name.
func (tx *Tx) ListAllVMs() ([]VM, error) {
	return tx.listVMs("list vms", "WHERE deleted_at IS NULL ORDER BY host_id, name")
}

// ListVMsWithDeleted returns a host's rows including soft-deleted ones,
// ordered by name.
func (tx *Tx) ListVMsWithDeleted(hostID string) ([]VM, error) {
	return tx.listVMs(fmt.Sprintf("list vms of host %q with deleted", hostID),
		"WHERE host_id = ? ORDER BY name", hostID)
}

// UpsertVM records cfg as the VM's configuration: it inserts a new row,
// updates config_json and updated_at of the live row, or revives a
// soft-deleted row (the unique index covers those too), keeping its id and
// created_at.
func (tx *Tx) UpsertVM(hostID, name string, cfg vminfo.VMInfo) (VM, error) {
	op := fmt.Sprintf("upsert vm %q on host %q", name, hostID)
	js, cur, found, err := tx.prepareVMWrite(op, hostID, name, cfg)
	if err != nil {
		return VM{}, err
	}
	if !found {
		return tx.insertVM(op, hostID, name, js)
	}
	return tx.recordVM(op, cur.ID, js)
}

// InsertVMIfAbsent is the sync service's write: it never overwrites the
// recorded configuration of a live row (that row is returned unchanged),
// but inserts a new row or revives a soft-deleted one with cfg.
func (tx *Tx) InsertVMIfAbsent(hostID, name string, cfg vminfo.VMInfo) (inserted, revived bool, vm VM, err error) {
	op := fmt.Sprintf("insert vm %q on host %q", name, hostID)
	js, cur, found, err := tx.prepareVMWrite(op, hostID, name, cfg)
	switch {
	case err != nil:
		return false, false, VM{}, err
	case !found:
		vm, err = tx.insertVM(op, hostID, name, js)
		return err == nil, false, vm, err
	case cur.DeletedAt == nil:
		return false, false, cur, nil
	}
	vm, err = tx.recordVM(op, cur.ID, js)
	return false, err == nil, vm, err
}

// SoftDeleteVM sets deleted_at on the live row, as GORM's Delete does, and
// drops its sync status (a deleted VM has no status to report). No live
// row gives an error wrapping ErrNotFound.
func (tx *Tx) SoftDeleteVM(hostID, name string) error {
	op := fmt.Sprintf("delete vm %q on host %q", name, hostID)
	err := tx.exec(op, "UPDATE virtual_machines SET deleted_at = ? WHERE name = ? AND host_id = ? AND deleted_at IS NULL",
		FormatTime(time.Now()), name, hostID)
	if err != nil {
		return err
	}
	if tx.changes() == 0 {
		return tx.s.errf("vm %q on host %q: %w", name, hostID, ErrNotFound)
	}
	return tx.DeleteVMStatus(hostID, name)
}

// prepareVMWrite validates and encodes cfg and finds the current row for
// (hostID, name), soft-deleted or not.
func (tx *Tx) prepareVMWrite(op, hostID, name string, cfg vminfo.VMInfo) (js string, cur VM, found bool, err error) {
	if hostID == "" || name == "" {
		return "", VM{}, false, tx.s.errf("%s: host id and vm name must not be empty", op)
	}
	if err := tx.usable(op, true); err != nil {
		return "", VM{}, false, err
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", VM{}, false, tx.s.errf("%s: encode config_json: %w", op, err)
	}
	vms, err := tx.listVMs(op, "WHERE name = ? AND host_id = ?", name, hostID)
	if err != nil || len(vms) == 0 {
		return string(b), VM{}, false, err
	}
	return string(b), vms[0], true, nil
}

func (tx *Tx) insertVM(op, hostID, name, js string) (VM, error) {
	now := FormatTime(time.Now())
	err := tx.exec(op, "INSERT INTO virtual_machines (created_at, updated_at, deleted_at, name, host_id, config_json) VALUES (?, ?, NULL, ?, ?, ?)",
		now, now, name, hostID, js)
	if err != nil {
		return VM{}, err
	}
	return tx.vmByID(op, tx.conn.LastInsertRowID())
}

// recordVM writes a new recorded config into row id and makes it live.
func (tx *Tx) recordVM(op string, id int64, js string) (VM, error) {
	err := tx.exec(op, "UPDATE virtual_machines SET config_json = ?, updated_at = ?, deleted_at = NULL WHERE id = ?",
		js, FormatTime(time.Now()), id)
	if err != nil {
		return VM{}, err
	}
	return tx.vmByID(op, id)
}

// vmByID re-reads a row we just wrote so callers get exactly what is stored.
func (tx *Tx) vmByID(op string, id int64) (VM, error) {
	vms, err := tx.listVMs(op, "WHERE id = ?", id)
	if err == nil && len(vms) == 0 {
		err = tx.s.errf("%s: virtual_machines row %d vanished inside its own transaction", op, id)
	}
	if err != nil {
		return VM{}, err
	}
	return vms[0], nil
}

func (tx *Tx) listVMs(op, where string, args ...any) ([]VM, error) {
	var vms []VM
	err := tx.query(op, "SELECT "+vmCols+" FROM virtual_machines "+where,
		func(r *sqlite.Stmt) error { vms = append(vms, tx.scanVM(r)); return nil }, args...)
	return vms, err
}

// scanVM reads one row in vmCols order. Bad data lands in ConfigErr or
// TimeErr instead of failing, so listing never breaks on one bad row.
func (tx *Tx) scanVM(r *sqlite.Stmt) VM {
	vm := VM{
		ID:         r.ColumnInt64(0),
		Name:       r.ColumnText(4),
		HostID:     r.ColumnText(5),
		ConfigJSON: r.ColumnText(6),
	}
	where := fmt.Sprintf("virtual_machines row %d (host %q, vm %q)", vm.ID, vm.HostID, vm.Name)
	var cErr, uErr, dErr error
	vm.CreatedAt, _, cErr = tx.timeCol(r, 1, where, "created_at")
	vm.UpdatedAt, _, uErr = tx.timeCol(r, 2, where, "updated_at")
	if del, set, err := tx.timeCol(r, 3, where, "deleted_at"); set {
		vm.DeletedAt, dErr = &del, err
	}
	vm.TimeErr = errors.Join(cErr, uErr, dErr)
	if err := json.Unmarshal([]byte(vm.ConfigJSON), &vm.Config); err != nil {
		vm.Config = vminfo.VMInfo{}
		vm.ConfigErr = tx.s.errf("%s: config_json is not valid VMInfo JSON: %w; re-import the VM or delete the row", where, err)
	}
	return vm
}

// timeCol reads a DATETIME column: NULL (set=false), GORM or RFC 3339 text,
// or integer Unix seconds, which some drivers store.
func (tx *Tx) timeCol(r *sqlite.Stmt, col int, where, name string) (t time.Time, set bool, err error) {
	switch r.ColumnType(col) {
	case sqlite.TypeNull:
		return time.Time{}, false, nil
	case sqlite.TypeInteger:
		return time.Unix(r.ColumnInt64(col), 0).UTC(), true, nil
	}
	t, err = ParseTime(r.ColumnText(col))
	if err != nil {
		err = tx.s.errf("%s: %s: %w; fix the column or delete the row", where, name, err)
	}
	return t, true, err
}

// GetVM: see Tx.GetVM.
func (s *Store) GetVM(ctx context.Context, hostID, name string) (VM, error) {
	return readVal(s, ctx, func(tx *Tx) (VM, error) { return tx.GetVM(hostID, name) })
}

// ListVMs: see Tx.ListVMs.
func (s *Store) ListVMs(ctx context.Context, hostID string) ([]VM, error) {
	return readVal(s, ctx, func(tx *Tx) ([]VM, error) { return tx.ListVMs(hostID) })
}

// ListAllVMs: see Tx.ListAllVMs.
func (s *Store) ListAllVMs(ctx context.Context) ([]VM, error) {
	return readVal(s, ctx, (*Tx).ListAllVMs)
}

// UpsertVM: see Tx.UpsertVM.
func (s *Store) UpsertVM(ctx context.Context, hostID, name string, cfg vminfo.VMInfo) (VM, error) {
	return writeVal(s, ctx, func(tx *Tx) (VM, error) { return tx.UpsertVM(hostID, name, cfg) })
}

// SoftDeleteVM: see Tx.SoftDeleteVM.
func (s *Store) SoftDeleteVM(ctx context.Context, hostID, name string) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.SoftDeleteVM(hostID, name) })
}
