package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// VMStatus is what the sync service last saw of a VM (vmsync_vm_status):
// the live configuration and its drift from the recorded one. It never
// touches config_json.
type VMStatus struct {
	HostID     string
	Name       string
	Live       vminfo.VMInfo
	Drift      []vminfo.Drift // empty when live matches recorded
	State      int            // libvirt state number
	ObservedAt time.Time
}

// HostStatus is the sync service's view of a host (vmsync_host_status).
type HostStatus struct {
	HostID      string
	Connected   bool
	LastSyncAt  *time.Time
	LastErrorAt *time.Time
	LastError   string
	VMCount     int
}

const (
	vmStatusCols   = "host_id, name, live_json, drift_json, state, observed_at"
	hostStatusCols = "host_id, connected, last_sync_at, last_error, last_error_at, vm_count"
)

// PutVMStatus inserts or replaces the status of one VM. A zero ObservedAt
// is stamped with the current time.
func (tx *Tx) PutVMStatus(st VMStatus) error {
	op := fmt.Sprintf("put status of vm %q on host %q", st.Name, st.HostID)
	args, err := tx.statusRow(st)
	if err != nil {
		return err
	}
	return tx.exec(op, "INSERT INTO vmsync_vm_status (host_id, name, live_json, drift_json, drifted, state, observed_at) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?)"+statusConflict, args...)
}

// statusConflict makes a status insert replace the VM's previous one.
const statusConflict = " ON CONFLICT (host_id, name) DO UPDATE SET live_json = excluded.live_json, drift_json = excluded.drift_json, " +
	"drifted = excluded.drifted, state = excluded.state, observed_at = excluded.observed_at"

// statusRow is st as the values of a vmsync_vm_status row, in column order.
func (tx *Tx) statusRow(st VMStatus) ([]any, error) {
	op := fmt.Sprintf("put status of vm %q on host %q", st.Name, st.HostID)
	if st.HostID == "" || st.Name == "" {
		return nil, tx.s.errf("%s: host id and vm name must not be empty", op)
	}
	live, err := json.Marshal(st.Live)
	if err != nil {
		return nil, tx.s.errf("%s: encode live config: %w", op, err)
	}
	drift, err := json.Marshal(nonNil(st.Drift))
	if err != nil {
		return nil, tx.s.errf("%s: encode drift: %w", op, err)
	}
	if st.ObservedAt.IsZero() {
		st.ObservedAt = time.Now()
	}
	return []any{st.HostID, st.Name, string(live), string(drift), len(st.Drift) > 0, st.State, tx.stampArg(st.ObservedAt)}, nil
}

// DeleteVMStatus removes one VM's status; removing an absent one is no error.
func (tx *Tx) DeleteVMStatus(hostID, name string) error {
	return tx.exec(fmt.Sprintf("delete status of vm %q on host %q", name, hostID),
		"DELETE FROM vmsync_vm_status WHERE host_id = ? AND name = ?", hostID, name)
}

// ListVMStatus returns VM statuses ordered by host then name, for one host
// or, with hostID "", for all.
func (tx *Tx) ListVMStatus(hostID string) ([]VMStatus, error) {
	if hostID == "" {
		return tx.listVMStatus("list vm status", "ORDER BY host_id, name")
	}
	return tx.listVMStatus(fmt.Sprintf("list vm status of host %q", hostID),
		"WHERE host_id = ? ORDER BY name", hostID)
}

// ListDrifted returns the statuses with drift, ordered by host then name.
func (tx *Tx) ListDrifted() ([]VMStatus, error) {
	return tx.listVMStatus("list drifted vms", "WHERE drifted = TRUE ORDER BY host_id, name")
}

// PutHostStatus inserts or replaces the status of one host.
func (tx *Tx) PutHostStatus(st HostStatus) error {
	op := fmt.Sprintf("put status of host %q", st.HostID)
	if st.HostID == "" {
		return tx.s.errf("%s: host id is empty", op)
	}
	return tx.exec(op, `INSERT INTO vmsync_host_status (`+hostStatusCols+`) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (host_id) DO UPDATE SET connected = excluded.connected, last_sync_at = excluded.last_sync_at,
	last_error = excluded.last_error, last_error_at = excluded.last_error_at, vm_count = excluded.vm_count`,
		st.HostID, st.Connected, tx.optTime(st.LastSyncAt), optText(st.LastError), tx.optTime(st.LastErrorAt), st.VMCount)
}

