package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Host claims decide which sync replica syncs a host (SPEC 7).
//
// On PostgreSQL each replica holds one connection of its own, the lock
// session, and claims a host with a session-level advisory lock on it
// (pg_try_advisory_lock): exactly one session can hold it, and PostgreSQL
// drops it with the session, so a replica killed or cut off loses its hosts
// and another takes them on its next try. A replica that is alive to TCP but
// silent (SIGSTOP, a hung process) keeps its session, so every replica also
// writes a heartbeat into vmsync_replicas through its lock session each
// Heartbeat, and any replica terminates the lock session of one whose
// heartbeat is older than StaleAfter (pg_terminate_backend), which frees its
// locks. Writes are fenced: a sync write checks, inside its transaction,
// that the lock session still holds the host (Tx.CheckClaim), so a replica
// that wakes up after losing its session writes nothing for those hosts.
//
// On SQLite one service syncs every host of the file (ClaimSync): Claims is
// then a formality that owns everything.

// claimNamespace is the first key of every host lock ("vmsy"), so our
// locks never meet another application's on the same database.
const claimNamespace int64 = 0x766d7379

// Defaults for ClaimOptions.
const (
	DefaultHeartbeat  = time.Second
	DefaultStaleAfter = 4 * time.Second
)

// ErrClaimLost is wrapped by Tx.CheckClaim when this replica no longer holds
// the host: another replica syncs it now.
var ErrClaimLost = errors.New("this replica no longer holds the host")

// ClaimOptions tune OpenClaims. The zero value gives the defaults.
type ClaimOptions struct {
	// Heartbeat is how often the replica proves it is alive.
	Heartbeat time.Duration
	// StaleAfter is how long a replica may stay silent before another
	// terminates its lock session and takes its hosts.
	StaleAfter time.Duration
	// Logf receives what the claims did on their own (a lost session, a
	// stale replica terminated); nil drops it.
	Logf func(msg string, kv ...any)
}

// Owner is the replica that holds a host, as vmsync_replicas says.
type Owner struct {
	Replica string
	// Synced is what that replica last published: it has fully synced the
	// host since it took it.
	Synced bool
	// Alive is false when its heartbeat is older than StaleAfter.
	Alive bool
}

// Claims are one replica's hold on hosts. Safe for concurrent use.
type Claims struct {
	s       *Store
	replica string
	opts    ClaimOptions

	mu     sync.Mutex
	conn   *pgx.Conn // the lock session; nil until (re)connected
	held   map[string]bool
	synced map[string]bool
	cancel context.CancelFunc
	done   chan struct{}
}

// OpenClaims starts this replica's claims. replica names it in
// vmsync_replicas and /api/v1/hosts; two live replicas may not share one.
// On SQLite it owns every host and touches nothing.
func (s *Store) OpenClaims(ctx context.Context, replica string, opts ClaimOptions) (*Claims, error) {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = DefaultStaleAfter
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	c := &Claims{s: s, replica: replica, opts: opts, held: map[string]bool{}, synced: map[string]bool{}}
	if s.pg == nil {
		return c, nil
	}
	c.mu.Lock()
	err := c.connectLocked(ctx)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go c.run(bg)
	return c, nil
}

// Replica is this replica's name. Nil Claims (an engine syncing every
// host) answer as a SQLite store's do.
func (c *Claims) Replica() string {
	if c == nil {
		return ""
	}
	return c.replica
}

// Shared reports whether several replicas may share the store (PostgreSQL).
func (c *Claims) Shared() bool { return c != nil && c.s.pg != nil }

// Claim tries to take host id; it returns true when this replica holds it.
func (c *Claims) Claim(ctx context.Context, id string) (bool, error) {
	if !c.Shared() {
		return true, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[id] {
		return true, nil
	}
	if c.conn == nil {
		return false, c.s.errf("claim host %q: the lock session is down; retrying", id)
	}
	var ok bool
	err := c.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1::int, $2::int)", claimNamespace, hostKey(id)).Scan(&ok)
	if err != nil {
		c.dropLocked(err)
		return false, c.s.errf("claim host %q: %w", id, err)
	}
	if ok {
		c.held[id] = true
		c.synced[id] = false
	}
	return ok, nil
}

