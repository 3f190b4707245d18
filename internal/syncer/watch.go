package syncer

import (
	"context"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// storeWatch notices what other writers do to the store: every poll it
// checks that the path is still the file we have open, and reads the
// store's change counter for other writers' commits (our own commits do
// not move it: their rows are known already); when that moved, it lists
// the rows and hands each runner its host's rows, which the runner diffs
// against what it last compared with.
type storeWatch struct {
	feed    changeFeed
	version int64
}

func (e *Engine) openWatch(ctx context.Context) error {
	v, err := e.Store.ForeignDataVersion(ctx)
	if err != nil {
		return err
	}
	e.watch = &storeWatch{feed: e.Store, version: v}
	return nil
}

// pollStore reports whether the store changed since the last poll, or the
// fatal error that the file under us is gone or replaced.
func (w *storeWatch) pollStore(ctx context.Context) (changed bool, fatal, err error) {
	if err := w.feed.CheckFile(); err != nil {
		if fileLost(err) {
			return false, err, nil
		}
		return false, nil, err
	}
	v, err := w.feed.ForeignDataVersion(ctx)
	if err != nil || v == w.version {
		return false, nil, err
	}
	w.version = v
	return true, nil, nil
}

// listing is a host's live rows as read at a time.
type listing struct {
	at   time.Time // taken before the read began
	rows []store.VM
}

// dispatchRows lists every live row and offers each runner its host's.
func (e *Engine) dispatchRows(ctx context.Context) error {
	at := time.Now()
	rows, err := e.Store.ListAllVMs(ctx)
	if err != nil {
		return err
	}
	byHost := map[string][]store.VM{}
	for _, r := range rows {
		byHost[r.HostID] = append(byHost[r.HostID], r)
	}
	for id, r := range e.runners {
		r.offerRows(listing{at: at, rows: byHost[id]})
	}
	return nil
}

// offerRows replaces any listing the runner has not taken yet: only the
// latest matters, and the store watch never waits on a busy runner.
// Only the store watch goroutine sends.
func (r *runner) offerRows(l listing) {
	select {
	case <-r.rows:
	default:
	}
	r.rows <- l
}

// touched names the VMs whose row differs from the one they were last
// compared with: new rows, rows gone, and rows whose id, times or
// config_json changed. The listing may have begun before the runner's last
// commit, and no fresher one follows by itself (only other writers'
// commits wake the watch): a row the runner knows as written at or after
// the listing began is newer than the listing (the runner read it, other
// writers' changes included, inside that write) and is not named for it.
func (r *runner) touched(l listing) []string {
	var out []string
	listed := make(map[string]bool, len(l.rows))
	for _, row := range l.rows {
		listed[row.Name] = true
		k, ok := r.known[row.Name]
		switch {
		case !ok || k.Row == nil:
			out = append(out, row.Name)
		case !sameRow(*k.Row, row) && !k.Row.ChangedSince(l.at):
			out = append(out, row.Name)
		}
	}
	for name, k := range r.known {
		if k.Row != nil && !listed[name] && !k.Row.ChangedSince(l.at) {
			out = append(out, name)
		}
	}
	return out
}

func sameRow(a, b store.VM) bool {
	return a.ID == b.ID && a.UpdatedAt.Equal(b.UpdatedAt) && (a.DeletedAt == nil) == (b.DeletedAt == nil) &&
		a.ConfigJSON == b.ConfigJSON && a.RecordedJSON == b.RecordedJSON
}

// checkRuntimes is the cheap periodic check for what libvirt sends no
// event about (autostart, for one): one listing and one bulk runtime read,
// compared with what is known; only the domains that differ are re-read.
func (r *runner) checkRuntimes(ctx context.Context, c Conn) error {
	rl, ok := c.(observe.RuntimeLister)
	if !ok {
		return nil
	}
	doms, err := c.ListDomains(ctx)
	if err != nil {
		return &phaseError{phase: "runtime check", err: err}
	}
	rts, err := rl.Runtimes(ctx)
	if err != nil {
		return &phaseError{phase: "runtime check", err: err}
	}
	var changed []string
	listed := make(map[string]bool, len(doms))
	for _, d := range doms {
		listed[d.Name] = true
		k, ok := r.known[d.Name]
		rt, has := rts[d.UUID]
		switch {
		case !ok, k.Live == nil && k.Verdict != observe.DomainUnreadable, k.Live != nil && k.Live.Domain.UUID != d.UUID:
			changed = append(changed, d.Name) // unknown, back, or defined anew
		case has && runtimeChanged(k.Live.Info, rt):
			changed = append(changed, d.Name)
		}
	}
	for name, k := range r.known {
		if exists(k) && !listed[name] {
			changed = append(changed, name)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	r.log.Debug("runtime check found changes", "vms", len(changed))
	return r.applyNames(ctx, c, changed, discover)
}

func runtimeChanged(known vminfo.VMInfo, rt vminfo.Runtime) bool {
	return known.State != rt.State || known.Autostart != rt.Autostart || known.Persistent != rt.Persistent
}

// hostsDue: the hosts table is read every HostPollInterval even when the
// change counter says nothing moved (a safety net).
func (e *Engine) hostsDue(last time.Time) bool { return time.Since(last) >= e.HostPollInterval }
