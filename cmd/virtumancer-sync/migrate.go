package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer"
)

// migrateConfig is the migrate subcommand's command line.
type migrateConfig struct {
	from, to string
	replace  bool
}

func parseMigrate(args []string, help io.Writer) (migrateConfig, error) {
	var cfg migrateConfig
	fs := newFlagSet("virtumancer-sync migrate", help, `Usage: virtumancer-sync migrate --from SRC --to DST [--replace]

Copies a store between backends, in either direction: a SQLite file path or a
postgres:// URL on each side. Every host, every VM row with its id (soft-deleted
rows too), config_json byte for byte, timestamps to the microsecond and the
vmsync_* tables are copied in one transaction, then read back and compared.
The source is opened read-only. A SQLite destination that does not exist is
created (mode 0600); a PostgreSQL database must exist. Stop every
virtumancer-sync and apply on both stores first: writes made during the copy
are not in it.`)
	fs.StringVar(&cfg.from, "from", "", "source store: a SQLite file `path` or a postgres:// URL")
	fs.StringVar(&cfg.to, "to", "", "destination store: a SQLite file `path` or a postgres:// URL")
	fs.BoolVar(&cfg.replace, "replace", false, "delete every row of a non-empty destination first (without it, a destination with rows is refused)")
	if err := parse(fs, args); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, badUsage("virtumancer-sync migrate --help", "unexpected argument %q: migrate takes flags only", fs.Arg(0))
	case cfg.from == "" || cfg.to == "":
		return cfg, badUsage("virtumancer-sync migrate --from virtumancer.db --to postgres://user@db/virtumancer", "migrate needs both --from and --to")
	case cfg.from == cfg.to:
		return cfg, badUsage("give two different stores", "--from and --to are the same store %s", store.RedactURL(cfg.from))
	}
	return cfg, checkDatabase(cfg.from)
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseMigrate(args, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		printErr(stderr, err)
		return exitError
	}
	if err := migrate(ctx, cfg, stdout); err != nil {
		printErr(stderr, err)
		return exitError
	}
	return exitOK
}

// migrate copies cfg.from into cfg.to and checks the copy by reading it back.
func migrate(ctx context.Context, cfg migrateConfig, stdout io.Writer) (err error) {
	src, err := store.Open(cfg.from, store.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, src.Close()) }()
	var d store.Dump
	if err := src.Read(ctx, func(tx *store.Tx) (err error) { d, err = tx.Dump(); return err }); err != nil {
		return err
	}
	dst, err := store.Open(cfg.to, store.Options{})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, dst.Close()) }()
	if err := dst.Write(ctx, func(tx *store.Tx) error { return tx.Load(d, cfg.replace) }); err != nil {
		if errors.Is(err, store.ErrNotEmpty) {
			return &syncer.HintError{Err: err, Hint: "migrate into an empty store, or add --replace to delete the destination's rows first"}
		}
		return err
	}
	var back store.Dump
	if err := dst.Read(ctx, func(tx *store.Tx) (err error) { back, err = tx.Dump(); return err }); err != nil {
		return err
	}
	if diff := dumpDiff(d, back); diff != "" {
		return fmt.Errorf("migrate: the copy in %s reads back differently from %s: %s", dst.Path(), src.Path(), diff)
	}
	fmt.Fprintf(stdout, "copied %s from %s to %s\n", counts(d), src.Path(), dst.Path())
	return nil
}

func counts(d store.Dump) string {
	var parts []string
	for _, t := range store.TableNames() {
		p := fmt.Sprintf("%d %s", d.Rows(t), t)
		if t == "virtual_machines" {
			p += fmt.Sprintf(" (%d soft-deleted)", d.SoftDeletedVMs())
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// dumpDiff names the first table whose rows differ (times compared as
// instants, at the microsecond PostgreSQL keeps).
func dumpDiff(a, b store.Dump) string {
	names := store.TableNames()
	for i := range a.Tables {
		if len(a.Tables[i]) != len(b.Tables[i]) {
			return fmt.Sprintf("%s: %d rows copied, %d read back", names[i], len(a.Tables[i]), len(b.Tables[i]))
		}
		for r := range a.Tables[i] {
			if !reflect.DeepEqual(store.Comparable(a.Tables[i][r]), store.Comparable(b.Tables[i][r])) {
				return fmt.Sprintf("%s row %d: %v became %v", names[i], r+1, a.Tables[i][r], b.Tables[i][r])
			}
		}
	}
	if b.VMSeq < a.VMSeq { // higher is fine: a replaced store keeps its own
		return fmt.Sprintf("virtual_machines id sequence %d became %d", a.VMSeq, b.VMSeq)
	}
	return ""
}