// Holds reports whether this replica still holds host id.
func (c *Claims) Holds(id string) bool {
	if !c.Shared() {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[id]
}

// Release gives host id up (it left the store, or this replica stops).
func (c *Claims) Release(ctx context.Context, id string) {
	if !c.Shared() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.held[id] {
		return
	}
	delete(c.held, id)
	delete(c.synced, id)
	if c.conn != nil {
		if _, err := c.conn.Exec(ctx, "SELECT pg_advisory_unlock($1::int, $2::int)", claimNamespace, hostKey(id)); err != nil {
			c.dropLocked(err)
		}
	}
}

// SetSynced records that this replica has fully synced host id since it
// took it; the next heartbeat publishes it for the other replicas.
func (c *Claims) SetSynced(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[id] {
		c.synced[id] = true
	}
}

// Owners says which replica holds each of ids; a host no live session
// holds is absent. On SQLite this replica owns them all.
func (c *Claims) Owners(ctx context.Context, ids []string) (map[string]Owner, error) {
	out := map[string]Owner{}
	if c == nil {
		return out, nil
	}
	if !c.Shared() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, id := range ids {
			out[id] = Owner{Replica: c.replica, Synced: c.synced[id], Alive: true}
		}
		return out, nil
	}
	byKey := map[int64][]string{}
	for _, id := range ids {
		byKey[hostKey(id)] = append(byKey[hostKey(id)], id)
	}
	const q = "SELECT l.objid::bigint, r.replica_id, r.hosts_json, r.heartbeat_at > now() - make_interval(secs => ?) " +
		"FROM pg_locks l JOIN vmsync_replicas r ON r.backend_pid = l.pid " +
		"WHERE l.locktype = 'advisory' AND l.classid::bigint = ? AND l.objsubid = 2 AND l.granted"
	err := c.s.Read(ctx, func(tx *Tx) error {
		return tx.query("read host owners", q, func(r row) error {
			var synced map[string]bool
			_ = json.Unmarshal([]byte(r.Text(2)), &synced) // a bad row only loses the synced flags
			for _, id := range byKey[r.Int64(0)] {
				out[id] = Owner{Replica: r.Text(1), Synced: synced[id], Alive: r.Bool(3)}
			}
			return nil
		}, c.opts.StaleAfter.Seconds(), claimNamespace)
	})
	return out, err
}

// CheckClaim fences a write for host id: it fails with ErrClaimLost unless
// c's lock session holds the host now, as PostgreSQL sees it. Nil c (a
// one-shot sync) and SQLite pass.
func (tx *Tx) CheckClaim(c *Claims, id string) error {
	if c == nil || !c.Shared() {
		return nil
	}
	c.mu.Lock()
	pid := uint32(0)
	if c.held[id] && c.conn != nil {
		pid = c.conn.PgConn().PID()
	}
	c.mu.Unlock()
	if pid == 0 {
		return tx.s.errf("host %q: %w", id, ErrClaimLost)
	}
	n := 0
	err := tx.query(fmt.Sprintf("check the claim on host %q", id),
		"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = ? AND objid::bigint = ? "+
			"AND objsubid = 2 AND pid = ? AND granted",
		func(r row) error { n = r.Int(0); return nil }, claimNamespace, hostKey(id), int64(pid))
	if err == nil && n == 0 {
		err = tx.s.errf("host %q: %w (its lock session was terminated)", id, ErrClaimLost)
	}
	return err
}

// Close releases every host and stops the heartbeat; this replica's row
// is removed so the others see it left.
func (c *Claims) Close() error {
	if !c.Shared() {
		return nil
	}
	c.cancel()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn := c.conn
	if conn == nil { // between a lost session and its reconnect
		var err error
		if conn, err = pgx.ConnectConfig(ctx, c.lockConfig()); err != nil {
			return c.s.pgConnErr("remove this replica's row", err)
		}
	}
	c.conn = nil
	_, err := conn.Exec(ctx, "DELETE FROM vmsync_replicas WHERE replica_id = $1", c.replica)
	// Closing the session releases its locks.
	return errors.Join(err, conn.Close(ctx))
}

// hostKey is the second key of host id's lock: a 31-bit FNV-1a hash, kept
// positive so pg_locks' oid columns compare as plain numbers. Two ids with
// one key are claimed together, which keeps one owner for each.
func hostKey(id string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int64(h.Sum32() & 0x7fffffff)
}

func (c *Claims) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.beat(ctx)
	}
}

// beat publishes the heartbeat on the lock session (reconnecting it when
// it broke) and terminates the sessions of replicas gone silent.
func (c *Claims) beat(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		if err := c.connectLocked(ctx); err != nil {
			c.opts.Logf("cannot reopen the lock session; retrying", "error", err)
			return
		}
		c.opts.Logf("lock session reopened")
	}
	bctx, cancel := context.WithTimeout(ctx, c.opts.StaleAfter/2)
	defer cancel()
	hosts, _ := json.Marshal(c.synced)
	tag, err := c.conn.Exec(bctx, "UPDATE vmsync_replicas SET heartbeat_at = now(), backend_pid = $2, writer_pid = $3, hosts_json = $4 "+
		"WHERE replica_id = $1", c.replica, int64(c.conn.PgConn().PID()), c.s.writerPID(), string(hosts))
	if err == nil && tag.RowsAffected() == 0 {
		err = c.registerLocked(bctx) // swept as stale while we were away
	}
	if err != nil {
		c.dropLocked(err)
		// A server that restarted answers already: reopen now, not a beat
		// later, so the hosts can be claimed again a second sooner.
		if c.connectLocked(ctx) == nil {
			c.opts.Logf("lock session reopened")
		}
		return
	}
	c.sweepLocked(bctx)
}

