package store

import (
	"context"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// The SQL of this package is written once, with ? placeholders, and runs
// on either dialect through txConn; rows come back through row. What the
// dialects do differently (placeholders, transactions, timestamps, the id
// of an inserted row) lives behind these two interfaces.

// row is one result row. Columns are numbered from 0 in the SELECT's order.
type row interface {
	Text(col int) string // "" for NULL
	Int64(col int) int64
	Int(col int) int
	Bool(col int) bool
	IsNull(col int) bool
	// Time reads a timestamp column: set is false for NULL; err is the
	// column's text that no layout reads (SQLite only).
	Time(col int) (t time.Time, set bool, err error)
}

// txConn is the connection one transaction runs on. Its errors are the
// driver's own; Tx wraps them (Store.sqlErr).
type txConn interface {
	begin(ctx context.Context, write bool) error
	commit() error
	rollback()
	// exec runs a statement whose answer nobody reads; PostgreSQL may
	// send it with the next statement that has one (see pgConn).
	exec(query string, args []any) error
	// execCount runs a statement now and returns how many rows it changed.
	execCount(query string, args []any) (int64, error)
	// insertID inserts one row of cols into table and returns its id.
	insertID(table string, cols []string, args []any) (int64, error)
	query(query string, args []any, fn func(row) error) error
	execDDL(query string) error
	// stamp is t as a statement argument for a timestamp column, and the
	// value that column then reads back as.
	stamp(t time.Time) (arg any, stored time.Time)
}

// sqliteConn runs transactions on one zombiezen connection.
type sqliteConn struct {
	s *Store
	c *sqlite.Conn
}

// begin opens the transaction. A write takes the write lock up front
// (IMMEDIATE) so it can never fail later with a lock upgrade conflict
// (SQLITE_BUSY_SNAPSHOT), which no busy timeout can wait out.
func (sc *sqliteConn) begin(ctx context.Context, write bool) error {
	sc.rollback() // a connection left inside a transaction would refuse BEGIN
	if !write {
		return sqlitex.Execute(sc.c, "BEGIN DEFERRED", nil)
	}
	return sc.beginImmediate(ctx)
}

// beginImmediate waits for the write lock with zombiezen's busy handler,
// which (unlike SQLite's busy timeout) gives up as soon as the connection's
// interrupt channel closes: the wait ends at BusyTimeout or when ctx ends,
// whichever is first, so a cancelled caller does not sit out the timeout.
// Giving up surfaces as SQLITE_BUSY, which the retry loop handles. Statements
// inside the transaction go back to the plain busy timeout.
func (sc *sqliteConn) beginImmediate(ctx context.Context) error {
	s := sc.s
	wait, cancel := context.WithTimeout(ctx, s.opts.BusyTimeout)
	defer cancel()
	sc.c.SetBlockOnBusy()
	old := sc.c.SetInterrupt(wait.Done())
	err := sqlitex.Execute(sc.c, "BEGIN IMMEDIATE", nil)
	sc.c.SetInterrupt(old)
	sc.c.SetBusyTimeout(s.opts.BusyTimeout)
	if err != nil && ctx.Err() == nil && wait.Err() != nil {
		return s.errf("begin write transaction: %w: another connection held the write lock for %s (%w)",
			errLockWait, s.opts.BusyTimeout, err)
	}
	return err
}

func (sc *sqliteConn) commit() error { return sqlitex.Execute(sc.c, "COMMIT", nil) }

// rollback ends an open transaction even when the context was cancelled:
// the interrupt is lifted for the ROLLBACK, then restored.
func (sc *sqliteConn) rollback() {
	if sc.c.AutocommitEnabled() {
		return // nothing open, or SQLite already rolled back
	}
	old := sc.c.SetInterrupt(nil)
	defer sc.c.SetInterrupt(old)
	_ = sqlitex.ExecuteTransient(sc.c, "ROLLBACK", nil)
}

func (sc *sqliteConn) exec(query string, args []any) error {
	return sqlitex.Execute(sc.c, query, &sqlitex.ExecOptions{Args: args})
}

func (sc *sqliteConn) insertID(table string, cols []string, args []any) (int64, error) {
	if err := sc.exec(insertSQL(table, cols), args); err != nil {
		return 0, err
	}
	return sc.c.LastInsertRowID(), nil
}

// insertSQL is an INSERT of one row of cols.
func insertSQL(table string, cols []string) string {
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(cols)-1) + ")"
}

func (sc *sqliteConn) query(query string, args []any, fn func(row) error) error {
	return sqlitex.Execute(sc.c, query, &sqlitex.ExecOptions{
		Args:       args,
		ResultFunc: func(st *sqlite.Stmt) error { return fn(sqliteRow{st}) },
	})
}

// execDDL runs DDL uncached: each statement runs once per file.
func (sc *sqliteConn) execDDL(query string) error { return sqlitex.ExecuteTransient(sc.c, query, nil) }

func (sc *sqliteConn) execCount(query string, args []any) (int64, error) {
	err := sc.exec(query, args)
	return int64(sc.c.Changes()), err
}

// stamp writes GORM's text (TimeFormat, UTC), which keeps nanoseconds.
func (sc *sqliteConn) stamp(t time.Time) (any, time.Time) {
	return FormatTime(t), t.UTC().Round(0)
}

// sqliteRow reads the current row of a statement.
type sqliteRow struct{ st *sqlite.Stmt }

func (r sqliteRow) Text(col int) string { return r.st.ColumnText(col) }
func (r sqliteRow) Int64(col int) int64 { return r.st.ColumnInt64(col) }
func (r sqliteRow) Int(col int) int     { return r.st.ColumnInt(col) }
func (r sqliteRow) Bool(col int) bool   { return r.st.ColumnBool(col) }
func (r sqliteRow) IsNull(col int) bool { return r.st.ColumnType(col) == sqlite.TypeNull }

// Time reads a DATETIME column: NULL, GORM or RFC 3339 text, or integer
// Unix seconds, which some drivers store.
func (r sqliteRow) Time(col int) (time.Time, bool, error) {
	switch r.st.ColumnType(col) {
	case sqlite.TypeNull:
		return time.Time{}, false, nil
	case sqlite.TypeInteger:
		return time.Unix(r.st.ColumnInt64(col), 0).UTC(), true, nil
	}
	t, err := ParseTime(r.st.ColumnText(col))
	return t, true, err
}
