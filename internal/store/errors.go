package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"zombiezen.com/go/sqlite"
)

// Sentinel errors. Every error the store returns wraps at most one of them
// behind a message naming the file and the row, so test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrReadOnly is wrapped when a write fails because the store was opened
	// with Options.ReadOnly or the file or its directory is not writable.
	ErrReadOnly = errors.New("store is read-only")
	// ErrBusy is wrapped when the write lock stayed taken through every retry.
	ErrBusy = errors.New("database stayed busy")
	// ErrNoStore is wrapped when a read finds no store at the path: no file
	// (Options.CreateOnWrite or ReadOnly), or a file without Virtumancer's
	// tables. Nothing was recorded there; the first Write creates it.
	ErrNoStore = errors.New("no store yet")
	// ErrFileGone is wrapped by CheckFile when the file the store opened
	// was deleted or moved away from its path.
	ErrFileGone = errors.New("store file gone")
	// ErrFileReplaced is wrapped by CheckFile when the path now names
	// another file than the one the store opened.
	ErrFileReplaced = errors.New("store file replaced")

	errClosed = errors.New("store is closed")

	// errConnLost marks a PostgreSQL connection found broken when a
	// transaction began; it is retried on a new one.
	errConnLost = errors.New("the connection to PostgreSQL was lost")

	// errUnreachable marks a PostgreSQL that refused or dropped a new
	// connection as a server does while it restarts or shuts down; the
	// transaction is retried until BusyTimeout has passed.
	errUnreachable = errors.New("cannot reach PostgreSQL")

	// errLockWait marks a BEGIN IMMEDIATE that waited BusyTimeout in vain;
	// it is retried like SQLITE_BUSY.
	errLockWait = errors.New("timed out waiting for the write lock")
)

// errf prefixes a message with the store file, the convention for every
// error leaving this package.
func (s *Store) errf(format string, args ...any) error {
	return fmt.Errorf("store %s: "+format, append([]any{s.path}, args...)...)
}

// sqlErr wraps an error from SQLite for the operation op, turning the codes
// a user can act on (permissions, cancellation) into advice.
func (s *Store) sqlErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if s.pg != nil {
		return s.pgErr(op, err)
	}
	switch sqlite.ErrCode(err).ToPrimary() {
	case sqlite.ResultReadOnly, sqlite.ResultPerm:
		return s.permErr(op, err)
	case sqlite.ResultCantOpen:
		return s.errf("%s: cannot open the file or create its -wal/-shm files next to it (%w); "+
			"fix the permissions so this user can read and write %s and create files in %s",
			op, err, filepath.Base(s.path), filepath.Dir(s.path))
	case sqlite.ResultInterrupt:
		return s.errf("%s: interrupted (context done): %w", op, err)
	}
	return s.errf("%s: %w", op, err)
}

// pgErr wraps an error from PostgreSQL for op. Its text never holds a
// password (pgx names user, host and database, never the password), but
// a text quoting a connection string is redacted anyway.
func (s *Store) pgErr(op string, err error) error {
	switch pgCode(err) {
	case "25006", "42501": // read_only_sql_transaction, insufficient_privilege
		return s.permErr(op, err)
	}
	if strings.Contains(strings.ToLower(err.Error()), "password=") {
		return s.errf("%s: %s", op, dsnPassword.ReplaceAllString(err.Error(), "${1}xxxxx"))
	}
	return s.errf("%s: %w", op, err)
}

// permErr explains a refused write: either we opened the store read-only,
// or SQLite could not write the file or its directory (for the -wal and
// -shm files next to it).
func (s *Store) permErr(op string, err error) error {
	if s.opts.ReadOnly {
		return s.errf("%s: %w: it was opened with Options.ReadOnly; open it read-write to change it", op, ErrReadOnly)
	}
	if s.pg != nil {
		return s.errf("%s: %w: PostgreSQL refused the write (%w); connect as a role that may write the store's tables "+
			"(and create tables in the schema for the first migration), or fix the grants", op, ErrReadOnly, err)
	}
	return s.errf("%s: %w: the file or its directory is not writable by this process (%w); "+
		"fix the permissions so this user can write %s (and its -wal and -shm files) and create files in %s",
		op, ErrReadOnly, err, filepath.Base(s.path), filepath.Dir(s.path))
}

// isBusy reports whether err means another connection holds a lock, the
// only errors worth retrying a whole transaction for.
func isBusy(err error) bool {
	switch pgCode(err) {
	case "55P03", "40001", "40P01": // lock_not_available, serialization_failure, deadlock_detected
		return true
	}
	switch sqlite.ErrCode(err).ToPrimary() {
	case sqlite.ResultBusy, sqlite.ResultLocked:
		return true
	}
	return errors.Is(err, errLockWait) || connGone(err)
}

// connGone reports whether err is PostgreSQL gone away (a restart, a
// shutdown): worth retrying for a while, unlike a lock held elsewhere,
// not only MaxRetries times.
func connGone(err error) bool {
	return errors.Is(err, errConnLost) || errors.Is(err, errUnreachable)
}

// ctxErr wraps ctx's error for op; call it once ctx is done.
func (s *Store) ctxErr(ctx context.Context, op string) error {
	return s.errf("%s: %w", op, ctx.Err())
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// busyError is the retry loop giving up. Its message is written for people
// (the SQLite text, "database is locked", would only confuse), while
// errors.Is still finds ErrBusy and the SQLite code underneath.
type busyError struct {
	msg   string
	cause error
	gone  bool // PostgreSQL was unreachable, not busy: no ErrBusy
}

func (e *busyError) Error() string { return e.msg }
func (e *busyError) Unwrap() []error {
	if e.gone {
		return []error{e.cause}
	}
	return []error{ErrBusy, e.cause}
}

// Absent reports whether err says the row does not exist: the row is
// missing (ErrNotFound) or the whole store is not there yet (ErrNoStore, a
// store opened with CreateOnWrite before its first write). Resources treat
// both alike; data sources tell them apart.
func Absent(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoStore)
}

// kind is what the store is, for messages: "file" or "database".
func (s *Store) kind() string {
	if s.pg != nil {
		return "database"
	}
	return "file"
}

// locationWord is what the user sets to point at the store.
func (s *Store) locationWord() string {
	if s.pg != nil {
		return "URL"
	}
	return "path"
}
