package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer"
)

// runDrift checks live, not the daemon's table: it connects to every host
// and compares each recorded VM with its domain, read-only. That answer
// does not depend on a daemon running or being current, which is what a
// CI gate needs. Exit 0: no drift; 2: drift; 1: error, including a host
// that could not be checked (a partial answer must not pass a gate).
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
	case len(rep.Errors) > 0:
		for _, e := range rep.Errors {
			fmt.Fprintf(stderr, "virtumancer-sync: host %s (%s) not checked: %s\n", e.Host, e.URI, e.Error)
		}
		return exitError
	case len(rep.Drifted) > 0:
		return exitDrift
	}
	return exitOK
}

func checkDrift(ctx context.Context, cfg driftConfig, stderr io.Writer) (rep syncer.DriftReport, err error) {
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

func printDrift(w io.Writer, rep syncer.DriftReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	for _, d := range rep.Drifted {
		fmt.Fprintln(w, d.Summary())
	}
	_, err := fmt.Fprintf(w, "%d of %d recorded VMs drifted; %d host(s) not checked\n",
		len(rep.Drifted), rep.Checked, len(rep.Errors))
	return err
}
