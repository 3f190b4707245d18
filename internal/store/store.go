// Package store reads and writes Virtumancer's SQLite file: its own tables
// (hosts, virtual_machines), left exactly as GORM created them, and our
// vmsync_* tables, created by append-only migrations.
//
// Open also takes a postgres:// URL: the same tables in PostgreSQL, as
// GORM's postgres driver creates them, behind the same API. The SQL is
// written once (conn.go: txConn and row are what differs per dialect);
// pg.go, pgfeed.go and dialect.go hold PostgreSQL's side, and
// docs/dev/POSTGRES.md explains the mapping, the write lock and the change
// feed. The rest of this comment speaks of the file; on PostgreSQL the
// same holds of the database unless pg.go says otherwise.
//
// Several processes write the file at once (the provider, the sync service,
// Virtumancer), so every write runs in BEGIN IMMEDIATE with a busy timeout
// and a bounded retry of the whole transaction; callers never see
// "database is locked" under normal contention.
//
// Three ways to open a file: the default (create it, mode 0600, and migrate
// it at Open: the sync service), Options.CreateOnWrite (reads never create
// or change anything; the first Write creates and migrates: the provider)
// and Options.ReadOnly. A file that lacks some of our migrations reads as if
// they were applied and recorded nothing yet (see shadow.go).
//
// The store keeps the file it opened: CheckFile tells when the path names
// another file (deleted, replaced) and Reopen opens the path again.
// DataVersion is a cheap change feed for writes by anyone, ForeignDataVersion
// for writes by anyone but this store (whose writes all run on one
// connection).
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
//     ConfigErr. Every such error names the file, row, host and VM; what
//     to do about it is internal/observe's policy (record_unreadable).
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
	"math/rand/v2"
	"sync"
	"time"
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
	// CreateOnWrite defers every change to the file until the first Write:
	// Open neither creates a missing file nor migrates (nor switches the
	// journal to WAL), reads of a missing file fail with ErrNoStore, and
	// the first Write creates the file (mode 0600, Virtumancer's DDL),
	// migrates it and then runs. A plan that only reads thus never leaves
	// a store behind at a mistyped path. Not allowed with ReadOnly.
	CreateOnWrite bool
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
	// path is the file's absolute path, or the PostgreSQL URL redacted.
	path string
	// pg is set for a PostgreSQL store (see pg.go).
	pg   *pgConfig
	opts Options
	// writeSem lets one in-process writer at a time attempt BEGIN IMMEDIATE:
	// our own goroutines queue here instead of spinning in SQLite's busy
	// handler, which leaves the busy timeout for other processes.
	writeSem chan struct{}
	// mu guards h, closed and closeErr. Every transaction holds it shared
	// for its whole run; opening the file, the first write's setup, Reopen
	// and Close hold it exclusively, so the pool never changes under a
	// transaction. Lock order: mu, then writeSem.
	mu sync.RWMutex
	// h is the file as opened; nil while a CreateOnWrite store has no file.
	h        *handle
	closed   bool
	closeErr error
	// records and lives memoize config_json and live_json decoding.
	records, lives parseMemo
}