// sweepLocked terminates the lock sessions of replicas silent for longer
// than StaleAfter, which frees their hosts, and their write connections,
// which may be stuck inside a transaction holding the store's write lock
// (a replica stopped mid-write would otherwise block every writer); then
// it forgets replicas whose sessions are gone.
func (c *Claims) sweepLocked(ctx context.Context) {
	rows, err := c.conn.Query(ctx, "SELECT r.replica_id, a.pid, pg_terminate_backend(a.pid) FROM vmsync_replicas r "+
		"JOIN pg_stat_activity a ON a.pid IN (r.backend_pid, r.writer_pid) "+
		"WHERE r.replica_id <> $1 AND r.heartbeat_at < now() - make_interval(secs => $2)", c.replica, c.opts.StaleAfter.Seconds())
	if err != nil {
		return // the next beat tries again
	}
	for rows.Next() {
		var id string
		var pid int64
		var ok bool
		if rows.Scan(&id, &pid, &ok) == nil {
			c.opts.Logf("replica went silent; terminated its session so its hosts can be taken over",
				"replica", id, "backend_pid", pid, "terminated", ok)
		}
	}
	rows.Close()
	_, _ = c.conn.Exec(ctx, "DELETE FROM vmsync_replicas WHERE replica_id <> $1 AND heartbeat_at < now() - make_interval(secs => $2) "+
		"AND backend_pid NOT IN (SELECT pid FROM pg_stat_activity)", c.replica, c.opts.StaleAfter.Seconds())
}

// dropLocked forgets a broken lock session: its locks went with it, so
// every host is lost at once (Holds turns false and the engine stops
// syncing them); the next beat reconnects.
func (c *Claims) dropLocked(err error) {
	if c.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.conn.Close(ctx)
	c.conn = nil
	if n := len(c.held); n > 0 {
		c.opts.Logf("lost the lock session; its hosts are free for other replicas", "hosts", n, "error", err)
	}
	c.held, c.synced = map[string]bool{}, map[string]bool{}
}

// connectLocked opens the lock session and registers this replica. The
// server's keepalives on it (and ours) are short, so a machine that
// vanished without closing its connection loses its locks in seconds.
func (c *Claims) connectLocked(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, c.lockConfig())
	if err != nil {
		return c.s.pgConnErr("open the lock session", err)
	}
	c.conn = conn
	if err := c.registerLocked(ctx); err != nil {
		_ = conn.Close(ctx)
		c.conn = nil
		return err
	}
	return nil
}

// lockConfig is the lock session's connection: named after the replica,
// with short keepalives.
func (c *Claims) lockConfig() *pgx.ConnConfig {
	cfg := c.s.pg.pool.ConnConfig.Copy()
	name := "virtumancer-sync " + c.replica
	if len(name) > 63 {
		name = name[:63]
	}
	cfg.RuntimeParams["application_name"] = name
	cfg.RuntimeParams["default_transaction_read_only"] = "off"
	for k, v := range map[string]string{"tcp_keepalives_idle": "2", "tcp_keepalives_interval": "1", "tcp_keepalives_count": "3", "tcp_user_timeout": "4000"} {
		cfg.RuntimeParams[k] = v
	}
	d := &net.Dialer{Timeout: pgConnectTimeout, KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 2 * time.Second, Interval: time.Second, Count: 3}}
	cfg.DialFunc = d.DialContext
	return cfg
}

// registerLocked writes this replica's row, refusing a name a live replica
// already uses (two would overwrite each other's heartbeat).
func (c *Claims) registerLocked(ctx context.Context) error {
	var other int64
	err := c.conn.QueryRow(ctx, "SELECT backend_pid FROM vmsync_replicas WHERE replica_id = $1 AND backend_pid <> $2 "+
		"AND heartbeat_at > now() - make_interval(secs => $3) AND backend_pid IN (SELECT pid FROM pg_stat_activity)",
		c.replica, int64(c.conn.PgConn().PID()), c.opts.StaleAfter.Seconds()).Scan(&other)
	if err == nil {
		return c.s.errf("replica %q is already running (its lock session is backend pid %d); give each replica its own --replica name", c.replica, other)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return c.s.errf("register replica %q: %w", c.replica, err)
	}
	_, err = c.conn.Exec(ctx, "INSERT INTO vmsync_replicas (replica_id, backend_pid, started_at, heartbeat_at, hosts_json) "+
		"VALUES ($1, $2, now(), now(), '{}') ON CONFLICT (replica_id) DO UPDATE SET backend_pid = excluded.backend_pid, "+
		"writer_pid = NULL, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, hosts_json = excluded.hosts_json",
		c.replica, int64(c.conn.PgConn().PID()))
	if err != nil {
		return c.s.errf("register replica %q: %w", c.replica, err)
	}
	return nil
}
