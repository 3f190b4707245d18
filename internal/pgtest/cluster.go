package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BinDir holds the PostgreSQL 15 programs Debian's postgresql-15 installs
// (scripts/pgenv.sh installs them).
const BinDir = "/usr/lib/postgresql/15/bin"

// pgCtlTimeout bounds one initdb or pg_ctl run (pg_ctl itself waits at
// most 30 s for the server).
const pgCtlTimeout = time.Minute

// Cluster is a private PostgreSQL cluster of one test: its own data
// directory, port and server, so the test may stop and restart it without
// touching the shared cluster every other test uses.
//
// Gate: a test that calls StartCluster needs PostgreSQL's binaries and is
// a TestIntegration… or TestAcc… (internal/acctest's TestGateNames).
type Cluster struct {
	t    testing.TB
	dir  string
	port int
}

// StartCluster initialises a cluster in a temporary directory owned by user
// postgres (initdb refuses root, so it runs as postgres through runuser, as
// scripts/pgenv.sh does), starts it on a free 127.0.0.1 port with fsync off,
// trust authentication and its socket in the directory, and stops and
// removes it when the test ends. It fails the test, saying what to do, when
// the binaries or user postgres are missing.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	if _, err := os.Stat(filepath.Join(BinDir, "pg_ctl")); err != nil {
		t.Fatalf("pgtest: PostgreSQL 15 is not installed (%v); this test needs it: run `sudo bash scripts/pgenv.sh` "+
			"(it installs postgresql-15)", err)
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("pgtest: no user postgres (%v); install postgresql-15 (`sudo bash scripts/pgenv.sh`)", err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	// t.TempDir's parents are root's 0700 directories, which postgres
	// cannot enter: the cluster gets a directory of its own under /tmp.
	dir, err := os.MkdirTemp("", "pgtest-cluster-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	c := &Cluster{t: t, dir: dir, port: freePort(t)}
	t.Cleanup(c.remove)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatalf("pgtest: chown %s to postgres: %v", dir, err)
	}
	c.run("initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-instructions")
	c.Start()
	return c
}

// URL is the cluster's maintenance database, postgres://postgres@127.0.0.1:PORT/postgres.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Port is the cluster's TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Log is the server's log so far, for a failure message.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(c.logFile())
	return string(b)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-l", c.logFile(), "-w", "-t", "30", "-o", c.serverOptions(), "start")
}

// Stop stops the server (fast: sessions are terminated, nothing waits).
func (c *Cluster) Stop() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "-t", "30", "stop")
}

// Restart is pg_ctl restart -m fast: every session is terminated and the
// server is back on the same port when it returns.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-l", c.logFile(), "-m", "fast", "-w", "-t", "30", "-o", c.serverOptions(), "restart")
}

func (c *Cluster) serverOptions() string {
	return fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=100", c.port, c.dir)
}

func (c *Cluster) data() string    { return filepath.Join(c.dir, "data") }
func (c *Cluster) logFile() string { return filepath.Join(c.dir, "server.log") }

// run runs a PostgreSQL program as user postgres, failing the test with
// its output (and the server's log's end) when it fails.
func (c *Cluster) run(prog string, args ...string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pgCtlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", filepath.Join(BinDir, prog)}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		log := c.Log()
		c.t.Fatalf("pgtest: %s %s: %v\n%s\nserver log (end):\n%s", prog, strings.Join(args, " "), err, out, log[max(0, len(log)-2000):])
	}
}

// remove stops the server if it runs and deletes the directory.
func (c *Cluster) remove() {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), pgCtlTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "runuser", "-u", "postgres", "--", filepath.Join(BinDir, "pg_ctl"),
			"-D", c.data(), "-m", "immediate", "-w", "-t", "30", "stop")
		if out, err := cmd.CombinedOutput(); err != nil {
			c.t.Errorf("pgtest: stop the cluster in %s: %v\n%s", c.dir, err, out)
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		c.t.Errorf("pgtest: remove %s: %v", c.dir, err)
	}
}

// freePort is a loopback port nothing listens on now. Another process
// could take it before the server does; pg_ctl start then fails loudly.
func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		var lc net.ListenConfig
		l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("pgtest: find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		// Keep clear of the shared cluster's port and the system one.
		if port != 55432 && port != 5432 {
			return port
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("pgtest: no free loopback port")
	return 0
}
