package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestParseServeRejects pairs each bad command line with its message.
func TestParseServeRejects(t *testing.T) {
	db := tempDB(t)
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"--database", db, "--bogus"}, nil, "flag provided but not defined: -bogus"},
		{"no store", nil, nil, "no store given: set --database or VIRTUMANCER_DATABASE"},
		{"missing store", []string{"--database", "/nonexistent/v.db"}, nil, "store /nonexistent/v.db does not exist"},
		{"store is a dir", []string{"--database", dir}, nil, "store " + dir + " is a directory, not a SQLite file"},
		{"bad log format", []string{"--database", db, "--log-format", "xml"}, nil, `invalid value "xml" for flag -log-format: want one of text, json`},
		{"bad log level", []string{"--database", db, "--log-level", "loud"}, nil, `invalid value "loud" for flag -log-level: want one of trace, debug, info, warn, error`},
		{"bad resync", []string{"--database", db, "--resync", "5x"}, nil, `invalid value "5x" for flag -resync: want a duration like 30s or 5m: time: unknown unit "x" in duration "5x"`},
		{"resync too short", []string{"--database", db, "--resync", "10ms"}, nil, `invalid value "10ms" for flag -resync: must be at least 1s`},
		{"check too short", []string{"--database", db, "--check-interval", "100ms"}, nil, `invalid value "100ms" for flag -check-interval: must be at least 1s`},
		{"bad once", []string{"--database", db, "--once=maybe"}, nil, `invalid boolean value "maybe" for -once: parse error`},
		{"empty host", []string{"--database", db, "--host", " "}, nil, `invalid value " " for flag -host: want a host id from the hosts table`},
		{"stray argument", []string{"--database", db, "sync"}, nil, `unexpected argument "sync": the subcommands are drift and migrate, and they must come first`},
		{"listen without port", []string{"--database", db, "--listen", "127.0.0.1"}, nil, `invalid listen address "127.0.0.1": address 127.0.0.1: missing port in address; want host:port, e.g. 127.0.0.1:9464`},
		{"listen bad port", []string{"--database", db, "--listen", "127.0.0.1:http-ish"}, nil, `invalid listen address "127.0.0.1:http-ish": bad port "http-ish", want 0-65535`},
		{"public listen without token", []string{"--database", db, "--listen", "0.0.0.0:9464"}, nil, `refusing to listen on 0.0.0.0 ("0.0.0.0:9464") without a bearer token: set --token or VIRTUMANCER_SYNC_TOKEN, or listen on 127.0.0.1`},
		{"all interfaces without token", []string{"--database", db, "--listen", ":9464"}, nil, `refusing to listen on every interface (":9464") without a bearer token: set --token or VIRTUMANCER_SYNC_TOKEN, or listen on 127.0.0.1`},
		{"named host without token", []string{"--database", db, "--listen", "example.internal:9464"}, nil, `refusing to listen on example.internal ("example.internal:9464") without a bearer token: set --token or VIRTUMANCER_SYNC_TOKEN, or listen on 127.0.0.1`},
		{"token with spaces", []string{"--database", db, "--token", "a b"}, nil, "invalid bearer token: it must not contain whitespace"},
		{"missing store from env", nil, map[string]string{envDatabase: "/nonexistent/env.db"}, "store /nonexistent/env.db does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseServe(c.args, getenv(c.env), io.Discard)
			if err == nil || err.Error() != c.want {
				t.Fatalf("parseServe(%q)\n got  %v\n want %s", c.args, err, c.want)
			}
			if hint(err) == "" {
				t.Errorf("no Try: hint for %q", err)
			}
		})
	}
}

func TestParseServeAccepts(t *testing.T) {
	db := tempDB(t)
	env := map[string]string{envDatabase: db, envToken: "s3cret"}
	cfg, err := parseServe([]string{"--listen", "0.0.0.0:9464", "--resync", "30s", "--check-interval", "5s", "--host", "a", "--host", "b", "--host", "a",
		"--log-format", "json", "--log-level", "debug"}, getenv(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.database != db || cfg.token != "s3cret" || cfg.resync != 30*time.Second || cfg.check != 5*time.Second || !slices.Equal(cfg.hosts, []string{"a", "b"}) ||
		cfg.logFormat != "json" || cfg.logLevel != "debug" {
		t.Errorf("config = %+v", cfg)
	}
	// Flags win over the environment; an empty --listen disables HTTP.
	cfg, err = parseServe([]string{"--database", db, "--token", "flag", "--listen", ""}, getenv(map[string]string{envDatabase: "/x", envToken: "env"}), io.Discard)
	if err != nil || cfg.database != db || cfg.token != "flag" || cfg.listen != "" {
		t.Errorf("flags over env: %+v, %v", cfg, err)
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:9464", "[::1]:9464"} {
		if _, err := parseServe([]string{"--database", db, "--listen", addr}, getenv(nil), io.Discard); err != nil {
			t.Errorf("loopback %s refused: %v", addr, err)
		}
	}
	// A PostgreSQL URL is not a path to stat: the database must exist, and
	// store.Open says so when it does not.
	const pg = "postgres://sync@db.internal:5432/virtumancer?sslmode=verify-full"
	if cfg, err := parseServe(nil, getenv(map[string]string{envDatabase: pg}), io.Discard); err != nil || cfg.database != pg {
		t.Errorf("postgres URL: %+v, %v", cfg, err)
	}
	if cfg, err := parseDrift([]string{"--database", pg}, getenv(nil), io.Discard); err != nil || cfg.database != pg {
		t.Errorf("drift with a postgres URL: %+v, %v", cfg, err)
	}
	if _, err := parseServe([]string{"--help"}, getenv(nil), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}

func TestParseDriftRejects(t *testing.T) {
	db := tempDB(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--database", db, "--yaml"}, "flag provided but not defined: -yaml"},
		{[]string{"--database", db, "--timeout", "0s"}, `invalid value "0s" for flag -timeout: must be positive`},
		{[]string{"--database", db, "now"}, `unexpected argument "now": drift takes flags only`},
		{[]string{"--database", db, "--log-level", "chatty"}, `invalid value "chatty" for flag -log-level: want one of trace, debug, info, warn, error`},
		{nil, "no store given: set --database or VIRTUMANCER_DATABASE"},
	}
	for _, c := range cases {
		_, err := parseDrift(c.args, getenv(nil), io.Discard)
		if err == nil || err.Error() != c.want {
			t.Errorf("parseDrift(%q)\n got  %v\n want %s", c.args, err, c.want)
		}
	}
	cfg, err := parseDrift([]string{"--json", "--host", "h"}, getenv(map[string]string{envDatabase: db}), io.Discard)
	if err != nil || !cfg.json || cfg.database != db || !slices.Equal(cfg.hosts, []string{"h"}) {
		t.Errorf("parseDrift ok case: %+v, %v", cfg, err)
	}
}

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func tempDB(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "v.db")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
