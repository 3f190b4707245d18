// Command virtumancer-sync keeps a Virtumancer store in step with every
// libvirt host in its hosts table, and reports drift over HTTP, Prometheus
// and the CI-friendly `drift` subcommand. The work is done by
// internal/syncer; this file only wires flags, logging and signals.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/version"
)

// Exit codes. The drift subcommand adds exitDrift.
const (
	exitOK    = 0
	exitError = 1
	exitDrift = 2
)

func main() {
	// SIGTERM/SIGINT cancel ctx; everything then shuts down in order and
	// the process exits 0. A second signal kills it the default way.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	go func() { <-ctx.Done(); stop() }()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "drift":
			return runDrift(ctx, args[1:], getenv, stdout, stderr)
		case "migrate":
			return runMigrate(ctx, args[1:], stdout, stderr)
		}
	}
	cfg, err := parseServe(args, getenv, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		printErr(stderr, err)
		return exitError
	case cfg.version:
		fmt.Fprintf(stdout, "virtumancer-sync %s (%s)\n", version.Version, version.Commit)
		return exitOK
	}
	log := newLogger(cfg.logFormat, cfg.logLevel, stderr)
	if err := serve(ctx, cfg, log, stdout); err != nil {
		kv := []any{"error", err}
		if h := hint(err); h != "" {
			kv = append(kv, "try", h)
		}
		log.Error("virtumancer-sync stopped", kv...)
		return exitError
	}
	return exitOK
}

// printErr prints err and, when it carries one, the hint as "Try: ...".
func printErr(w io.Writer, err error) {
	fmt.Fprintf(w, "virtumancer-sync: %v\n", err)
	if h := hint(err); h != "" {
		fmt.Fprintf(w, "Try: %s\n", h)
	}
}

func hint(err error) string {
	var ue *usageError
	var he *syncer.HintError
	switch {
	case errors.As(err, &ue):
		return ue.hint
	case errors.As(err, &he):
		return he.Hint
	}
	return ""
}
