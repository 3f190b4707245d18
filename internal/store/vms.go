package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Where VM.Recorded was read from.
const (
	// RecordedFromTable: our own copy, written by the provider and by the
	// sync service on discovery; Virtumancer never touches it.
	RecordedFromTable = "vmsync_recorded"
	// RecordedFromConfigJSON: we never recorded this row (Virtumancer
	// created it), so its config_json is the only record there is.
	RecordedFromConfigJSON = "config_json"
)

// VM is a row of Virtumancer's virtual_machines table, joined with our
// vmsync_recorded row for it when there is one.
type VM struct {
	ID        int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// DeletedAt is non-nil for a soft-deleted row (only ListVMsWithDeleted
	// and InsertVMIfAbsent ever return one).
	DeletedAt *time.Time
	Name      string
	HostID    string
	// ConfigJSON is the column exactly as stored. Virtumancer rewrites it
	// with the live domain whenever its UI lists VMs.
	ConfigJSON string
	// Config is ConfigJSON parsed by vminfo.Parse; zero when ConfigErr is set.
	Config vminfo.VMInfo
	// ConfigErr is set when config_json is empty, null or not VMInfo JSON.
	// It names the file, row, host and VM; the row is still returned so one
	// corrupt row never hides the others.
	ConfigErr error

	// Recorded is the configuration last deliberately applied or adopted:
	// drift compares the live domain with it. See the package comment.
	Recorded vminfo.VMInfo
	// RecordedFrom is RecordedFromTable or RecordedFromConfigJSON.
	RecordedFrom string
	// RecordedJSON is the text Recorded was parsed from.
	RecordedJSON string
	// RecordedAt is when our copy was written; zero when RecordedFrom is
	// RecordedFromConfigJSON.
	RecordedAt time.Time
	// RecordErr makes Recorded unreadable: our row's corrupt JSON, or
	// ConfigErr when Recorded falls back to config_json.
	RecordErr error

	// TimeErr is set when a timestamp column holds text we cannot parse;
	// that time is then zero (DeletedAt still non-nil if the column was set).
	TimeErr error
}

// GetVM returns the live row for (hostID, name); a soft-deleted or absent
// row gives an error wrapping ErrNotFound.
func (tx *Tx) GetVM(hostID, name string) (VM, error) {
	vms, err := tx.listVMs(fmt.Sprintf("get vm %q on host %q", name, hostID),
		"WHERE v.name = ? AND v.host_id = ? AND v.deleted_at IS NULL", name, hostID)
	if err != nil {
		return VM{}, err
	}
	if len(vms) == 0 {
		return VM{}, tx.s.errf("vm %q on host %q: %w", name, hostID, ErrNotFound)
	}
	return vms[0], nil
}

// FindVM returns the row for (hostID, name), live or soft-deleted (the
// unique index allows one of either); found is false when there is none.
func (tx *Tx) FindVM(hostID, name string) (vm VM, found bool, err error) {
	vms, err := tx.listVMs(fmt.Sprintf("find vm %q on host %q", name, hostID),
		"WHERE v.name = ? AND v.host_id = ?", name, hostID)
	if err != nil || len(vms) == 0 {
		return VM{}, false, err
	}
	return vms[0], true, nil
}

// ListVMs returns the live rows of a host, ordered by name.
func (tx *Tx) ListVMs(hostID string) ([]VM, error) {
	return tx.listVMs(fmt.Sprintf("list vms of host %q", hostID),
		"WHERE v.host_id = ? AND v.deleted_at IS NULL ORDER BY v.name", hostID)
}

// ListAllVMs returns every live row, ordered by host_id then name.
func (tx *Tx) ListAllVMs() ([]VM, error) {
	return tx.listVMs("list vms", "WHERE v.deleted_at IS NULL ORDER BY v.host_id, v.name")
}

// ListVMsWithDeleted returns a host's rows including soft-deleted ones,
// ordered by name.
func (tx *Tx) ListVMsWithDeleted(hostID string) ([]VM, error) {
	return tx.listVMs(fmt.Sprintf("list vms of host %q with deleted", hostID),
		"WHERE v.host_id = ? ORDER BY v.name", hostID)
}

