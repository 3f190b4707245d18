// Package pgtest gives tests a PostgreSQL database of their own on the
// cluster scripts/pgenv.sh starts (127.0.0.1:55432, user postgres, trust),
// or on the one $VIRTUMANCER_TEST_POSTGRES names. A password may come from
// that URL, PGPASSWORD or a service file (pgx reads both); every message
// this package writes shows the URL redacted.
//
// Gate: a test that calls Require or NewDatabase needs PostgreSQL and is a
// TestIntegration… (internal/acctest's TestGateNames checks it). It fails,
// never skips, when the cluster is not there.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// EnvURL names the variable that points the tests at another cluster: a
// postgres:// URL of a role allowed to CREATE DATABASE.
const EnvURL = "VIRTUMANCER_TEST_POSTGRES"

// DefaultURL is the cluster scripts/pgenv.sh starts.
const DefaultURL = "postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable"

// dialTimeout bounds each connection attempt: a missing cluster fails the
// test in seconds, not at the test binary's timeout.
const dialTimeout = 5 * time.Second

// AdminURL is the URL of the cluster's maintenance database.
func AdminURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// Require fails the test now, with what to do, unless the cluster answers.
func Require(t testing.TB) {
	t.Helper()
	conn := connect(t, AdminURL())
	closeConn(t, conn)
}

// NewDatabase creates an empty database named prefix_<random> for this test
// and returns its URL; it is dropped (connections and all) when the test
// ends. prefix keeps test binaries apart (e.g. "store", "sync").
func NewDatabase(t testing.TB, prefix string) string {
	t.Helper()
	admin := AdminURL()
	name := dbName(prefix)
	conn := connect(t, admin)
	defer closeConn(t, conn)
	if _, err := conn.Exec(ctx(t), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s on %s: %v", name, Redact(admin), err)
	}
	t.Cleanup(func() { dropDatabase(t, admin, name) })
	u, err := WithDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

func dropDatabase(t testing.TB, admin, name string) {
	t.Helper()
	conn := connect(t, admin)
	defer closeConn(t, conn)
	// FORCE: a store a failed test left open must not keep the database.
	if _, err := conn.Exec(ctx(t), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: drop database %s on %s: %v", name, Redact(admin), err)
	}
}

// connect opens one connection or fails the test loudly, saying how to get
// the cluster.
func connect(t testing.TB, u string) *pgx.Conn {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	conn, err := pgx.Connect(c, u)
	if err != nil {
		t.Fatalf("pgtest: PostgreSQL at %s is not there (%v); this test needs it: run `sudo bash scripts/pgenv.sh` "+
			"(or `make testenv`), or set %s to a cluster where this role may CREATE DATABASE", Redact(u), redactErr(err), EnvURL)
	}
	return conn
}

func closeConn(t testing.TB, conn *pgx.Conn) {
	c, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	if err := conn.Close(c); err != nil {
		t.Errorf("pgtest: close: %v", err)
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// dbName is prefix, made a plain lowercase identifier, and 8 random hex digits.
func dbName(prefix string) string {
	p := unsafeChars.ReplaceAllString(strings.ToLower(prefix), "_")
	if p == "" {
		p = "test"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return fmt.Sprintf("%.40s_%s", p, hex.EncodeToString(b))
}

// WithDatabase returns URL u naming database name instead, everything else
// (user, password, host, parameters) kept.
func WithDatabase(u, name string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "postgres" && pu.Scheme != "postgresql") {
		return "", fmt.Errorf("%s is not a postgres:// URL; set %s to one", Redact(u), EnvURL)
	}
	pu.Path = "/" + name
	pu.RawPath = ""
	return pu.String(), nil
}

// Redact hides the password of a postgres:// URL (user:xxxxx@) and of a
// key=value connection string (password=xxxxx), also inside a query
// parameter (?password=...): the store's own redaction.
func Redact(u string) string { return store.RedactURL(u) }

// redactErr is err's text with any password in it hidden: pgx errors may
// quote the connection string.
func redactErr(err error) string { return store.RedactURL(err.Error()) }
