// Package store reads and writes Virtumancer's SQLite file: its own tables
// (hosts, virtual_machines), left exactly as GORM created them, and our
// vmsync_* tables, created by append-only migrations.
//
// Several processes write the file at once (the provider, the sync service,
// Virtumancer), so every write runs in BEGIN IMMEDIATE with a busy timeout
// and a bounded retry of the whole transaction; callers never see
// "database is locked" under normal contention.
//
// # The recorded configuration
//
// config_json is read and written only through vminfo's codec (Parse and
// Marshal): an empty, null or corrupt value is an error, never a zero VMInfo.
// Virtumancer rewrites config_json with the live domain whenever its UI lists
// VMs, so what we last deliberately applied or adopted (provider create,
// update, import; sync discovery and revive) is also kept in our own
// vmsync_recorded row, keyed by the virtual_machines row id and written in
// the same transaction. Reading a VM:
//
//   - Config/ConfigErr are config_json parsed; ConfigErr reports a corrupt
//     config_json whatever else we hold.
//   - Recorded comes from our row when one exists for that id with the same
//     host_id and name (RecordedFrom "vmsync_recorded"); otherwise from
//     config_json (RecordedFrom "config_json": a row we never recorded).
//   - RecordErr is what makes Recorded unreadable: with our row, its own
//     parse error only (a readable config_json does not stand in for it,
//     since that may be Virtumancer's live cache); without our row, it is
//     ConfigErr. Every such error names the row and ends with the remedy:
//     the next apply of this VM records its configuration again.
//
// Soft delete keeps our row and a revive overwrites it. A virtual_machines
// row hard-deleted by someone else leaves our row orphaned; ids are never
// reused (AUTOINCREMENT), so it is never joined, and our next write for that
// host and name removes it.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// Options tune Open. The zero value gives the defaults.
type Options struct {
	// PoolSize is the number of connections (default 4).
	PoolSize int
	// BusyTimeout is how long one statement waits for another connection's
	// lock before giving up to the retry loop (default 5s).
	BusyTimeout time.Duration
	// MaxRetries bounds how often a whole transaction is retried after
	// SQLITE_BUSY/SQLITE_LOCKED, with exponential backoff and jitter
	// (default 8; negative means no retry).
	MaxRetries int
	// ReadOnly opens the file with SQLITE_OPEN_READONLY: reads work, every
	// write fails with ErrReadOnly, nothing is created or migrated.
	ReadOnly bool
}

func (o Options) withDefaults() Options {
	if o.PoolSize <= 0 {
		o.PoolSize = 4
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = 8
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	return o
}

// Store is an open store file. It is safe for concurrent use.
type Store struct {
	path string
	opts Options
	pool *sqlitex.Pool
	// writeSem lets one in-process writer at a time attempt BEGIN IMMEDIATE:
	// our own goroutines queue here instead of spinning in SQLite's busy
	// handler, which leaves the busy timeout for other processes.
	writeSem  chan struct{}
	closeOnce sync.Once
	closeErr  error
	// noStatus is set when a read-only store predates our migrations: the
	// status tables do not exist yet, so status reads return nothing.
	noStatus bool
	// noRecorded: the same for vmsync_recorded (VMs read config_json only).
	noRecorded bool
}

// Open opens (or creates, mode 0600) the store at path, switches it to WAL,
// creates Virtumancer's tables if the file is new and applies our pending
// migrations. The directory must exist.
func Open(path string, opts Options) (*Store, error) {
	abs, err := checkPath(path)
	if err != nil {
		return nil, err
	}
	s := &Store{path: abs, opts: opts.withDefaults(), writeSem: make(chan struct{}, 1)}
	if err := s.ensureFile(); err != nil {
		return nil, err
	}
	pool, err := sqlitex.NewPool(abs, sqlitex.PoolOptions{
		Flags:       s.openFlags(),
		PoolSize:    s.opts.PoolSize,
		PrepareConn: s.prepareConn,
	})
	if err != nil {
		return nil, s.sqlErr("open", err)
	}
	s.pool = pool
	if err := s.setup(context.Background()); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// checkPath resolves path and fails early, with advice, on what SQLite would
// only report as "unable to open database file".
func checkPath(path string) (string, error) {
	if path == "" {
		return "", errors.New("store: database path is empty; set the path of virtumancer.db")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("store %s: %w", path, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return "", fmt.Errorf("store %s: is a directory; set the database path to a file such as %s",
			abs, filepath.Join(abs, "virtumancer.db"))
	}
	dir := filepath.Dir(abs)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("store %s: directory %s does not exist; create it (mkdir -p %s) or point the database path at an existing directory",
			abs, dir, dir)
	case err != nil:
		return "", fmt.Errorf("store %s: cannot reach directory %s: %w; fix its permissions", abs, dir, err)
	case !fi.IsDir():
		return "", fmt.Errorf("store %s: %s is not a directory; fix the database path", abs, dir)
	}
	return abs, nil
}

// ensureFile creates a missing store file ourselves so it gets mode 0600
// whatever the umask (SQLite would create it 0644). The chmod after create
// covers a umask that strips owner bits.
func (s *Store) ensureFile() error {
	_, err := os.Stat(s.path)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return s.errf("cannot stat the database file: %w; fix the permissions of %s", err, filepath.Dir(s.path))
	}
	if s.opts.ReadOnly {
		return s.errf("database file does not exist (%w); a read-only store cannot create it: open it read-write once or fix the path", fs.ErrNotExist)
	}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil // another process created it between our Stat and here
	}
	if err != nil {
		return s.errf("cannot create the database file: %w; make %s writable by this user or create the file first",
			err, filepath.Dir(s.path))
	}
	if err := f.Close(); err != nil {
		return s.errf("create the database file: %w", err)
	}
	if err := os.Chmod(s.path, 0o600); err != nil {
		return s.errf("set mode 0600 on the new database file: %w", err)
	}
	return nil
}

