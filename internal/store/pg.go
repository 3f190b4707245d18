package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresWriteLockKey is the advisory lock every write transaction on
// PostgreSQL takes first (pg_advisory_xact_lock): writers of all clients
// run one at a time, as SQLite's BEGIN IMMEDIATE makes them. It spells
// "virtuman" in ASCII.
const PostgresWriteLockKey int64 = 0x76697274756d616e

// pgConnectTimeout bounds a connection attempt when the URL sets none.
const pgConnectTimeout = 10 * time.Second

// IsPostgresURL reports whether location names a PostgreSQL database
// (postgres:// or postgresql://) rather than a SQLite file.
func IsPostgresURL(location string) bool {
	l := strings.ToLower(strings.TrimSpace(location))
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)

// RedactURL hides the password of a postgres:// URL (user:xxxxx@, also a
// ?password= parameter) and of any password=... in a text, such as a pgx
// error quoting its connection string.
func RedactURL(u string) string {
	if pu, err := url.Parse(u); err == nil && pu.Scheme != "" {
		q := pu.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			pu.RawQuery = q.Encode()
		}
		return pu.Redacted()
	}
	return dsnPassword.ReplaceAllString(u, "${1}xxxxx")
}

// pgConfig is a parsed PostgreSQL location. Credentials may come from the
// URL, PGPASSWORD, a password file or a service file: pgx's ParseConfig
// reads them all, and none of them is ever shown (Store.Path is redacted).
type pgConfig struct {
	pool *pgxpool.Config
}

func parsePostgres(location string, opts Options) (*pgConfig, string, error) {
	shown := RedactURL(location)
	cfg, err := pgxpool.ParseConfig(location)
	if err != nil {
		return nil, shown, fmt.Errorf("store %s: not a PostgreSQL URL pgx can read: %s; fix the database URL",
			shown, dsnPassword.ReplaceAllString(err.Error(), "${1}xxxxx"))
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = pgConnectTimeout
	}
	// A cancelled context cancels the statement and keeps the connection
	// (pgx's default closes it): the writer connection lives on.
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 2 * time.Second}
	}
	// A client stopped or hung inside a transaction (SIGSTOP, a debugger)
	// would hold the store's write lock for everyone; the server ends its
	// session after a minute, which no healthy transaction comes near.
	if _, ok := cc.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cc.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "virtumancer-store"
	}
	if opts.ReadOnly {
		cc.RuntimeParams["default_transaction_read_only"] = "on"
	}
	cfg.MaxConns = int32(opts.PoolSize)
	return &pgConfig{pool: cfg}, shown, nil
}

// pgHandle is one opening of a PostgreSQL store: a pool for reads, the one
// writer connection and the change feed's listener.
type pgHandle struct {
	pool   *pgxpool.Pool
	writer *pgWriter // nil for a read-only store
	feed   *pgFeed
}

func (s *Store) openPG(ctx context.Context) (*handle, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*pgConnectTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, s.pg.pool)
	if err != nil {
		return nil, s.pgConnErr("open", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, s.pgConnErr("connect", err)
	}
	ph := &pgHandle{pool: pool}
	if ph.feed, err = openFeed(ctx, s); err != nil {
		pool.Close()
		return nil, err
	}
	if !s.opts.ReadOnly {
		ph.writer = &pgWriter{s: s, feed: ph.feed}
		if _, err := ph.writer.get(ctx); err != nil {
			ph.close()
			return nil, err
		}
	}
	return &handle{pg: ph}, nil
}

func (ph *pgHandle) close() {
	ph.feed.close()
	ph.writer.close()
	ph.pool.Close()
}

// pgConnErr explains a failed connection; the store never creates the
// database itself, so a missing one says how to.
func (s *Store) pgConnErr(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "3D000" {
		return s.errf("%s: the database does not exist (%s); create it (createdb, or CREATE DATABASE as its owner): "+
			"the store creates its tables, never the database", op, pe.Message)
	}
	text := dsnPassword.ReplaceAllString(err.Error(), "${1}xxxxx")
	if serverGone(err) {
		return s.errf("%s: %w: %s; check the URL, that the server runs and accepts this user", op, errUnreachable, text)
	}
	return s.errf("%s: cannot reach PostgreSQL: %s; check the URL, that the server runs and accepts this user", op, text)
}

