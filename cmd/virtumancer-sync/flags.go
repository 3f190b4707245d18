package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/httpapi"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// Environment variables read when the matching flag is not given.
const (
	envDatabase = "VIRTUMANCER_DATABASE"
	envToken    = "VIRTUMANCER_SYNC_TOKEN"
)

var (
	logFormats = []string{"text", "json"}
	logLevels  = []string{"trace", "debug", "info", "warn", "error"}
)

// minResync keeps a mistyped --resync (1ms) from turning the daemon into a
// busy loop against every host.
const minResync = time.Second

// usageError is a bad command line; its hint is printed as "Try: ...".
type usageError struct {
	msg  string
	hint string
}

func (e *usageError) Error() string { return e.msg }

func badUsage(hint, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), hint: hint}
}

// serveConfig is the daemon's command line.
type serveConfig struct {
	database  string
	listen    string
	resync    time.Duration
	check     time.Duration
	once      bool
	replica   string
	hosts     []string
	logFormat string
	logLevel  string
	token     string
	version   bool
}

// driftConfig is the drift subcommand's command line.
type driftConfig struct {
	database string
	hosts    []string
	json     bool
	timeout  time.Duration
	logLevel string
}

func parseServe(args []string, getenv func(string) string, help io.Writer) (serveConfig, error) {
	cfg := serveConfig{listen: "127.0.0.1:9464", resync: 5 * time.Minute, check: 15 * time.Second, logFormat: "text", logLevel: "info"}
	fs := newFlagSet("virtumancer-sync", help, `Usage: virtumancer-sync [flags]
       virtumancer-sync drift [--json] [--database PATH] [--host ID]...
       virtumancer-sync migrate --from SRC --to DST [--replace]

Keeps a Virtumancer store in step with every libvirt host of its hosts table.`)
	fs.StringVar(&cfg.database, "database", "", databaseUsage)
	fs.StringVar(&cfg.listen, "listen", cfg.listen, "`address` (host:port) for /metrics, /healthz, /readyz and /api/v1; empty disables HTTP")
	durationVar(fs, &cfg.resync, "resync", "`interval` between full resyncs of each connected host")
	durationVar(fs, &cfg.check, "check-interval", "`interval` between cheap checks of each host's runtimes (autostart, state) for changes libvirt sends no event for")
	fs.BoolVar(&cfg.once, "once", false, "sync every host once, print a summary and exit (non-zero if a host failed)")
	hostsVar(fs, &cfg.hosts)
	fs.StringVar(&cfg.replica, "replica", "", "this replica's `name` among the virtumancer-sync processes sharing a PostgreSQL store, "+
		"shown in /api/v1/hosts (default hostname:pid)")
	choiceVar(fs, &cfg.logFormat, "log-format", logFormats, "log `format`")
	choiceVar(fs, &cfg.logLevel, "log-level", logLevels, "log `level`")
	fs.StringVar(&cfg.token, "token", "", "bearer `token` for /metrics and /api/v1 (default $"+envToken+"; prefer the variable: flags show in ps)")
	fs.BoolVar(&cfg.version, "version", false, "print the version and exit")
	if err := parse(fs, args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, badUsage("virtumancer-sync --help", "unexpected argument %q: the subcommands are drift and migrate, and they must come first", fs.Arg(0))
	}
	if cfg.version {
		return cfg, nil
	}
	cfg.database = orEnv(cfg.database, getenv(envDatabase))
	cfg.token = orEnv(cfg.token, getenv(envToken))
	if cfg.replica == "" {
		cfg.replica = defaultReplica()
	}
	return cfg, cfg.validate()
}

// defaultReplica names this process uniquely on its machine.
func defaultReplica() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

func (c serveConfig) validate() error {
	if err := checkDatabase(c.database); err != nil {
		return err
	}
	if c.resync < minResync {
		return badUsage("--resync 5m", "invalid value %q for flag -resync: must be at least %s", c.resync, minResync)
	}
	if c.check < minResync {
		return badUsage("--check-interval 15s", "invalid value %q for flag -check-interval: must be at least %s", c.check, minResync)
	}
	if strings.ContainsAny(c.token, " \t\r\n") {
		return badUsage("a token without spaces, e.g. from `openssl rand -hex 32`", "invalid bearer token: it must not contain whitespace")
	}
	if c.listen != "" && !c.once {
		if err := httpapi.CheckListen(c.listen, c.token); err != nil {
			return badUsage("--listen 127.0.0.1:9464, or set "+envToken, "%v", err)
		}
	}
	return nil
}

