package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// A full sync writes thousands of rows in one transaction. On SQLite a
// statement costs microseconds in-process; on PostgreSQL each one is a
// statement the server plans and runs (and a change-feed trigger fires
// for), so the two calls here write a whole host's new rows and statuses
// in a few multi-row statements there, and one statement per row on
// SQLite, with the same result.

// NewVM is a row InsertNewVMs inserts.
type NewVM struct {
	Name string
	Cfg  vminfo.VMInfo
}

// bulkRows bounds the rows of one multi-row statement (PostgreSQL takes at
// most 65535 arguments).
const bulkRows = 1000

// InsertNewVMs inserts a row for each of vms, which have none on the host,
// live or soft-deleted (the caller listed the host's rows in this same
// write transaction), recording each configuration as InsertVMIfAbsent
// does. It returns the rows in vms' order.
func (tx *Tx) InsertNewVMs(hostID string, vms []NewVM) ([]VM, error) {
	ws := make([]vmWrite, len(vms))
	for i, v := range vms {
		w, err := tx.encodeVMWrite(fmt.Sprintf("insert vm %q on host %q", v.Name, hostID), hostID, v.Name, v.Cfg)
		if err != nil {
			return nil, err
		}
		ws[i] = w
	}
	if tx.s.pg == nil || len(ws) < 2 {
		out := make([]VM, len(ws))
		for i, w := range ws {
			vm, err := tx.insertVM(w)
			if err != nil {
				return nil, err
			}
			out[i] = vm
		}
		return out, nil
	}
	return tx.insertNewVMsBulk(hostID, ws)
}

func (tx *Tx) insertNewVMsBulk(hostID string, ws []vmWrite) ([]VM, error) {
	op := fmt.Sprintf("insert %d vms on host %q", len(ws), hostID)
	ids, err := tx.reserveIDs(op, "virtual_machines", len(ws))
	if err != nil {
		return nil, err
	}
	now, at := tx.stamp(time.Now())
	vmRows := make([][]any, len(ws))
	recRows := make([][]any, len(ws))
	names := make([]string, len(ws))
	for i, w := range ws {
		vmRows[i] = []any{ids[i], now, now, nil, w.name, w.hostID, w.js}
		recRows[i] = []any{ids[i], w.hostID, w.name, w.js, now}
		names[i] = w.name
	}
	if err := tx.insertRows(op, "virtual_machines", []string{"id", "created_at", "updated_at", "deleted_at", "name", "host_id", "config_json"}, "", vmRows); err != nil {
		return nil, err
	}
	if err := tx.insertRows(op, "vmsync_recorded", []string{"vm_id", "host_id", "name", "config_json", "recorded_at"},
		" ON CONFLICT (vm_id) DO UPDATE SET host_id = excluded.host_id, name = excluded.name, config_json = excluded.config_json, recorded_at = excluded.recorded_at",
		recRows); err != nil {
		return nil, err
	}
	// Our rows left under other ids for these names (their old rows were
	// hard-deleted by someone else), as writeRecorded drops them one by one.
	err = tx.exec(op, "DELETE FROM vmsync_recorded r USING unnest(?::text[], ?::bigint[]) AS n(name, id) "+
		"WHERE r.host_id = ? AND r.name = n.name AND r.vm_id <> n.id", names, ids, hostID)
	if err != nil {
		return nil, err
	}
	out := make([]VM, len(ws))
	for i, w := range ws {
		if out[i], err = tx.insertedVM(w, ids[i], at); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PutVMStatuses is PutVMStatus for many VMs of distinct names at once.
func (tx *Tx) PutVMStatuses(sts []VMStatus) error {
	if tx.s.pg == nil || len(sts) < 2 {
		for _, st := range sts {
			if err := tx.PutVMStatus(st); err != nil {
				return err
			}
		}
		return nil
	}
	rows := make([][]any, len(sts))
	for i, st := range sts {
		r, err := tx.statusRow(st)
		if err != nil {
			return err
		}
		rows[i] = r
	}
	return tx.insertRows(fmt.Sprintf("put the status of %d vms", len(sts)), "vmsync_vm_status",
		[]string{"host_id", "name", "live_json", "drift_json", "drifted", "state", "observed_at"}, statusConflict, rows)
}

// insertRows writes rows into table in multi-row INSERTs of at most
// bulkRows rows; tail follows each VALUES list (an ON CONFLICT clause).
func (tx *Tx) insertRows(op, table string, cols []string, tail string, rows [][]any) error {
	for len(rows) > 0 {
		n := min(len(rows), bulkRows)
		tuple := "(?" + strings.Repeat(", ?", len(cols)-1) + ")"
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(tuple+", ", n), ", ") + tail
		args := make([]any, 0, n*len(cols))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if err := tx.exec(op, q, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// reserveIDs takes n ids of table's sequence (PostgreSQL) for rows about
// to be inserted with them.
func (tx *Tx) reserveIDs(op, table string, n int) ([]int64, error) {
	ids := make([]int64, 0, n)
	err := tx.query(op, reserveIDsSQL,
		func(r row) error { ids = append(ids, r.Int64(0)); return nil }, table, n)
	if err == nil && len(ids) != n {
		err = tx.s.errf("%s: reserved %d ids of %s, want %d", op, len(ids), table, n)
	}
	return ids, err
}

// reserveIDsSQL takes the next ids of a table's id sequence: table, count.
const reserveIDsSQL = "SELECT nextval(pg_get_serial_sequence(?, 'id')) FROM generate_series(1, ?)"
