package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

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
// covers a umask that strips owner bits. A PostgreSQL database is never
// created by us.
func (s *Store) ensureFile() error {
	if s.pg != nil {
		return nil
	}
	_, err := os.Stat(s.path)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return s.errf("cannot stat the database file: %w; fix the permissions of %s", err, filepath.Dir(s.path))
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

// CheckFile reports whether the path still names the file the store has
// open. A file deleted or moved away gives an error wrapping ErrFileGone,
// another file at the path one wrapping ErrFileReplaced: in both cases
// every read and write goes to a file nobody else will ever see, so the
// store must be reopened (Reopen) or the process stopped. It costs one
// stat. A CreateOnWrite store with no file open yet has nothing to lose:
// nil.
func (s *Store) CheckFile() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case s.closed:
		return s.errf("%w; open it again", errClosed)
	case s.h == nil, s.pg != nil: // a database has no file to lose
		return nil
	}
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s.errf("%w: the file this store opened was deleted or moved away, and writes since went to the unlinked file; "+
			"the store must be reopened (restart the process) to use the path again", ErrFileGone)
	case err != nil:
		return s.errf("check the database file: %w; fix the permissions of %s", err, filepath.Dir(s.path))
	case !os.SameFile(s.h.file, fi):
		return s.errf("%w: another file was put at this path after the store opened it, and reads and writes since went to the old one; "+
			"the store must be reopened (restart the process) to use the new file", ErrFileReplaced)
	}
	return nil
}

// Reopen closes the store's connections (waiting for transactions in
// flight) and opens the path again with the same options, as Open would:
// by default a deleted file is created anew and a replacing one migrated.
// Use it after CheckFile reports ErrFileGone or ErrFileReplaced. If the
// old file's WAL cannot be emptied first (see emptyWAL), Reopen fails and
// the store keeps the old file. If opening the path fails, the store has
// no file open; later calls try to open it again as CreateOnWrite reads
// do, or fail.
func (s *Store) Reopen(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.errf("reopen: %w", errClosed)
	}
	var closeErr error
	if s.h != nil {
		if err := s.emptyWAL(ctx, s.h); err != nil {
			return err
		}
		closeErr = s.h.close(s)
		s.h = nil
	}
	if err := s.openLocked(ctx); err != nil {
		return errors.Join(err, closeErr)
	}
	return closeErr
}

// emptyWAL copies every frame of the -wal file into the file h opened and
// truncates the -wal to zero bytes. SQLite does not checkpoint a file that
// was deleted or replaced when it closes it, so it would leave our frames
// in the -wal next to the path, and the next open of the path (ours or
// anyone's) would read them as if they belonged to the new file. A
// read-only store cannot write them and leaves them.
func (s *Store) emptyWAL(ctx context.Context, h *handle) error {
	if s.opts.ReadOnly || h.pg != nil {
		return nil
	}
	return s.retry(ctx, "checkpoint the WAL before reopening", func() error {
		// On the writer: it has the WAL open already, which a connection
		// that never read the file could no longer do once it is deleted.
		// s.mu is held exclusively, so no transaction is using it.
		tc, release, err := s.conn(ctx, h, true)
		if err != nil {
			return s.errf("checkpoint the WAL before reopening: %w", err)
		}
		defer release()
		conn := tc.(*sqliteConn).c
		// The first TRUNCATE after writes copies the frames but often
		// reports busy, and the next one truncates at once: wait briefly
		// and let the retry loop ask again.
		conn.SetBusyTimeout(50 * time.Millisecond)
		defer conn.SetBusyTimeout(s.opts.BusyTimeout)
		busy := false
		err = sqlitex.ExecuteTransient(conn, "PRAGMA wal_checkpoint(TRUNCATE)", &sqlitex.ExecOptions{
			ResultFunc: func(r *sqlite.Stmt) error { busy = r.ColumnInt(0) != 0; return nil },
		})
		if err == nil && busy {
			err = fmt.Errorf("%w: another connection is still reading the old file's WAL", errLockWait)
		}
		return s.sqlErr("checkpoint the WAL before reopening", err)
	})
}

// ForeignDataVersion is DataVersion without this store's own writes: it
// moves exactly when a connection other than the one this store writes
// through has committed: another Store, another process, a person with
// sqlite3. A watcher of other writers thus never wakes for its own
// commits. It waits for a write in flight to finish (writes share that
// connection). A read-only store, which never writes, gives DataVersion.
func (s *Store) ForeignDataVersion(ctx context.Context) (int64, error) {
	return s.version(ctx, func(h *handle) (int64, error) {
		if h.pg != nil {
			return h.pg.feed.foreign.Load(), nil
		}
		if h.writer == nil {
			return h.dv.read(s)
		}
		select {
		case s.writeSem <- struct{}{}:
			defer func() { <-s.writeSem }()
		case <-ctx.Done():
			return 0, s.ctxErr(ctx, "wait for the write connection")
		}
		return h.writer.dataVersion(s)
	})
}

// DataVersion is a change counter for the file: it differs from the value
// it returned before exactly when some connection other than its own has
// committed a change since, whoever made it: this store's own writes (they
// go through its write connection, another connection), another Store,
// another process, a person with sqlite3. Reads change nothing. It asks
// one connection kept for the purpose (PRAGMA data_version is per
// connection), so a call costs a few microseconds and can be made every
// 100 ms. Compare values only for equality: they are not ordered across
// processes and start over after Reopen, which callers should treat as a
// change in itself.
func (s *Store) DataVersion(ctx context.Context) (int64, error) {
	return s.version(ctx, func(h *handle) (int64, error) { return h.dataVersion(s) })
}

// HostsDataVersion moves when the hosts table may have changed: on
// PostgreSQL, whenever a statement changed it (or the change feed
// reconnected); on SQLite, whenever anything changed (DataVersion). Compare
// values for equality only.
func (s *Store) HostsDataVersion(ctx context.Context) (int64, error) {
	return s.version(ctx, func(h *handle) (int64, error) {
		if h.pg != nil {
			return h.pg.feed.hosts.Load(), nil
		}
		return h.dv.read(s)
	})
}

// dataVersion is DataVersion on h.
func (h *handle) dataVersion(s *Store) (int64, error) {
	if h.pg != nil {
		return h.pg.feed.all.Load(), nil
	}
	return h.dv.read(s)
}

// version reads a data version with fn on the open handle.
func (s *Store) version(ctx context.Context, fn func(*handle) (int64, error)) (int64, error) {
	if ctx.Err() != nil {
		return 0, s.ctxErr(ctx, "read data version")
	}
	h, err := s.acquire(ctx, false)
	if err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	return fn(h)
}

// writerPID is the backend pid of a PostgreSQL store's write connection,
// 0 when it has none (SQLite, read-only, not connected yet).
func (s *Store) writerPID() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.h == nil || s.h.pg == nil || s.h.pg.writer == nil {
		return 0
	}
	return int64(s.h.pg.writer.pid.Load())
}