// vmSelect reads a row and our copy of its record in one query. The join
// also matches host_id and name, so our row for an id that was hard-deleted
// and somehow reused, or renamed by hand, is never taken for another VM's.
const vmSelect = "SELECT v.id, v.created_at, v.updated_at, v.deleted_at, v.name, v.host_id, v.config_json, " +
	"r.vm_id, r.config_json, r.recorded_at FROM virtual_machines v " +
	"LEFT JOIN vmsync_recorded r ON r.vm_id = v.id AND r.host_id = v.host_id AND r.name = v.name "

func (tx *Tx) listVMs(op, where string, args ...any) ([]VM, error) {
	var vms []VM
	err := tx.query(op, vmSelect+where,
		func(r row) error { vms = append(vms, tx.scanVM(r)); return nil }, args...)
	return vms, err
}

// scanVM reads one row in vmSelect order. Bad data lands in ConfigErr,
// RecordErr or TimeErr instead of failing, so listing never breaks on one
// bad row.
func (tx *Tx) scanVM(r row) VM {
	vm := VM{
		ID:         r.Int64(0),
		Name:       r.Text(4),
		HostID:     r.Text(5),
		ConfigJSON: r.Text(6),
	}
	where := rowRef{table: "virtual_machines", id: vm.ID, host: vm.HostID, vm: vm.Name}
	var cErr, uErr, dErr error
	vm.CreatedAt, _, cErr = tx.timeCol(r, 1, where, "created_at")
	vm.UpdatedAt, _, uErr = tx.timeCol(r, 2, where, "updated_at")
	if del, set, err := tx.timeCol(r, 3, where, "deleted_at"); set {
		vm.DeletedAt, dErr = &del, err
	}
	vm.TimeErr = errors.Join(cErr, uErr, dErr)
	vm.Config, vm.ConfigErr = tx.parseRecord(where, "config_json", vm.ConfigJSON)
	tx.scanRecorded(r, &vm)
	return vm
}

// scanRecorded fills the Recorded fields from our row (columns 7-9), or
// from config_json when there is none.
func (tx *Tx) scanRecorded(r row, vm *VM) {
	if r.IsNull(7) {
		vm.Recorded, vm.RecordedJSON, vm.RecordErr = vm.Config, vm.ConfigJSON, vm.ConfigErr
		vm.RecordedFrom = RecordedFromConfigJSON
		return
	}
	where := rowRef{table: "vmsync_recorded", id: vm.ID, host: vm.HostID, vm: vm.Name}
	vm.RecordedFrom, vm.RecordedJSON = RecordedFromTable, r.Text(8)
	if vm.ConfigErr == nil && vm.RecordedJSON == vm.ConfigJSON {
		// The usual case (nothing rewrote config_json since we recorded
		// it): the same text parses to the same value, so parse once.
		vm.Recorded = cloneInfo(vm.Config)
	} else {
		vm.Recorded, vm.RecordErr = tx.parseRecord(where, "config_json", vm.RecordedJSON)
	}
	at, _, err := tx.timeCol(r, 9, where, "recorded_at")
	vm.RecordedAt, vm.TimeErr = at, errors.Join(vm.TimeErr, err)
}

// cloneInfo copies v so that two parsed values share no list.
func cloneInfo(v vminfo.VMInfo) vminfo.VMInfo {
	v.Disks, v.Interfaces = slices.Clone(v.Disks), slices.Clone(v.Interfaces)
	return v
}

// parseRecord decodes a stored VMInfo through vminfo's codec, so empty,
// null and corrupt JSON are all errors (never an all-zero VMInfo).
func (tx *Tx) parseRecord(where rowRef, col, js string) (vminfo.VMInfo, error) {
	v, err := tx.s.records.decode(js, parseInfo)
	if err != nil {
		return vminfo.VMInfo{}, tx.s.errf("%s: %s is not a readable VMInfo: %w", where, col, err)
	}
	return v, nil
}

// timeCol reads a timestamp column (see row.Time): NULL gives set=false,
// and an unreadable value an error naming the row and column.
func (tx *Tx) timeCol(r row, col int, where rowRef, name string) (t time.Time, set bool, err error) {
	t, set, err = r.Time(col)
	if err != nil {
		err = tx.s.errf("%s: %s: %w; fix the column or delete the row", where, name, err)
	}
	return t, set, err
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
