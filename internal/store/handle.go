package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// handle is one opening of the store: its connections, the identity of the
// file they opened and what we know of its schema. Reopen replaces it whole.
// On PostgreSQL, pg holds the connections and the SQLite fields are unset.
type handle struct {
	pg   *pgHandle
	pool *sqlitex.Pool
	// file is the stat of the file the pool opened (device and inode). The
	// pool opens every connection up front and keeps them, so the inode
	// stays allocated and cannot be reused by another file while h lives.
	file os.FileInfo
	// ready: WAL on and schema complete, so writes may run. Set only under
	// Store.mu held exclusively.
	ready  bool
	shadow shadowState
	dv     dataVersion
	// writer is the one connection every write runs on (nil for a
	// read-only store): writes are one at a time anyway (Store.writeSem),
	// and a connection's own commits never move its data_version, so the
	// writer's tells commits by anyone else apart (ForeignDataVersion).
	writer *writerConn
	// wrote is when a write transaction last committed on this file
	// (UnixNano; 0 before the first), for Store.WroteWithin.
	wrote atomic.Int64
}

// openHandle opens the pool and the data_version connection on the file at
// s.path, checking that both opened the file it stat'ed: a file swapped in
// between would otherwise go unnoticed for good.
func (s *Store) openHandle() (*handle, error) {
	for try := 0; try < 3; try++ {
		before, err := s.statFile()
		if err != nil {
			return nil, err
		}
		h, err := s.dialHandle()
		if err != nil {
			return nil, err
		}
		after, err := os.Stat(s.path)
		if err == nil && os.SameFile(before, after) {
			h.file = before
			return h, nil
		}
		_ = h.close(s)
	}
	return nil, s.errf("the file at this path was replaced three times while being opened; stop whatever rewrites it and retry")
}

func (s *Store) dialHandle() (*handle, error) {
	pool, err := sqlitex.NewPool(s.path, sqlitex.PoolOptions{
		Flags:       s.openFlags(),
		PoolSize:    s.opts.PoolSize,
		PrepareConn: s.prepareConn,
	})
	if err != nil {
		return nil, s.sqlErr("open", err)
	}
	h := &handle{pool: pool}
	if err := h.dv.open(s); err != nil {
		pool.Close()
		return nil, err
	}
	if !s.opts.ReadOnly {
		if h.writer, err = openWriter(s); err != nil {
			_ = h.dv.close()
			pool.Close()
			return nil, err
		}
	}
	return h, nil
}

// openAny opens the store's connections, of either dialect.
func (s *Store) openAny(ctx context.Context) (*handle, error) {
	if s.pg != nil {
		return s.openPG(ctx)
	}
	return s.openHandle()
}

// statFile stats the store file; a missing file is ErrNoStore, explained
// for the mode the store was opened in.
func (s *Store) statFile() (os.FileInfo, error) {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && s.opts.ReadOnly:
		return nil, s.errf("%w: database file does not exist (%w); a read-only store cannot create it: open it read-write once or fix the path",
			ErrNoStore, err)
	case errors.Is(err, fs.ErrNotExist):
		return nil, s.errf("%w: the file does not exist (%w); the first apply of a virtumancer_host creates it (or check the database path)",
			ErrNoStore, fs.ErrNotExist)
	case err != nil:
		return nil, s.errf("cannot stat the database file: %w; fix the permissions of its directory", err)
	}
	return fi, nil
}

// close closes h's connections; nothing may be using them (Store.mu is
// held exclusively).
func (h *handle) close(s *Store) error {
	if h.pg != nil {
		h.pg.close()
		return nil
	}
	dvErr := errors.Join(h.dv.close(), h.writer.close())
	if err := h.pool.Close(); err != nil {
		return s.sqlErr("close", err)
	}
	if dvErr != nil {
		return s.sqlErr("close", dvErr)
	}
	return nil
}

// loadLocked opens the file if it is not open yet, without creating or
// changing it, and learns its schema. s.mu must be held exclusively.
func (s *Store) loadLocked(ctx context.Context) error {
	if s.h != nil {
		return nil
	}
	h, err := s.openAny(ctx)
	if err != nil {
		return err
	}
	st, err := s.schemaOn(ctx, h)
	if err == nil && s.opts.ReadOnly {
		err = s.readOnlySchema(st)
	}
	if err != nil {
		_ = h.close(s)
		return err
	}
	h.shadow.init(st)
	s.h = h
	return nil
}

// readyLocked makes the file writable: created if missing (mode 0600),
// opened, switched to WAL and migrated. s.mu must be held exclusively.
func (s *Store) readyLocked(ctx context.Context) error {
	if s.h != nil && s.h.ready {
		return nil
	}
	if s.h == nil {
		if err := s.ensureFile(); err != nil {
			return err
		}
		if err := s.loadLocked(ctx); err != nil {
			return err
		}
	}
	h := s.h
	if err := s.enableWAL(ctx, h); err != nil {
		return err
	}
	if err := s.migrate(ctx, h); err != nil {
		return err
	}
	h.shadow.complete()
	h.ready = true
	return nil
}

// acquire returns the handle for a transaction with s.mu held shared (the
// caller releases it), opening the file first if needed: for a write, as
// far as readyLocked goes; for a read, only if it exists.
func (s *Store) acquire(ctx context.Context, write bool) (*handle, error) {
	for {
		s.mu.RLock()
		if h := s.h; h != nil && (h.ready || !write) {
			return h, nil
		}
		closed := s.closed
		s.mu.RUnlock()
		if closed {
			return nil, s.errf("%w; open it again", errClosed)
		}
		if err := s.prepare(ctx, write); err != nil {
			return nil, err
		}
	}
}

