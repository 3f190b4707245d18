package store

import (
	"context"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// Tx is one transaction, valid only inside the Write or Read callback that
// received it. Its methods mirror Store's without a context: the callback's
// context already bounds the whole transaction.
type Tx struct {
	s     *Store
	h     *handle // the opening of the file conn belongs to
	conn  *sqlite.Conn
	write bool
	done  bool
}

// begin opens the transaction. A write takes the write lock up front
// (IMMEDIATE) so it can never fail later with a lock upgrade conflict
// (SQLITE_BUSY_SNAPSHOT), which no busy timeout can wait out.
func (tx *Tx) begin(ctx context.Context) error {
	tx.rollback() // a connection left inside a transaction would refuse BEGIN
	if !tx.write {
		return tx.s.sqlErr("begin read transaction", sqlitex.Execute(tx.conn, "BEGIN DEFERRED", nil))
	}
	return tx.beginImmediate(ctx)
}

// beginImmediate waits for the write lock with zombiezen's busy handler,
// which (unlike SQLite's busy timeout) gives up as soon as the connection's
// interrupt channel closes: the wait ends at BusyTimeout or when ctx ends,
// whichever is first, so a cancelled caller does not sit out the timeout.
// Giving up surfaces as SQLITE_BUSY, which the retry loop handles. Statements
// inside the transaction go back to the plain busy timeout.
func (tx *Tx) beginImmediate(ctx context.Context) error {
	wait, cancel := context.WithTimeout(ctx, tx.s.opts.BusyTimeout)
	defer cancel()
	tx.conn.SetBlockOnBusy()
	old := tx.conn.SetInterrupt(wait.Done())
	err := sqlitex.Execute(tx.conn, "BEGIN IMMEDIATE", nil)
	tx.conn.SetInterrupt(old)
	tx.conn.SetBusyTimeout(tx.s.opts.BusyTimeout)
	if err != nil && ctx.Err() == nil && wait.Err() != nil {
		return tx.s.errf("begin write transaction: %w: another connection held the write lock for %s (%w)",
			errLockWait, tx.s.opts.BusyTimeout, err)
	}
	return tx.s.sqlErr("begin write transaction", err)
}

// finish commits when fn succeeded and rolls back otherwise, including when
// fn panicked (the panic then continues). It must be deferred directly so
// recover works.
func (tx *Tx) finish(errp *error) {
	p := recover()
	tx.done = true
	if p == nil && *errp == nil {
		err := sqlitex.Execute(tx.conn, "COMMIT", nil)
		if err == nil {
			return
		}
		*errp = tx.s.sqlErr("commit", err)
	}
	tx.rollback()
	if p != nil {
		panic(p)
	}
}

// rollback ends an open transaction even when the context was cancelled:
// the interrupt is lifted for the ROLLBACK, then restored.
func (tx *Tx) rollback() {
	if tx.conn.AutocommitEnabled() {
		return // nothing open, or SQLite already rolled back
	}
	old := tx.conn.SetInterrupt(nil)
	defer tx.conn.SetInterrupt(old)
	_ = sqlitex.ExecuteTransient(tx.conn, "ROLLBACK", nil)
}

// usable refuses use of a finished Tx and writes in a read transaction
// (a deferred transaction upgraded to write could hit SQLITE_BUSY_SNAPSHOT).
func (tx *Tx) usable(op string, write bool) error {
	switch {
	case tx.done:
		return tx.s.errf("%s: transaction already finished; use tx only inside its callback", op)
	case write && tx.s.opts.ReadOnly:
		return tx.s.permErr(op, nil)
	case write && !tx.write:
		return tx.s.errf("%s: write inside a read transaction; use Store.Write", op)
	}
	return nil
}

// exec runs a statement whose rows, if any, are not needed.
func (tx *Tx) exec(op, query string, args ...any) error {
	if err := tx.usable(op, true); err != nil {
		return err
	}
	return tx.s.sqlErr(op, sqlitex.Execute(tx.conn, query, &sqlitex.ExecOptions{Args: args}))
}

// query calls row for each result row. An error from row is returned as is
// (it is already ours); SQLite errors are wrapped for op.
func (tx *Tx) query(op, query string, row func(*sqlite.Stmt) error, args ...any) error {
	if err := tx.usable(op, false); err != nil {
		return err
	}
	var rowErr error
	err := sqlitex.Execute(tx.conn, query, &sqlitex.ExecOptions{
		Args: args,
		ResultFunc: func(st *sqlite.Stmt) error {
			rowErr = row(st)
			return rowErr
		},
	})
	if rowErr != nil {
		return rowErr
	}
	return tx.s.sqlErr(op, err)
}

// changes is the number of rows the last exec modified.
func (tx *Tx) changes() int { return tx.conn.Changes() }

// readVal runs fn in a Read and returns its value: the Store-level methods
// are these one-line wrappers, so each operation has one implementation.
func readVal[T any](s *Store, ctx context.Context, fn func(*Tx) (T, error)) (T, error) {
	var out T
	err := s.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}

// writeVal is readVal for Write.
func writeVal[T any](s *Store, ctx context.Context, fn func(*Tx) (T, error)) (T, error) {
	var out T
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}
