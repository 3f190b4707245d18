package store

import (
	"context"
	"errors"
	"time"
)

// Tx is one transaction, valid only inside the Write or Read callback that
// received it. Its methods mirror Store's without a context: the callback's
// context already bounds the whole transaction.
type Tx struct {
	s     *Store
	h     *handle // the opening of the store conn belongs to
	conn  txConn
	write bool
	done  bool
}

// begin opens the transaction: see each dialect's begin.
func (tx *Tx) begin(ctx context.Context) error {
	err := tx.conn.begin(ctx, tx.write)
	if errors.Is(err, errLockWait) {
		return err // already says which lock and for how long
	}
	if !tx.write {
		return tx.s.sqlErr("begin read transaction", err)
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
		err := tx.conn.commit()
		if err == nil {
			return
		}
		*errp = tx.s.sqlErr("commit", err)
	}
	tx.conn.rollback()
	if p != nil {
		panic(p)
	}
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
	return tx.s.sqlErr(op, tx.conn.exec(query, args))
}

// insertID inserts one row of cols into table and returns the row's id.
func (tx *Tx) insertID(op, table string, cols []string, args ...any) (int64, error) {
	if err := tx.usable(op, true); err != nil {
		return 0, err
	}
	id, err := tx.conn.insertID(table, cols, args)
	return id, tx.s.sqlErr(op, err)
}

// query calls fn for each result row. An error from fn is returned as is
// (it is already ours); driver errors are wrapped for op.
func (tx *Tx) query(op, query string, fn func(row) error, args ...any) error {
	if err := tx.usable(op, false); err != nil {
		return err
	}
	var rowErr error
	err := tx.conn.query(query, args, func(r row) error {
		rowErr = fn(r)
		return rowErr
	})
	if rowErr != nil {
		return rowErr
	}
	return tx.s.sqlErr(op, err)
}

// execDDL runs a schema statement uncached: each runs once per store.
func (tx *Tx) execDDL(op, sql string) error {
	if err := tx.usable(op, true); err != nil {
		return err
	}
	return tx.s.sqlErr(op, tx.conn.execDDL(sql))
}

// execCount runs a statement and returns how many rows it changed.
func (tx *Tx) execCount(op, query string, args ...any) (int, error) {
	if err := tx.usable(op, true); err != nil {
		return 0, err
	}
	n, err := tx.conn.execCount(query, args)
	return int(n), tx.s.sqlErr(op, err)
}

// stamp is t as an argument for a timestamp column and as it reads back.
func (tx *Tx) stamp(t time.Time) (any, time.Time) { return tx.conn.stamp(t) }

// now is the current time as a timestamp argument.
func (tx *Tx) now() any {
	arg, _ := tx.conn.stamp(time.Now())
	return arg
}

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
