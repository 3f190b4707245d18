package store

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// pgFeed is PostgreSQL's change feed, what PRAGMA data_version is to
// SQLite: triggers on the store's tables pg_notify(pgNotifyChannel, table)
// for every statement that changes them (dialect.go), and one connection
// LISTENs and counts. A notification is delivered after its transaction
// commits, a few milliseconds later, so the counters move shortly after
// the commit, not within it. A notification whose sender is one of this
// store's write connections is its own; every other one is foreign. When
// the listener's connection breaks, notifications may have been missed
// while it was away: the counters move once more after it is back, as if
// something changed, so a watcher lists again.
type pgFeed struct {
	s                   *Store
	all, foreign, hosts atomic.Int64
	mu                  sync.Mutex
	own                 map[uint32]bool // PIDs of our write connections
	cancel              context.CancelFunc
	done                chan struct{}
}

func openFeed(ctx context.Context, s *Store) (*pgFeed, error) {
	f := &pgFeed{s: s, own: map[uint32]bool{}, done: make(chan struct{})}
	conn, err := f.listen(ctx)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go f.run(runCtx, conn)
	return f, nil
}

func (f *pgFeed) listen(ctx context.Context) (*pgx.Conn, error) {
	cfg := f.s.pg.pool.ConnConfig.Copy()
	// The wait ends only by close, which gives the connection up anyway:
	// a deadline ends it at once (a cancel request would wait for nothing).
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, f.s.pgConnErr("open the change feed connection", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgNotifyChannel); err != nil {
		_ = conn.Close(ctx)
		return nil, f.s.sqlErr("listen for changes", err)
	}
	return conn, nil
}

// run counts notifications until close, redialling a broken connection.
func (f *pgFeed) run(ctx context.Context, conn *pgx.Conn) {
	defer close(f.done)
	for wait := 0; ; {
		if conn != nil {
			err := f.count(ctx, conn)
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(closeCtx)
			cancel()
			conn = nil
			if ctx.Err() != nil {
				return
			}
			_ = err // the redial below is the whole recovery
		}
		if sleepCtx(ctx, backoff(wait)) != nil {
			return
		}
		c, err := f.listen(ctx)
		if err != nil {
			wait++
			continue
		}
		conn, wait = c, 0
		f.bump("") // notifications may have been missed meanwhile
	}
}

func (f *pgFeed) count(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if f.isOwn(n.PID) {
			f.all.Add(1)
			if n.Payload == "hosts" {
				f.hosts.Add(1)
			}
			continue
		}
		f.bump(n.Payload)
	}
}

// bump counts a foreign change of table ("" for "anything may have").
func (f *pgFeed) bump(table string) {
	f.all.Add(1)
	f.foreign.Add(1)
	if table == "" || table == "hosts" {
		f.hosts.Add(1)
	}
}

func (f *pgFeed) addOwn(pid uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.own[pid] = true
}

func (f *pgFeed) dropOwn(pid uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.own, pid)
}

func (f *pgFeed) isOwn(pid uint32) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.own[pid]
}

func (f *pgFeed) close() {
	if f == nil {
		return
	}
	f.cancel()
	<-f.done
}

// rebound caches rebind's results: the store's statements are a few dozen.
var rebound sync.Map

// rebind turns the ? placeholders of the package's SQL into PostgreSQL's
// $1, $2, ... (a ? inside a quoted string or identifier is left alone).
func rebind(q string) string {
	if v, ok := rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	out := b.String()
	rebound.Store(q, out)
	return out
}