func (s *Store) prepare(ctx context.Context, write bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil // acquire reports it
	case write:
		return s.readyLocked(ctx)
	}
	return s.loadLocked(ctx)
}

// openFlags omits OpenCreate (ensureFile did that, with the right mode) and
// OpenWAL (zombiezen's WAL switch uses its own fixed timeout and no retry;
// enableWAL does it inside our retry loop instead).
func (s *Store) openFlags() sqlite.OpenFlags {
	if s.opts.ReadOnly {
		return sqlite.OpenReadOnly
	}
	return sqlite.OpenReadWrite
}

// prepareConn replaces zombiezen's default busy handler (block until the
// context is done, i.e. possibly forever) with a bounded busy timeout, so a
// stuck lock turns into SQLITE_BUSY for the retry loop.
//
// Commits use synchronous=NORMAL, SQLite's advice for WAL: the file stays
// consistent through any crash, a killed process loses nothing, and only
// the last commits before a power loss or kernel crash may roll back (the
// WAL is synced at checkpoints, not at every commit). Such a lost row
// reads as "VM not recorded" and the next apply records it again (see
// internal/observe). With FULL, each commit's fsync left the one writer
// waiting for the scheduler on a busy machine: 6-7 ms per transaction in
// an apply of hundreds of VMs, all queued behind it (1 ms with NORMAL).
// The setting is per connection: other writers of the file keep theirs.
// It is best effort: the pragma reads the schema, so on a file that cannot
// be opened it fails first, and the operation itself then reports why
// (with the permission advice) instead; a connection it missed is only
// slower.
func (s *Store) prepareConn(conn *sqlite.Conn) error {
	conn.SetBusyTimeout(s.opts.BusyTimeout)
	_ = sqlitex.ExecuteTransient(conn, "PRAGMA synchronous = NORMAL", nil)
	// Virtumancer declares no foreign keys; make sure none are enforced.
	return sqlitex.ExecuteTransient(conn, "PRAGMA foreign_keys = OFF", nil)
}

// enableWAL switches the file to WAL so readers never block the writer.
// The mode is stored in the file, so later opens by anyone keep it. A file
// we may not write keeps its mode: reads still work and writes report the
// permission problem.
func (s *Store) enableWAL(ctx context.Context, h *handle) error {
	if h.pg != nil {
		return nil
	}
	return s.retry(ctx, "enable WAL journal", func() error {
		conn, err := h.pool.Take(ctx)
		if err != nil {
			return s.errf("enable WAL journal: %w", err)
		}
		defer h.pool.Put(conn)
		err = sqlitex.ExecuteTransient(conn, "PRAGMA journal_mode = wal", nil)
		if sqlite.ErrCode(err).ToPrimary() == sqlite.ResultReadOnly {
			return nil
		}
		return s.sqlErr("enable WAL journal", err)
	})
}

// schemaOn reads the file's schema state on h, outside any shadow.
func (s *Store) schemaOn(ctx context.Context, h *handle) (schemaState, error) {
	var st schemaState
	err := s.retry(ctx, "read schema", func() error {
		return s.attempt(ctx, h, txSchema, func(tx *Tx) error {
			var err error
			st, err = tx.schemaState()
			return err
		})
	})
	return st, err
}

// dataVersion is the connection DataVersion asks. It never writes, so its
// data_version moves exactly when another connection commits.
type dataVersion struct {
	mu   sync.Mutex
	conn *sqlite.Conn
	stmt *sqlite.Stmt
}

func (d *dataVersion) open(s *Store) error {
	conn, err := sqlite.OpenConn(s.path, s.openFlags())
	if err != nil {
		return s.sqlErr("open the data_version connection", err)
	}
	conn.SetBusyTimeout(s.opts.BusyTimeout)
	stmt, err := conn.Prepare("PRAGMA data_version")
	if err != nil {
		conn.Close()
		return s.sqlErr("prepare PRAGMA data_version", err)
	}
	d.conn, d.stmt = conn, stmt
	return nil
}

func (d *dataVersion) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn, d.stmt = nil, nil
	return err
}

func (d *dataVersion) read(s *Store) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return 0, s.errf("read data version: %w; open it again", errClosed)
	}
	return stepVersion(s, d.stmt, "read data version")
}

// stepVersion runs a prepared PRAGMA data_version.
func stepVersion(s *Store, stmt *sqlite.Stmt, op string) (int64, error) {
	_, err := stmt.Step()
	v := stmt.ColumnInt64(0)
	if rerr := stmt.Reset(); err == nil {
		err = rerr
	}
	if err != nil {
		return 0, s.sqlErr(op, err)
	}
	return v, nil
}

// writerConn is the handle's write connection. Only the holder of
// Store.writeSem may use it.
type writerConn struct {
	conn *sqlite.Conn
	dv   *sqlite.Stmt // PRAGMA data_version on conn
}

func openWriter(s *Store) (*writerConn, error) {
	conn, err := sqlite.OpenConn(s.path, s.openFlags())
	if err != nil {
		return nil, s.sqlErr("open the write connection", err)
	}
	if err := s.prepareConn(conn); err != nil {
		conn.Close()
		return nil, s.sqlErr("prepare the write connection", err)
	}
	stmt, err := conn.Prepare("PRAGMA data_version")
	if err != nil {
		conn.Close()
		return nil, s.sqlErr("prepare PRAGMA data_version", err)
	}
	return &writerConn{conn: conn, dv: stmt}, nil
}

func (w *writerConn) close() error {
	if w == nil {
		return nil
	}
	return w.conn.Close()
}

// dataVersion moves exactly when a connection other than w committed.
func (w *writerConn) dataVersion(s *Store) (int64, error) {
	return stepVersion(s, w.dv, "read foreign data version")
}