// openFlags omits OpenCreate (ensureFile did that, with the right mode) and
// OpenWAL (zombiezen's WAL switch uses its own fixed timeout and no retry;
// setup does it inside our retry loop instead).
func (s *Store) openFlags() sqlite.OpenFlags {
	if s.opts.ReadOnly {
		return sqlite.OpenReadOnly
	}
	return sqlite.OpenReadWrite
}

// prepareConn replaces zombiezen's default busy handler (block until the
// context is done, i.e. possibly forever) with a bounded busy timeout, so a
// stuck lock turns into SQLITE_BUSY for the retry loop.
func (s *Store) prepareConn(conn *sqlite.Conn) error {
	conn.SetBusyTimeout(s.opts.BusyTimeout)
	// Virtumancer declares no foreign keys; make sure none are enforced.
	return sqlitex.ExecuteTransient(conn, "PRAGMA foreign_keys = OFF", nil)
}

func (s *Store) setup(ctx context.Context) error {
	if !s.opts.ReadOnly {
		if err := s.enableWAL(ctx); err != nil {
			return err
		}
	}
	return s.migrate(ctx)
}

// enableWAL switches the file to WAL so readers never block the writer.
// The mode is stored in the file, so later opens by anyone keep it. A file
// we may not write keeps its mode: reads still work and writes report the
// permission problem.
func (s *Store) enableWAL(ctx context.Context) error {
	return s.retry(ctx, "enable WAL journal", func() error {
		conn, err := s.pool.Take(ctx)
		if err != nil {
			return s.errf("enable WAL journal: %w", err)
		}
		defer s.pool.Put(conn)
		err = sqlitex.ExecuteTransient(conn, "PRAGMA journal_mode = wal", nil)
		if sqlite.ErrCode(err).ToPrimary() == sqlite.ResultReadOnly {
			return nil
		}
		return s.sqlErr("enable WAL journal", err)
	})
}

// Close closes every connection; it waits for transactions in flight.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.pool.Close(); err != nil {
			s.closeErr = s.sqlErr("close", err)
		}
	})
	return s.closeErr
}

// Path is the absolute path of the store file.
func (s *Store) Path() string { return s.path }

// Write runs fn in a BEGIN IMMEDIATE transaction and commits it when fn
// returns nil. On SQLITE_BUSY/LOCKED the whole transaction is rolled back
// and fn is run again (bounded, with backoff), so fn must be re-runnable:
// no side effects outside tx, and results assigned, not appended. fn must
// not call Store methods (use tx).
func (s *Store) Write(ctx context.Context, fn func(tx *Tx) error) error {
	if s.opts.ReadOnly {
		return s.permErr("write", nil)
	}
	return s.retry(ctx, "write transaction", func() error { return s.attempt(ctx, true, fn) })
}

// Read runs fn in a read transaction: one consistent snapshot, never
// blocked by a writer in WAL mode. Writes through tx are refused.
func (s *Store) Read(ctx context.Context, fn func(tx *Tx) error) error {
	return s.retry(ctx, "read transaction", func() error { return s.attempt(ctx, false, fn) })
}

// attempt runs fn once in a transaction on a pooled connection.
func (s *Store) attempt(ctx context.Context, write bool, fn func(*Tx) error) (err error) {
	if write {
		select {
		case s.writeSem <- struct{}{}:
			defer func() { <-s.writeSem }()
		case <-ctx.Done():
			return s.ctxErr(ctx, "wait for the write lock")
		}
	}
	conn, err := s.pool.Take(ctx)
	if err != nil {
		return s.errf("take a connection: %w", err)
	}
	defer s.pool.Put(conn)
	tx := &Tx{s: s, conn: conn, write: write}
	if err := tx.begin(ctx); err != nil {
		return err
	}
	defer tx.finish(&err)
	return fn(tx)
}

// retry runs attempt until it succeeds, fails for a reason other than a
// lock held elsewhere, ctx ends, or MaxRetries is spent.
func (s *Store) retry(ctx context.Context, op string, attempt func() error) error {
	start := time.Now()
	for n := 0; ; n++ {
		err := attempt()
		if err == nil || !isBusy(err) {
			return err
		}
		if ctx.Err() != nil {
			return s.errf("%s: %w while waiting for a lock held by another connection", op, ctx.Err())
		}
		if n >= s.opts.MaxRetries {
			return &busyError{cause: err, msg: fmt.Sprintf("store %s: %s: %v: another connection held a lock on the database "+
				"through %d attempts over %s; find the process keeping a transaction open on this file, or retry later",
				s.path, op, ErrBusy, n+1, time.Since(start).Round(time.Millisecond))}
		}
		if sleepCtx(ctx, backoff(n)) != nil {
			return s.ctxErr(ctx, op)
		}
	}
}

// backoff doubles from 10ms up to 1s; the jitter (50-100%) stops writers
// that collided from colliding again in lockstep.
func backoff(n int) time.Duration {
	d := 10 * time.Millisecond << min(n, 7)
	d = min(d, time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