// Open opens the store at location, a SQLite file's path or a PostgreSQL
// URL (postgres:// or postgresql://); what it creates or changes depends on
// opts (see Options). A file: by default Open creates a missing file (mode
// 0600), switches it to WAL, creates Virtumancer's tables if the file is
// new and applies our pending migrations; the directory must exist. A
// database must exist (Open never creates one); by default Open creates
// the tables in it and migrates them.
func Open(location string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	s := &Store{opts: opts, writeSem: make(chan struct{}, 1)}
	if IsPostgresURL(location) {
		cfg, shown, err := parsePostgres(location, opts)
		if err != nil {
			return nil, err
		}
		s.path, s.pg = shown, cfg
	} else {
		abs, err := checkPath(location)
		if err != nil {
			return nil, err
		}
		s.path = abs
	}
	if opts.ReadOnly && opts.CreateOnWrite {
		return nil, fmt.Errorf("store %s: Options.ReadOnly and Options.CreateOnWrite exclude each other; set one", s.path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.openLocked(context.Background()); err != nil {
		if s.h != nil { // opened but could not be made writable
			_ = s.h.close(s)
		}
		return nil, err
	}
	return s, nil
}

// openLocked does what Open promises for the store's mode; Reopen uses it
// too. s.mu must be held exclusively.
func (s *Store) openLocked(ctx context.Context) error {
	switch {
	case s.opts.CreateOnWrite:
		// Open the file if it is there, so a foreign or incompatible file
		// is refused at Open; a missing one is for the first Write.
		if err := s.loadLocked(ctx); err != nil && !errors.Is(err, ErrNoStore) {
			return err
		}
		return nil
	case s.opts.ReadOnly:
		return s.loadLocked(ctx)
	}
	return s.readyLocked(ctx)
}

// Close closes every connection; it waits for transactions in flight.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.closeErr
	}
	s.closed = true
	if s.h != nil {
		s.closeErr = s.h.close(s)
		s.h = nil
	}
	return s.closeErr
}

// Path is the absolute path of the store file, or the PostgreSQL URL with
// its password redacted: it is for messages, never for connecting.
func (s *Store) Path() string { return s.path }

// IsPostgres reports whether the store is a PostgreSQL database.
func (s *Store) IsPostgres() bool { return s.pg != nil }

// Write runs fn in a BEGIN IMMEDIATE transaction and commits it when fn
// returns nil. On SQLITE_BUSY/LOCKED the whole transaction is rolled back
// and fn is run again (bounded, with backoff), so fn must be re-runnable:
// no side effects outside tx, and results assigned, not appended. fn must
// not call Store methods (use tx). With CreateOnWrite, the first Write
// creates and migrates the file before fn runs.
func (s *Store) Write(ctx context.Context, fn func(tx *Tx) error) error {
	if s.opts.ReadOnly {
		return s.permErr("write", nil)
	}
	h, err := s.acquire(ctx, true)
	if err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.writeOn(ctx, h, fn); err != nil {
		return err
	}
	h.wrote.Store(time.Now().UnixNano())
	return nil
}

// WroteWithin tells whether a write transaction of this process committed
// on the open file within the last d. A caller that only probes whether
// the store takes writes (before it changes a host) may skip the probe
// then: a burst of applies otherwise doubles its write transactions, which
// queue behind each other. A file reopened since starts afresh.
func (s *Store) WroteWithin(d time.Duration) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.h == nil {
		return false
	}
	at := s.h.wrote.Load()
	return at != 0 && time.Since(time.Unix(0, at)) < d
}

// Read runs fn in a read transaction: one consistent snapshot, never
// blocked by a writer in WAL mode. Writes through tx are refused, and fn
// must not call Store methods (use tx). With CreateOnWrite, a missing
// file gives an error wrapping ErrNoStore.
func (s *Store) Read(ctx context.Context, fn func(tx *Tx) error) error {
	h, err := s.acquire(ctx, false)
	if err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return s.readOn(ctx, h, fn)
}

func (s *Store) writeOn(ctx context.Context, h *handle, fn func(*Tx) error) error {
	return s.retry(ctx, "write transaction", func() error { return s.attempt(ctx, h, txWrite, fn) })
}

// readOn runs a read; when the file's schema changed since we last looked
// (someone migrated it), the shadow tables are brought up to date and the
// read runs again before fn ever saw the stale view.
func (s *Store) readOn(ctx context.Context, h *handle, fn func(*Tx) error) error {
	return s.retry(ctx, "read transaction", func() error {
		for range 4 {
			err := s.attempt(ctx, h, txRead, fn)
			if !errors.Is(err, errSchemaChanged) {
				return err
			}
		}
		return s.errf("read transaction: the schema kept changing under the read; retry")
	})
}

// txMode is what a transaction is for.
type txMode int

const (
	txRead   txMode = iota // a caller's read, through the shadow tables if any
	txWrite                // a caller's write or a migration
	txSchema               // our own look at the schema: no shadow, no check
)

