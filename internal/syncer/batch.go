package syncer

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// batchMode says what a batch of re-read names may write.
type batchMode int

const (
	// discover (events, the runtime check): the domain changed, so rows
	// are inserted, revived and soft-deleted as the full sync would.
	discover batchMode = iota
	// recheck (rows another writer touched): only the status and what the
	// engine knows change. A writer racing its own domain (the provider
	// writes the row before it defines the domain, and deletes it before
	// it undefines) must never see its row removed or revived by us; the
	// domain's own events follow within milliseconds.
	recheck
)

func (m batchMode) String() string {
	if m == recheck {
		return "store change"
	}
	return "events"
}

// batchOutcome is what one batch changed, applied to memory after the commit.
type batchOutcome struct {
	res     SyncResult // counters only
	known   map[string]observe.Result
	forget  []string
	changed [][2]string // {name, "inserted"|"revived"|"soft-deleted"}, logged at info
}

// applyNames re-reads the named domains and records them in one write.
func (r *runner) applyNames(ctx context.Context, c Conn, names []string, mode batchMode) error {
	readAt := time.Now()
	obs, err := r.e.reader().Names(ctx, c, names)
	if err != nil {
		return &phaseError{phase: "read domains", err: err}
	}
	st, _ := r.e.updateStatus(r.host.ID, func(*HostStatus) {})
	hs := storeStatus(st)
	var out batchOutcome
	err = r.e.write(ctx, func(tx *store.Tx) error {
		out = batchOutcome{known: map[string]observe.Result{}} // fn may be re-run
		if err := r.e.checkHost(tx, r.host); err != nil {
			return err
		}
		b := batch{recorder: recorder{tx: tx, hostID: r.host.ID, since: readAt, res: &out.res}, out: &out, mode: mode}
		for _, o := range obs {
			if err := b.apply(o); err != nil {
				return err
			}
		}
		hs.VMCount = r.countAfter(out)
		return tx.PutHostStatus(hs)
	})
	if err != nil {
		return &phaseError{phase: "write", store: true, err: err}
	}
	r.commit(obs, out, mode)
	return nil
}

// batch applies one observation at a time inside the write.
type batch struct {
	recorder
	out  *batchOutcome
	mode batchMode
}

func (b *batch) apply(o observe.Observation) error {
	row, err := b.tx.GetVM(b.hostID, o.Name)
	hasRow := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	switch {
	case !hasRow && b.mode == recheck:
		return b.noRow(o)
	case !hasRow && o.Gone:
		b.out.forget = append(b.out.forget, o.Name)
		return b.tx.DeleteVMStatus(b.hostID, o.Name) // no live row: only a status to drop
	case !hasRow:
		return b.discovered(o)
	}
	res := observe.Classify(b.hostID, &row, o)
	if res.Verdict != observe.Missing {
		b.out.known[o.Name] = res
		return b.status(res)
	}
	if b.mode == recheck {
		b.out.known[o.Name] = res // reported; the row is the writer's to keep
		return nil
	}
	deleted, err := b.gone(row)
	switch {
	case err != nil:
		return err
	case deleted:
		b.out.forget = append(b.out.forget, o.Name)
		b.out.changed = append(b.out.changed, [2]string{o.Name, "soft-deleted"})
	default:
		b.out.known[o.Name] = res // newer than our read: left alone, still missing
	}
	return nil
}

// noRow: another writer removed the row (or never wrote one). Its status
// goes; the domain, if any, is known without a record.
func (b *batch) noRow(o observe.Observation) error {
	if o.Gone {
		b.out.forget = append(b.out.forget, o.Name)
	} else {
		b.out.known[o.Name] = observe.Classify(b.hostID, nil, o)
	}
	return b.tx.DeleteVMStatus(b.hostID, o.Name)
}

// discovered records a present domain with no live row (insert or revive).
func (b *batch) discovered(o observe.Observation) error {
	// One indexed lookup, not the host's whole listing: the write lock is
	// held meanwhile, and event batches are small.
	row, ok, err := b.tx.FindVM(b.hostID, o.Name)
	if err != nil {
		return err
	}
	ins, rev := b.res.Inserted, b.res.Revived
	res, err := b.present(o, row, ok)
	if err != nil {
		return err
	}
	b.out.known[o.Name] = res
	switch {
	case b.res.Inserted > ins:
		b.out.changed = append(b.out.changed, [2]string{o.Name, "inserted"})
	case b.res.Revived > rev:
		b.out.changed = append(b.out.changed, [2]string{o.Name, "revived"})
	}
	return nil
}

// exists reports whether a result is about a domain that exists.
func exists(res observe.Result) bool {
	return res.Live != nil || res.Verdict == observe.DomainUnreadable
}

// countAfter is the host's domain count once out is applied.
func (r *runner) countAfter(out batchOutcome) int {
	n := 0
	for name, res := range r.known {
		if _, replaced := out.known[name]; !replaced && !slices.Contains(out.forget, name) {
			n += b2i(exists(res))
		}
	}
	for _, res := range out.known {
		n += b2i(exists(res))
	}
	return n
}

func (r *runner) commit(obs []observe.Observation, out batchOutcome, mode batchMode) {
	for _, n := range out.forget {
		delete(r.known, n)
	}
	for n, res := range out.known {
		r.known[n] = res
		logUnread(r.log, res)
	}
	r.committed = time.Now()
	r.publish()
	for _, c := range out.changed {
		r.log.Info("vm "+c[1], "vm", c[0], "reason", mode.String())
	}
	r.log.Debug("names re-read", "reason", mode.String(), "vms", len(obs), "duration", dur(time.Since(earliest(obs))))
	if r.e.OnCommit != nil {
		r.e.OnCommit(r.host.ID, names(obs))
	}
}

// logUnread warns about what could not be compared.
func logUnread(log hclog.Logger, res observe.Result) {
	switch res.Verdict {
	case observe.DomainUnreadable:
		log.Warn("cannot read domain; its row and status are left as they were", "vm", res.Name, "error", res.Err)
	case observe.RecordUnreadable:
		log.Warn("recorded configuration cannot be read; not compared until the next apply records it", "vm", res.Name, "error", res.Err)
	}
}

func earliest(obs []observe.Observation) time.Time {
	t := time.Now()
	for _, o := range obs {
		if !o.At.IsZero() && o.At.Before(t) {
			t = o.At
		}
	}
	return t
}