func parseDrift(args []string, getenv func(string) string, help io.Writer) (driftConfig, error) {
	cfg := driftConfig{timeout: 2 * time.Minute, logLevel: "warn"}
	fs := newFlagSet("virtumancer-sync drift", help, `Usage: virtumancer-sync drift [flags]

Compares every recorded VM with its live domain, read-only, and prints the
VMs that need attention (drifted, missing, unreadable record or domain).
Exit status: 0 all in step, 2 a VM needs attention, 1 error (a host could
not be checked, or bad usage).`)
	fs.StringVar(&cfg.database, "database", "", databaseUsage)
	hostsVar(fs, &cfg.hosts)
	fs.BoolVar(&cfg.json, "json", false, "print the report as JSON")
	durationVar(fs, &cfg.timeout, "timeout", "give up on the whole check after this `duration`")
	choiceVar(fs, &cfg.logLevel, "log-level", logLevels, "log `level`")
	if err := parse(fs, args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, badUsage("virtumancer-sync drift --help", "unexpected argument %q: drift takes flags only", fs.Arg(0))
	}
	if cfg.timeout <= 0 {
		return cfg, badUsage("--timeout 2m", "invalid value %q for flag -timeout: must be positive", cfg.timeout)
	}
	cfg.database = orEnv(cfg.database, getenv(envDatabase))
	return cfg, checkDatabase(cfg.database)
}

// newFlagSet returns a flag set that reports errors to us instead of
// printing them, and prints usage to help on --help.
func newFlagSet(name string, help io.Writer, intro string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// flag calls Usage on every parse error too; we print errors with a
	// hint instead, and the full usage only for --help (see parse).
	fs.Usage = func() {}
	usage[fs] = func() {
		fmt.Fprintln(help, intro)
		fmt.Fprintln(help, "\nFlags:")
		fs.SetOutput(help)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// usage holds each flag set's --help text printer.
var usage = map[*flag.FlagSet]func(){}

func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		usage[fs]()
		return err
	}
	return badUsage(fs.Name()+" --help", "%v", err)
}

// databaseUsage documents --database for both backends.
const databaseUsage = "Virtumancer's store: a SQLite `file`, or a postgres:// URL (password from the URL, PGPASSWORD or a service file; never logged) " +
	"(default $" + envDatabase + ")"

func checkDatabase(path string) error {
	if path == "" {
		return badUsage("--database /var/lib/virtumancer/virtumancer.db", "no store given: set --database or %s", envDatabase)
	}
	if store.IsPostgresURL(path) {
		return nil // the database must exist: store.Open says so if not
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Creating an empty store on a mistyped path would sync nothing
		// silently; Virtumancer or the provider creates the store.
		return badUsage("check the path, or create the store with Virtumancer or `terraform apply`", "store %s does not exist", path)
	case err != nil:
		return fmt.Errorf("store %s: %w", path, err)
	case fi.IsDir():
		return badUsage("--database /path/to/virtumancer.db", "store %s is a directory, not a SQLite file", path)
	}
	return nil
}

// durationVar parses a Go duration, reporting the parser's reason.
func durationVar(fs *flag.FlagSet, p *time.Duration, name, usage string) {
	def := p.String()
	fs.Func(name, usage+" (default "+def+")", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration like 30s or 5m: %w", err)
		}
		*p = d
		return nil
	})
}

// choiceVar accepts one of allowed, listing them when the value is not.
func choiceVar(fs *flag.FlagSet, p *string, name string, allowed []string, usage string) {
	fs.Func(name, fmt.Sprintf("%s: %s (default %s)", usage, strings.Join(allowed, "|"), *p), func(s string) error {
		if !slices.Contains(allowed, s) {
			return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
		}
		*p = s
		return nil
	})
}

// hostsVar is the repeatable --host filter.
func hostsVar(fs *flag.FlagSet, p *[]string) {
	fs.Func("host", "sync only the host with this `id` (repeatable; default every host)", func(s string) error {
		if strings.TrimSpace(s) == "" {
			return errors.New("want a host id from the hosts table")
		}
		if !slices.Contains(*p, s) {
			*p = append(*p, s)
		}
		return nil
	})
}

func orEnv(v, env string) string {
	if v != "" {
		return v
	}
	return env
}

func newLogger(format, level string, out io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "virtumancer-sync",
		Level:      hclog.LevelFromString(level),
		JSONFormat: format == "json",
		Output:     out,
	})
}
