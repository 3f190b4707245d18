package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/httpapi"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/version"
)

// shutdownTimeout bounds the orderly shutdown; it stays below systemd's
// default TimeoutStopSec (90s) so we finish before being SIGKILLed.
const shutdownTimeout = 80 * time.Second

// serve runs the daemon (or one --once pass) until ctx is cancelled.
func serve(ctx context.Context, cfg serveConfig, log hclog.Logger, stdout io.Writer) (err error) {
	st, err := store.Open(cfg.database, store.Options{})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	// One sync service per SQLite store, --once included; `drift` only
	// reads and does not come here.
	release, err := st.ClaimSync()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, release()) }()
	pool := hypervisor.NewPool(hypervisor.Options{Logger: poolLogger(log.Named("libvirt"))})
	defer closePool(pool, log)

	claims, err := st.OpenClaims(ctx, cfg.replica, store.ClaimOptions{Logf: log.Named("claims").Info})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, claims.Close()) }()

	eng := syncer.NewEngine(st, pool)
	eng.Logger = log
	eng.Claims = claims
	eng.HostFilter = cfg.hosts
	eng.ResyncInterval = cfg.resync
	eng.CheckInterval = cfg.check
	if cfg.once {
		return once(ctx, eng, stdout)
	}
	return daemon(ctx, cfg, eng, log)
}

func daemon(ctx context.Context, cfg serveConfig, eng *syncer.Engine, log hclog.Logger) error {
	eng.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := eng.Open(); err != nil {
		return err
	}
	var srv *httpapi.Server
	if cfg.listen != "" {
		srv = &httpapi.Server{Addr: cfg.listen, Handler: httpapi.NewHandler(eng, eng.Registry, cfg.token, log.Named("http")), Logger: log.Named("http")}
		if err := srv.Open(); err != nil {
			return errors.Join(err, eng.Close(context.Background()))
		}
		log.Info("http listening", "addr", srv.ListenAddr(), "token", cfg.token != "")
	}
	log.Info("virtumancer-sync started", "version", version.Version, "database", eng.Store.Path(), "replica", cfg.replica,
		"resync", cfg.resync, "check_interval", cfg.check, "hosts", hostFilter(cfg.hosts))
	var fatal error
	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing writes in flight and closing connections")
	case <-eng.Fatal():
		// The engine has stopped writing; /readyz said why until now.
		fatal = &syncer.HintError{Err: eng.Err(),
			Hint: "check what removed or replaced the store file, then start virtumancer-sync again (systemd restarts it)"}
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := fatal
	if srv != nil {
		err = errors.Join(err, srv.Close(sctx))
	}
	err = errors.Join(err, eng.Close(sctx))
	if err == nil {
		log.Info("virtumancer-sync stopped")
	}
	return err
}

// once syncs every host a single time and prints one line per host.
func once(ctx context.Context, eng *syncer.Engine, stdout io.Writer) error {
	results, err := eng.SyncOnce(ctx)
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		fmt.Fprintln(stdout, r.String())
		if r.Err != nil {
			failed++
		}
	}
	fmt.Fprintf(stdout, "%d of %d hosts synced\n", len(results)-failed, len(results))
	if failed > 0 {
		return fmt.Errorf("%d of %d hosts failed to sync", failed, len(results))
	}
	return nil
}

// closePool says goodbye to every libvirt daemon. A goodbye that fails
// (the daemon went away, or never answered) loses nothing, so it is logged
// and does not turn a clean shutdown into a failure.
func closePool(pool *hypervisor.Pool, log hclog.Logger) {
	if err := pool.Close(); err != nil {
		log.Warn("closing libvirt connections", "error", err)
	}
}

// poolLogger routes the connection pool's messages to hclog at debug
// level: the engine already logs every connect and disconnect at info.
func poolLogger(log hclog.Logger) func(msg string, kv ...any) {
	return func(msg string, kv ...any) { log.Debug(msg, kv...) }
}

func hostFilter(hosts []string) any {
	if len(hosts) == 0 {
		return "all"
	}
	return hosts
}
