package store

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Dump is every row of a store, table by table, as `virtumancer-sync
// migrate` copies it between backends: ids, soft-deleted rows and the
// id sequence kept, config_json byte for byte, timestamps as instants
// (GORM's text on SQLite, timestamptz on PostgreSQL, both read into
// time.Time; PostgreSQL keeps microseconds).
type Dump struct {
	// Tables holds each of dumpTables' rows, in the same order; a value is
	// nil (NULL), string, int64, bool or time.Time by the column's kind.
	Tables [][][]any
	// VMSeq is the highest virtual_machines id ever handed out (0: none),
	// so ids stay never reused after a copy.
	VMSeq int64
}

// Rows is the number of rows of table name in d.
func (d Dump) Rows(name string) int {
	for i, t := range dumpTables {
		if t.name == name {
			return len(d.Tables[i])
		}
	}
	return 0
}

// SoftDeletedVMs counts the virtual_machines rows with deleted_at set.
func (d Dump) SoftDeletedVMs() int {
	n := 0
	for _, r := range d.Tables[vmTable] {
		if r[3] != nil {
			n++
		}
	}
	return n
}

// ErrNotEmpty is wrapped by Load when the destination holds rows.
var ErrNotEmpty = errors.New("the destination store is not empty")

// Comparable is a dump row with its times as RFC 3339 text in UTC at the
// microsecond (what PostgreSQL keeps), for comparing two dumps.
func Comparable(r []any) []any {
	out := make([]any, len(r))
	for i, v := range r {
		out[i] = v
		if t, ok := v.(time.Time); ok {
			out[i] = t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
		}
	}
	return out
}

type colKind int

const (
	kText colKind = iota
	kInt
	kBool
	kTime
)

type dumpTable struct {
	name, order string
	cols        []string
	kinds       []colKind
}

// TableNames lists the tables a Dump holds, in copy order.
func TableNames() []string {
	out := make([]string, len(dumpTables))
	for i, t := range dumpTables {
		out[i] = t.name
	}
	return out
}

// vmTable is virtual_machines' index in dumpTables.
const vmTable = 1

// dumpTables are Virtumancer's tables and ours; vmsync_migrations is not
// copied, since each store records its own migrations.
var dumpTables = []dumpTable{
	{"hosts", "id", []string{"id", "uri"}, []colKind{kText, kText}},
	{"virtual_machines", "id", []string{"id", "created_at", "updated_at", "deleted_at", "name", "host_id", "config_json"},
		[]colKind{kInt, kTime, kTime, kTime, kText, kText, kText}},
	{"vmsync_recorded", "vm_id", []string{"vm_id", "host_id", "name", "config_json", "recorded_at"},
		[]colKind{kInt, kText, kText, kText, kTime}},
	{"vmsync_vm_status", "host_id, name", []string{"host_id", "name", "live_json", "drift_json", "drifted", "state", "observed_at"},
		[]colKind{kText, kText, kText, kText, kBool, kInt, kTime}},
	{"vmsync_host_status", "host_id", []string{"host_id", "connected", "last_sync_at", "last_error", "last_error_at", "vm_count"},
		[]colKind{kText, kBool, kTime, kText, kTime, kInt}},
}

// Dump reads every row of the store.
func (tx *Tx) Dump() (Dump, error) {
	d := Dump{Tables: make([][][]any, len(dumpTables))}
	for i, t := range dumpTables {
		rows, err := tx.dumpTable(t)
		if err != nil {
			return Dump{}, err
		}
		d.Tables[i] = rows
	}
	seq, err := tx.vmSeq()
	d.VMSeq = seq
	return d, err
}

func (tx *Tx) dumpTable(t dumpTable) ([][]any, error) {
	var rows [][]any
	q := "SELECT " + strings.Join(t.cols, ", ") + " FROM " + t.name + " ORDER BY " + t.order
	err := tx.query("dump "+t.name, q, func(r row) error {
		vals := make([]any, len(t.cols))
		for c, k := range t.kinds {
			v, err := readCol(r, c, k)
			if err != nil {
				return tx.s.errf("dump %s: row %d, column %s: %w; fix or clear that value, then migrate again",
					t.name, len(rows)+1, t.cols[c], err)
			}
			vals[c] = v
		}
		rows = append(rows, vals)
		return nil
	})
	return rows, err
}

