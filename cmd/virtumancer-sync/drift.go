package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer"
)

// runDrift checks live, not the daemon's table: it connects to every host
// and classifies each recorded VM against its domain, read-only. That
// answer does not depend on a daemon running or being current, which is
// what a CI gate needs. Exit 0: every VM in step; 2: a VM needs attention
// (drifted, missing, unreadable record or domain); 1: error, including a
// host that could not be checked (a partial answer must not pass a gate).
func runDrift(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseDrift(args, getenv, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		printErr(stderr, err)
		return exitError
	}
	rep, err := checkDrift(ctx, cfg, stderr)
	if err != nil {
		printErr(stderr, err)
		return exitError
	}
	if err := printDrift(stdout, rep, cfg.json); err != nil {
		printErr(stderr, err)
		return exitError
	}
	switch {
	case len(rep.UnreachableHosts) > 0:
		for _, e := range rep.UnreachableHosts {
			fmt.Fprintf(stderr, "virtumancer-sync: host %s (%s) not checked: %s\n", e.Host, e.URI, e.Error)
		}
		return exitError
	case len(rep.VMs) > 0:
		return exitDrift
	}
	return exitOK
}

func checkDrift(ctx context.Context, cfg driftConfig, stderr io.Writer) (rep observe.Report, err error) {
	log := newLogger("text", cfg.logLevel, stderr)
	st, err := store.Open(cfg.database, store.Options{ReadOnly: true})
	if err != nil {
		return rep, err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	pool := hypervisor.NewPool(hypervisor.Options{Logger: poolLogger(log.Named("libvirt"))})
	defer func() { _ = pool.Close() }() // read-only connections: nothing to flush
	eng := syncer.NewEngine(st, pool)
	eng.Logger = log
	eng.HostFilter = cfg.hosts
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	return eng.CheckDrift(ctx)
}

// printDrift prints the report: as JSON, the observe.Report that
// /api/v1/drift serves too; as text, one line per VM, then a summary.
func printDrift(w io.Writer, rep observe.Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	for _, e := range rep.VMs {
		fmt.Fprintln(w, e.Line())
	}
	_, err := fmt.Fprintf(w, "%d of %d recorded VMs need attention; %d host(s) not checked\n",
		len(rep.VMs), rep.Checked, len(rep.UnreachableHosts))
	return err
}