// serverGone reports whether a failed connection attempt is what a
// restarting or stopped server gives (refused, reset, "the database system
// is starting up" or "shutting down"), not a wrong URL, user or password.
func serverGone(err error) bool {
	switch pgCode(err) {
	case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// pgWriter is the connection every write runs on, redialled when it broke
// (a restarted server, a cancel that could not be delivered). Only the
// holder of Store.writeSem may use it.
type pgWriter struct {
	s    *Store
	feed *pgFeed
	conn *pgx.Conn
	// pid is conn's backend pid (0: none yet), readable without writeSem:
	// a replica's heartbeat publishes it (claims.go).
	pid atomic.Uint32
}

func (w *pgWriter) get(ctx context.Context) (*pgx.Conn, error) {
	if w.conn != nil && !w.conn.IsClosed() {
		return w.conn, nil
	}
	conn, err := pgx.ConnectConfig(ctx, w.s.pg.pool.ConnConfig.Copy())
	if err != nil {
		return nil, w.s.pgConnErr("open the write connection", err)
	}
	// Before any write: the feed must know our notifications as ours. The
	// dead connection's PID is forgotten: after a restart a foreign
	// session may get it, and its changes must not pass as ours.
	if w.conn != nil {
		w.feed.dropOwn(w.conn.PgConn().PID())
	}
	w.feed.addOwn(conn.PgConn().PID())
	w.conn = conn
	w.pid.Store(conn.PgConn().PID())
	return conn, nil
}

func (w *pgWriter) close() {
	if w == nil || w.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = w.conn.Close(ctx)
	w.conn = nil
}

// pgConn runs one transaction on a pgx connection.
//
// Statements whose rows nobody reads (exec) are not sent at once: they are
// queued and go out in one round trip with the next statement that needs
// an answer (insertID, query, changes, commit). A first sync inserts
// thousands of rows at four statements each, and a round trip per
// statement made it 1.6x slower than on SQLite. The cost: a queued
// statement's error surfaces at that next call, whose operation the error
// is then reported under; the transaction fails either way.
type pgConn struct {
	s      *Store
	ctx    context.Context
	c      *pgx.Conn
	queued *pgx.Batch // execs not sent yet
	// ids reserved for inserts into idTable, taken idBlock at a time.
	ids     []int64
	idTable string
	idBlock int
}

// maxQueued bounds the statements held back, so one batch stays small.
const maxQueued = 256

// begin: a read is one snapshot (REPEATABLE READ READ ONLY). A write
// takes the store's advisory lock first, waiting at most BusyTimeout
// (lock_timeout), so writers of every client run one at a time, as
// SQLite's BEGIN IMMEDIATE makes them; it reads in READ COMMITTED, whose
// statements see every write committed before the lock was granted (a
// snapshot taken before the wait would not).
func (pc *pgConn) begin(ctx context.Context, write bool) error {
	if pc.c.PgConn().TxStatus() != 'I' {
		pc.rollback()
	}
	if !write {
		return pc.lost(pc.simple(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
	}
	err := pc.simple(ctx, fmt.Sprintf("BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = %d; SELECT pg_advisory_xact_lock(%d)",
		max(pc.s.opts.BusyTimeout.Milliseconds(), 1), PostgresWriteLockKey))
	if err == nil {
		return nil
	}
	pc.rollback()
	if pgCode(err) == "55P03" && ctx.Err() == nil {
		return pc.s.errf("begin write transaction: %w: another client held the store's write lock for %s (%w)",
			errLockWait, pc.s.opts.BusyTimeout, err)
	}
	return pc.lost(err)
}

// lost marks a BEGIN or a statement that failed because the connection
// broke (a server restart, a terminated session): nothing of the
// transaction was committed, so the retry loop runs it again on a new
// connection (the writer redials, the pool drops the dead one). A COMMIT
// that fails so is not marked: whether it committed is unknown.
func (pc *pgConn) lost(err error) error {
	if err == nil || pc.ctx.Err() != nil || !pc.c.IsClosed() || errors.Is(err, errConnLost) {
		return err
	}
	return fmt.Errorf("%w: %w", errConnLost, err)
}

// simple runs statements in one round trip (simple protocol, no arguments).
func (pc *pgConn) simple(ctx context.Context, sql string) error {
	res, err := pc.c.PgConn().Exec(ctx, sql).ReadAll()
	if err == nil {
		for _, r := range res {
			if r.Err != nil {
				err = r.Err
				break
			}
		}
	}
	return pc.wrap(ctx, err)
}

// commit fails when PostgreSQL rolled back instead: a statement of the
// transaction failed, even if fn went on and returned nil.
func (pc *pgConn) commit() error {
	if err := pc.flush(); err != nil {
		return err // the transaction is aborted: finish rolls it back
	}
	res, err := pc.c.PgConn().Exec(pc.ctx, "COMMIT").ReadAll()
	if err == nil && len(res) == 1 && res[0].CommandTag.String() == "ROLLBACK" {
		return errors.New("a statement of the transaction had failed, so PostgreSQL rolled it back instead of committing")
	}
	return pc.wrap(pc.ctx, err)
}

// rollback ends the transaction even when the caller's context is done.
func (pc *pgConn) rollback() {
	pc.queued = nil
	if pc.c.IsClosed() || pc.c.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := pc.c.PgConn().Exec(ctx, "ROLLBACK").ReadAll(); err != nil {
		// A connection that cannot roll back must not be used again.
		_ = pc.c.PgConn().Close(ctx)
	}
}

func (pc *pgConn) exec(query string, args []any) error {
	// A copy: the caller may reuse its slice before the batch goes out.
	pc.batch().Queue(rebind(query), slices.Clone(args)...)
	if pc.queued.Len() >= maxQueued {
		return pc.flush()
	}
	return nil
}

// batch is the queue of statements not sent yet.
func (pc *pgConn) batch() *pgx.Batch {
	if pc.queued == nil {
		pc.queued = &pgx.Batch{}
	}
	return pc.queued
}

// flush sends the queued statements, in one round trip.
func (pc *pgConn) flush() error {
	b := pc.queued
	pc.queued = nil
	if b == nil || b.Len() == 0 {
		return nil
	}
	return pc.lost(pc.wrap(pc.ctx, pc.c.SendBatch(pc.ctx, b).Close()))
}

// insertID takes the row's id from the table's sequence ahead of time, in
// blocks (reserveIDs), so the INSERT itself needs no answer and is queued
// like any exec: a first sync of thousands of VMs then costs a round trip
// per block of statements, not per row. Ids a transaction reserved and did
// not use are skipped for good, as ids of rolled-back inserts are: ids
// stay unique and are never reused.
func (pc *pgConn) insertID(table string, cols []string, args []any) (int64, error) {
	if len(pc.ids) == 0 || pc.idTable != table {
		if err := pc.reserveIDs(table); err != nil {
			return 0, err
		}
	}
	id := pc.ids[0]
	pc.ids = pc.ids[1:]
	return id, pc.exec(insertSQL(table, append([]string{"id"}, cols...)), append([]any{id}, args...))
}

// reserveIDs takes the next ids of table's sequence: one for a
// transaction's first insert (the provider's), then twice as many each
// time, up to 1024.
func (pc *pgConn) reserveIDs(table string) error {
	if pc.idTable != table {
		pc.idTable, pc.idBlock = table, 0
	}
	pc.idBlock = min(max(2*pc.idBlock, 1), 1024)
	var ids []int64
	err := pc.query(reserveIDsSQL, []any{table, pc.idBlock},
		func(r row) error { ids = append(ids, r.Int64(0)); return nil })
	pc.ids = ids
	return err
}

func (pc *pgConn) query(query string, args []any, fn func(row) error) error {
	if err := pc.flush(); err != nil {
		return err
	}
	rows, err := pc.c.Query(pc.ctx, rebind(query), args...)
	if err != nil {
		return pc.lost(pc.wrap(pc.ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return pc.lost(pc.wrap(pc.ctx, err))
		}
		if err := fn(pgRow(vals)); err != nil {
			return err
		}
	}
	return pc.lost(pc.wrap(pc.ctx, rows.Err()))
}

func (pc *pgConn) execDDL(query string) error {
	if err := pc.flush(); err != nil {
		return err
	}
	return pc.simple(pc.ctx, query)
}

// execCount needs its answer now: it goes out with the queued statements.
func (pc *pgConn) execCount(query string, args []any) (int64, error) {
	var n int64
	pc.batch().Queue(rebind(query), args...).Exec(func(tag pgconn.CommandTag) error {
		n = tag.RowsAffected()
		return nil
	})
	return n, pc.flush()
}

// stamp: timestamptz keeps microseconds, so the value is cut to them here
// (pgx would truncate the same way) and reads back equal.
func (pc *pgConn) stamp(t time.Time) (any, time.Time) {
	t = t.UTC().Truncate(time.Microsecond)
	return t, t
}

// wrap makes an error caused by the caller's context wrap that context's
// error: PostgreSQL reports it as a cancelled statement.
func (pc *pgConn) wrap(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w (%w)", ctx.Err(), err)
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// pgRow is one row as pgx decodes it (text, int16/32/64, bool, time.Time
// or nil).
type pgRow []any

func (r pgRow) Text(col int) string {
	s, _ := r[col].(string)
	return s
}

func (r pgRow) Int64(col int) int64 {
	switch v := r[col].(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case int16:
		return int64(v)
	case bool:
		if v {
			return 1
		}
	}
	return 0
}

func (r pgRow) Int(col int) int { return int(r.Int64(col)) }

func (r pgRow) Bool(col int) bool {
	if b, ok := r[col].(bool); ok {
		return b
	}
	return r.Int64(col) != 0
}

func (r pgRow) IsNull(col int) bool { return r[col] == nil }

func (r pgRow) Time(col int) (time.Time, bool, error) {
	switch v := r[col].(type) {
	case nil:
		return time.Time{}, false, nil
	case time.Time:
		return v.UTC(), true, nil
	case string:
		t, err := ParseTime(v)
		return t, true, err
	}
	return time.Time{}, true, fmt.Errorf("unreadable timestamp %v (%T)", r[col], r[col])
}