func readCol(r row, c int, k colKind) (any, error) {
	if r.IsNull(c) {
		return nil, nil
	}
	switch k {
	case kInt:
		return r.Int64(c), nil
	case kBool:
		return r.Bool(c), nil
	case kTime:
		t, _, err := r.Time(c)
		return t, err
	}
	return r.Text(c), nil
}

// Empty reports whether the store holds no row in any table a Dump copies,
// naming the first table that holds some.
func (tx *Tx) Empty() (empty bool, nonEmpty string, err error) {
	for _, t := range dumpTables {
		n := 0
		if err := tx.query("count "+t.name, "SELECT count(*) FROM "+t.name,
			func(r row) error { n = r.Int(0); return nil }); err != nil {
			return false, "", err
		}
		if n > 0 {
			return false, fmt.Sprintf("%s (%d rows)", t.name, n), nil
		}
	}
	return true, "", nil
}

// Load writes d into the store. Unless replace is set, the store must be
// empty (Empty); with replace, every row of the copied tables is deleted
// first. All in the caller's one write transaction, so a failed copy
// leaves the destination as it was.
func (tx *Tx) Load(d Dump, replace bool) error {
	if len(d.Tables) != len(dumpTables) {
		return tx.s.errf("load: the dump has %d tables, want %d", len(d.Tables), len(dumpTables))
	}
	if replace {
		for i := len(dumpTables) - 1; i >= 0; i-- {
			if err := tx.exec("clear "+dumpTables[i].name, "DELETE FROM "+dumpTables[i].name); err != nil {
				return err
			}
		}
	} else if empty, what, err := tx.Empty(); err != nil {
		return err
	} else if !empty {
		return tx.s.errf("load: %w: %s", ErrNotEmpty, what)
	}
	for i, t := range dumpTables {
		if err := tx.loadTable(t, d.Tables[i]); err != nil {
			return err
		}
	}
	return tx.setVMSeq(d.VMSeq)
}

func (tx *Tx) loadTable(t dumpTable, rows [][]any) error {
	q := "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(t.cols)), ", ") + ")"
	args := make([]any, len(t.cols))
	for n, r := range rows {
		for c, v := range r {
			args[c] = v
			if at, ok := v.(time.Time); ok {
				args[c], _ = tx.stamp(at)
			}
		}
		if err := tx.exec(fmt.Sprintf("load %s row %d", t.name, n+1), q, args...); err != nil {
			return err
		}
	}
	return nil
}

// vmSeq is the highest virtual_machines id handed out: SQLite's
// sqlite_sequence (AUTOINCREMENT), PostgreSQL's bigserial sequence, or the
// highest id in the table if that is higher.
func (tx *Tx) vmSeq() (int64, error) {
	var seq int64
	q := "SELECT seq AS s FROM sqlite_sequence WHERE name = 'virtual_machines'"
	if tx.s.dialect().postgres {
		q = "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS s FROM virtual_machines_id_seq"
	}
	// A row inserted with an explicit id does not move PostgreSQL's
	// sequence, so the highest id counts too.
	q = "SELECT max(s) FROM (" + q + " UNION ALL SELECT max(id) FROM virtual_machines UNION ALL SELECT 0) AS seqs"
	err := tx.query("read the virtual_machines id sequence", q, func(r row) error { seq = r.Int64(0); return nil })
	return seq, err
}

// setVMSeq makes seq the highest id handed out, unless the store's own
// sequence is already further (a --replace keeps ids never reused there).
func (tx *Tx) setVMSeq(seq int64) error {
	cur, err := tx.vmSeq()
	if err != nil || seq <= cur {
		return err
	}
	op := "set the virtual_machines id sequence"
	if tx.s.dialect().postgres {
		return tx.exec(op, "SELECT setval('virtual_machines_id_seq', ?, true)", seq)
	}
	if n, err := tx.execCount(op, "UPDATE sqlite_sequence SET seq = ? WHERE name = 'virtual_machines'", seq); err != nil || n > 0 {
		return err
	}
	return tx.exec(op, "INSERT INTO sqlite_sequence (name, seq) VALUES ('virtual_machines', ?)", seq)
}