// ListHostStatus returns every host status, ordered by host id.
func (tx *Tx) ListHostStatus() ([]HostStatus, error) {
	var out []HostStatus
	err := tx.query("list host status", "SELECT "+hostStatusCols+" FROM vmsync_host_status ORDER BY host_id",
		func(r row) error {
			st, err := tx.scanHostStatus(r)
			out = append(out, st)
			return err
		})
	return out, err
}

func (tx *Tx) listVMStatus(op, where string, args ...any) ([]VMStatus, error) {
	var out []VMStatus
	err := tx.query(op, "SELECT "+vmStatusCols+" FROM vmsync_vm_status "+where,
		func(r row) error {
			st, err := tx.scanVMStatus(r)
			out = append(out, st)
			return err
		}, args...)
	return out, err
}

// scanVMStatus reads a row in vmStatusCols order. These rows are ours, so
// bad JSON means real corruption and is an error, naming the row.
func (tx *Tx) scanVMStatus(r row) (VMStatus, error) {
	st := VMStatus{HostID: r.Text(0), Name: r.Text(1), State: r.Int(4)}
	where := rowRef{table: "vmsync_vm_status", id: -1, host: st.HostID, vm: st.Name}
	var err error
	if st.Live, err = tx.s.lives.decode(r.Text(2), tx.s.liveInfo); err != nil {
		return st, tx.s.errf("%s: live_json: %w; delete the row, the sync service rewrites it", where, err)
	}
	if err := unmarshalOpt(r.Text(3), &st.Drift); err != nil {
		return st, tx.s.errf("%s: drift_json: %w; delete the row, the sync service rewrites it", where, err)
	}
	t, _, err := tx.timeCol(r, 5, where, "observed_at")
	st.ObservedAt = t
	return st, err
}

func (tx *Tx) scanHostStatus(r row) (HostStatus, error) {
	st := HostStatus{
		HostID:    r.Text(0),
		Connected: r.Bool(1),
		LastError: r.Text(3),
		VMCount:   r.Int(5),
	}
	where := rowRef{table: "vmsync_host_status", id: -1, host: st.HostID, hostOnly: true}
	var err error
	if st.LastSyncAt, err = tx.optTimeCol(r, 2, where, "last_sync_at"); err != nil {
		return st, err
	}
	st.LastErrorAt, err = tx.optTimeCol(r, 4, where, "last_error_at")
	return st, err
}

func (tx *Tx) optTimeCol(r row, col int, where rowRef, name string) (*time.Time, error) {
	t, set, err := tx.timeCol(r, col, where, name)
	if !set || err != nil {
		return nil, err
	}
	return &t, nil
}

// optTime and optText map "unset" to NULL (a nil arg binds NULL).
func (tx *Tx) optTime(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return tx.stampArg(*t)
}

// stampArg is t as a timestamp argument.
func (tx *Tx) stampArg(t time.Time) any {
	arg, _ := tx.stamp(t)
	return arg
}

func optText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// unmarshalOpt leaves v untouched for a NULL/empty column.
func unmarshalOpt(js string, v any) error {
	if js == "" {
		return nil
	}
	return json.Unmarshal([]byte(js), v)
}

// nonNil makes an empty drift list encode as [] rather than null.
func nonNil(d []vminfo.Drift) []vminfo.Drift {
	if d == nil {
		return []vminfo.Drift{}
	}
	return d
}

// PutVMStatus: see Tx.PutVMStatus.
func (s *Store) PutVMStatus(ctx context.Context, st VMStatus) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.PutVMStatus(st) })
}

// DeleteVMStatus: see Tx.DeleteVMStatus.
func (s *Store) DeleteVMStatus(ctx context.Context, hostID, name string) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.DeleteVMStatus(hostID, name) })
}

// ListVMStatus: see Tx.ListVMStatus.
func (s *Store) ListVMStatus(ctx context.Context, hostID string) ([]VMStatus, error) {
	return readVal(s, ctx, func(tx *Tx) ([]VMStatus, error) { return tx.ListVMStatus(hostID) })
}

// ListDrifted: see Tx.ListDrifted.
func (s *Store) ListDrifted(ctx context.Context) ([]VMStatus, error) {
	return readVal(s, ctx, (*Tx).ListDrifted)
}

// PutHostStatus: see Tx.PutHostStatus.
func (s *Store) PutHostStatus(ctx context.Context, st HostStatus) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.PutHostStatus(st) })
}

// ListHostStatus: see Tx.ListHostStatus.
func (s *Store) ListHostStatus(ctx context.Context) ([]HostStatus, error) {
	return readVal(s, ctx, (*Tx).ListHostStatus)
}