// attempt runs fn once in a transaction on a connection of h.
func (s *Store) attempt(ctx context.Context, h *handle, mode txMode, fn func(*Tx) error) (err error) {
	write := mode == txWrite
	if write {
		select {
		case s.writeSem <- struct{}{}:
			defer func() { <-s.writeSem }()
		case <-ctx.Done():
			return s.ctxErr(ctx, "wait for the write lock")
		}
	}
	conn, release, err := s.conn(ctx, h, write)
	if err != nil {
		return err
	}
	defer release()
	var sv shadowView
	if mode != txSchema {
		if sv, err = h.shadow.prepare(s, conn, mode == txRead); err != nil {
			return err
		}
	}
	tx := &Tx{s: s, h: h, conn: conn, write: write}
	if err := tx.begin(ctx); err != nil {
		return err
	}
	defer tx.finish(&err)
	if mode == txRead {
		if err := h.shadow.check(tx, sv); err != nil {
			return err
		}
	}
	return fn(tx)
}

// conn is the connection a transaction runs on: the writer for a write
// (the caller holds writeSem), else a pooled one. release gives it back.
func (s *Store) conn(ctx context.Context, h *handle, write bool) (txConn, func(), error) {
	if h.pg != nil {
		return s.pgConnFor(ctx, h.pg, write)
	}
	if write && h.writer != nil {
		c := h.writer.conn
		c.SetInterrupt(ctx.Done()) // as Pool.Take does
		return &sqliteConn{s: s, c: c}, func() { c.SetInterrupt(nil) }, nil
	}
	c, err := h.pool.Take(ctx)
	if err != nil {
		return nil, nil, s.errf("take a connection: %w", err)
	}
	return &sqliteConn{s: s, c: c}, func() { h.pool.Put(c) }, nil
}

func (s *Store) pgConnFor(ctx context.Context, ph *pgHandle, write bool) (txConn, func(), error) {
	if write && ph.writer != nil {
		c, err := ph.writer.get(ctx)
		if err != nil {
			return nil, nil, err
		}
		return &pgConn{s: s, ctx: ctx, c: c}, func() {}, nil
	}
	pc, err := ph.pool.Acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, s.ctxErr(ctx, "take a connection")
		}
		return nil, nil, s.pgConnErr("take a connection", err)
	}
	return &pgConn{s: s, ctx: ctx, c: pc.Conn()}, pc.Release, nil
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
		// A server restarting takes longer than a lock is held: the
		// connection is retried for BusyTimeout, however many attempts.
		outlast := s.opts.MaxRetries > 0 && connGone(err) && time.Since(start) < s.opts.BusyTimeout
		if n >= s.opts.MaxRetries && !outlast {
			return s.busyErr(op, err, n+1, time.Since(start))
		}
		if sleepCtx(ctx, backoff(n)) != nil {
			return s.ctxErr(ctx, op)
		}
	}
}

func (s *Store) busyErr(op string, err error, attempts int, took time.Duration) error {
	took = took.Round(time.Millisecond)
	if connGone(err) {
		return &busyError{cause: err, gone: true, msg: fmt.Sprintf("store %s: %s: PostgreSQL did not take the transaction through %d attempts "+
			"over %s, the connection failing each time (last: %v); check that the server runs and accepts connections, "+
			"then retry", s.path, op, attempts, took, err)}
	}
	if s.pg != nil {
		return &busyError{cause: err, msg: fmt.Sprintf("store %s: %s: %v: another client held the store's write lock "+
			"(advisory lock %d) through %d attempts over %s; find the session keeping a write transaction open "+
			"(pg_stat_activity, pg_locks), or retry later", s.path, op, ErrBusy, PostgresWriteLockKey, attempts, took)}
	}
	return &busyError{cause: err, msg: fmt.Sprintf("store %s: %s: %v: another connection held a lock on the database "+
		"through %d attempts over %s; find the process keeping a transaction open on this file, or retry later",
		s.path, op, ErrBusy, attempts, took)}
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
