package syncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// changeFeed is what the engine polls to notice writes by other processes
// (a changed data version) and the store file being deleted or replaced
// under it. *store.Store implements it once the store-open work is merged.
type changeFeed interface {
	DataVersion(ctx context.Context) (int64, error)
	CheckFile() error
}

// Stand-ins for store.ErrFileGone and store.ErrFileReplaced.
var (
	errFileGone     = errors.New("store file is gone")
	errFileReplaced = errors.New("store file was replaced by another file")
)

// newChangeFeed returns the feed of st and what closes it.
//
// STAND-IN until (*store.Store).DataVersion and CheckFile are merged: the
// switch-over is `return st, func() error { return nil }, nil` and
// deleting the rest of this file (errFileGone/errFileReplaced become
// store.ErrFileGone/ErrFileReplaced).
func newChangeFeed(st *store.Store) (changeFeed, func() error, error) {
	fi, err := os.Stat(st.Path())
	if err != nil {
		return nil, nil, fmt.Errorf("syncer: store %s: %w", st.Path(), err)
	}
	// A connection of its own: data_version only moves for commits made
	// by other connections, and the store's pool is "other" to this one.
	c, err := sqlite.OpenConn(st.Path(), sqlite.OpenReadOnly)
	if err != nil {
		return nil, nil, fmt.Errorf("syncer: open %s to watch for changes: %w", st.Path(), err)
	}
	f := &fileFeed{path: st.Path(), opened: fi, conn: c}
	return f, c.Close, nil
}

// fileFeed polls PRAGMA data_version and compares the path's file with
// the one seen at open. Only the engine's watch loop uses it.
type fileFeed struct {
	path   string
	opened os.FileInfo
	conn   *sqlite.Conn
}

func (f *fileFeed) DataVersion(ctx context.Context) (int64, error) {
	f.conn.SetInterrupt(ctx.Done())
	var v int64
	err := sqlitex.ExecuteTransient(f.conn, "PRAGMA data_version", &sqlitex.ExecOptions{
		ResultFunc: func(s *sqlite.Stmt) error { v = s.ColumnInt64(0); return nil },
	})
	if err != nil {
		return 0, fmt.Errorf("syncer: read data_version of %s: %w", f.path, err)
	}
	return v, nil
}

func (f *fileFeed) CheckFile() error {
	fi, err := os.Stat(f.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("syncer: %s: %w (deleted or renamed while open); the store must be reopened", f.path, errFileGone)
	case err != nil:
		return fmt.Errorf("syncer: stat store %s: %w", f.path, err)
	case !os.SameFile(f.opened, fi):
		return fmt.Errorf("syncer: %s: %w; the store must be reopened", f.path, errFileReplaced)
	}
	return nil
}

// changedSince reports whether row was written at or after t (a libvirt
// listing taken at t knows nothing of that write). The same instant counts
// as changed. Unparsable times (zero) count as old, so a sync can still
// retire such a row.
//
// STAND-IN for store.VM.ChangedSince and the guarded writes
// (SoftDeleteVMIfUnchangedSince, InsertVMIfAbsentUnchangedSince) from the
// store-codec work; the callers check it inside the write transaction.
func changedSince(row store.VM, t time.Time) bool {
	after := func(at time.Time) bool { return !at.IsZero() && !at.Before(t) }
	return after(row.CreatedAt) || after(row.UpdatedAt) || (row.DeletedAt != nil && after(*row.DeletedAt))
}
