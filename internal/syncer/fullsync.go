package syncer

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// observed is one domain as read from libvirt.
type observed struct {
	Name string
	Info vminfo.VMInfo
	// Gone: the domain does not exist (an event for a domain since
	// undefined, or one that vanished between listing and reading).
	Gone bool
	// Err: the domain exists but could not be read into a VMInfo. Its row
	// is left alone rather than soft-deleted as if it had vanished.
	Err error
	At  time.Time
}

func (o observed) unreadable() bool { return o.Err != nil }

func (o observed) withErr(err error) observed {
	o.Err = err
	return o
}

// SyncResult is the outcome of one full sync of one host.
type SyncResult struct {
	Host       string        `json:"host"`
	URI        string        `json:"uri"` // redacted
	VMs        int           `json:"vms"`
	Inserted   int           `json:"inserted"`
	Revived    int           `json:"revived"`
	Deleted    int           `json:"deleted"`
	Drifted    int           `json:"drifted"`
	Unreadable int           `json:"unreadable"`
	Fetch      time.Duration `json:"fetch_ns"`
	Write      time.Duration `json:"write_ns"`
	// SyncedAt is when the snapshot was complete (the store's last_sync_at).
	SyncedAt time.Time `json:"synced_at"`
	Err      error     `json:"-"`
}

// String is the one-line summary --once prints.
func (r SyncResult) String() string {
	if r.Err != nil {
		return fmt.Sprintf("host %s (%s): FAILED: %v", r.Host, r.URI, r.Err)
	}
	return fmt.Sprintf("host %s (%s): %d vms: %d new, %d revived, %d soft-deleted, %d drifted, %d unreadable in %s",
		r.Host, r.URI, r.VMs, r.Inserted, r.Revived, r.Deleted, r.Drifted, r.Unreadable,
		(r.Fetch + r.Write).Round(time.Millisecond))
}

// RuntimeLister is implemented by connections that report the runtime
// facts of every domain in a few calls, instead of the four per domain
// Conn.Runtime costs; the full sync then asks libvirt little more than
// each domain's XML. The map is keyed by domain UUID.
type RuntimeLister interface {
	Runtimes(ctx context.Context) (map[string]vminfo.Runtime, error)
}

// fetchAll lists every domain of the host, active and inactive, and reads
// each one with FetchWorkers parallel readers. Everything is read before
// the store's write lock is taken, so the lock is held only for the writes.
func (e *Engine) fetchAll(ctx context.Context, c Conn) ([]observed, error) {
	doms, err := c.ListDomains(ctx)
	if err != nil {
		return nil, err
	}
	var rts map[string]vminfo.Runtime
	if rl, ok := c.(RuntimeLister); ok {
		if rts, err = rl.Runtimes(ctx); err != nil {
			return nil, err
		}
	}
	return e.fetchDomains(ctx, c, doms, func(_ context.Context, d hypervisor.Domain) (hypervisor.Domain, *vminfo.Runtime, error) {
		if rt, ok := rts[d.UUID]; ok {
			return d, &rt, nil
		}
		return d, nil, nil // defined since Runtimes answered: asked one by one
	})
}

// fetchNames reads the named domains (events, drift checks); a name that
// does not exist comes back Gone.
func (e *Engine) fetchNames(ctx context.Context, c Conn, names []string) ([]observed, error) {
	doms := make([]hypervisor.Domain, len(names))
	for i, n := range names {
		doms[i] = hypervisor.Domain{Name: n}
	}
	return e.fetchDomains(ctx, c, doms, func(ctx context.Context, d hypervisor.Domain) (hypervisor.Domain, *vminfo.Runtime, error) {
		d, err := c.LookupDomain(ctx, d.Name)
		return d, nil, err
	})
}

// resolver completes a domain before it is read: it may look it up, and
// may already know its runtime facts (nil: ask libvirt).
type resolver func(context.Context, hypervisor.Domain) (hypervisor.Domain, *vminfo.Runtime, error)

// fetchDomains reads doms in parallel after resolve. The first
// connection-level error cancels the rest.
func (e *Engine) fetchDomains(ctx context.Context, c Conn, doms []hypervisor.Domain, resolve resolver) ([]observed, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]observed, len(doms))
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	fail := func(err error) { once.Do(func() { firstErr = err; cancel() }) }
	for range min(e.FetchWorkers, max(len(doms), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				o, err := readDomain(ctx, c, doms[i], resolve)
				if err != nil {
					fail(err)
					continue
				}
				out[i] = o
			}
		}()
	}
feed:
	for i := range doms {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// readDomain reads one domain's persistent definition and runtime facts.
// Not-found is an answer (Gone), a domain libvirt describes in a way we
// cannot parse is kept as Err; anything else is the connection failing.
func readDomain(ctx context.Context, c Conn, d hypervisor.Domain, resolve resolver) (observed, error) {
	o := observed{Name: d.Name}
	d, known, err := resolve(ctx, d)
	var xml string
	var rt vminfo.Runtime
	if err == nil {
		xml, err = c.DomainXML(ctx, d, true)
	}
	switch {
	case err != nil:
	case known != nil:
		rt = *known
	default:
		rt, err = c.Runtime(ctx, d)
	}
	o.At = time.Now()
	switch {
	case hypervisor.IsNotFound(err):
		o.Gone = true
		return o, nil
	case connectionLevel(ctx, err):
		return o, err
	case err != nil:
		// libvirt refused this one domain: a problem of the domain, not of
		// the connection. Failing the whole sync would fail it forever.
		return o.withErr(err), nil
	}
	o.Info, o.Err = vminfo.FromXML(xml, rt)
	return o, nil
}

// connectionLevel reports errors that say nothing about one domain: the
// connection or the caller gave up.
func connectionLevel(ctx context.Context, err error) bool {
	return err != nil && (ctx.Err() != nil || errors.Is(err, hypervisor.ErrConnectionLost) ||
		errors.Is(err, hypervisor.ErrTimeout) || errors.Is(err, hypervisor.ErrPoolClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// fullOutcome is what a full-sync write produced, applied to memory only
// after the commit.
type fullOutcome struct {
	res  SyncResult
	live map[string]bool // name -> drifted
}

// writeFull records a snapshot of every domain of h in one transaction:
// new domains are inserted with their configuration recorded, soft-deleted
// ones revived, vanished ones soft-deleted, and every present domain's
// live snapshot and drift stored beside its untouched config_json.
func (e *Engine) writeFull(ctx context.Context, h store.Host, obs []observed, hs store.HostStatus) (fullOutcome, error) {
	var out fullOutcome
	err := e.write(ctx, func(tx *store.Tx) error {
		out = fullOutcome{live: make(map[string]bool, len(obs))} // fn may be re-run
		if err := checkHost(tx, h); err != nil {
			return err
		}
		rows, err := tx.ListVMsWithDeleted(h.ID)
		if err != nil {
			return err
		}
		byName := make(map[string]store.VM, len(rows))
		for _, r := range rows {
			byName[r.Name] = r
		}
		statuses, err := tx.ListVMStatus(h.ID)
		if err != nil {
			return err
		}
		prev := make(map[string]store.VMStatus, len(statuses))
		for _, st := range statuses {
			prev[st.Name] = st
		}
		present := make(map[string]bool, len(obs))
		for _, o := range obs {
			if o.Gone {
				continue
			}
			present[o.Name] = true
			if err := out.record(tx, h.ID, o, byName, prev); err != nil {
				return err
			}
		}
		if err := out.sweep(tx, h.ID, rows, statuses, present); err != nil {
			return err
		}
		hs.VMCount = len(present)
		return tx.PutHostStatus(hs)
	})
	return out, err
}

// record writes one present domain: its row if it has none (or only a
// soft-deleted one), and its status unless that is unchanged.
func (out *fullOutcome) record(tx *store.Tx, hostID string, o observed, byName map[string]store.VM, prev map[string]store.VMStatus) error {
	if o.unreadable() {
		out.res.Unreadable++
		out.live[o.Name] = false // it exists; its row and status stay as they were
		return nil
	}
	row, ok := byName[o.Name]
	var drift []vminfo.Drift
	if !ok || row.DeletedAt != nil {
		inserted, revived, vm, err := tx.InsertVMIfAbsent(hostID, o.Name, o.Info)
		if err != nil {
			return err
		}
		out.res.Inserted += b2i(inserted)
		out.res.Revived += b2i(revived)
		if !inserted && !revived {
			drift = driftOf(vm, o.Info)
		}
	} else {
		drift = driftOf(row, o.Info)
	}
	out.live[o.Name] = len(drift) > 0
	out.res.Drifted += b2i(len(drift) > 0)
	st := vmStatus(hostID, o, drift)
	if old, ok := prev[o.Name]; ok && sameStatus(old, st) {
		return nil // a resync of a quiet host writes next to nothing
	}
	return tx.PutVMStatus(st)
}

// sameStatus compares what a status says, not when it was observed: an
// unchanged status keeps the time it was first seen that way (the host's
// last_sync_at says it is still current).
func sameStatus(a, b store.VMStatus) bool {
	return a.State == b.State && slices.Equal(a.Drift, b.Drift) && sameLive(a.Live, b.Live)
}

// sameLive is a field-by-field equality in which a nil and an empty list
// are the same (a stored snapshot may decode either way).
func sameLive(a, b vminfo.VMInfo) bool {
	if !slices.Equal(a.Disks, b.Disks) || !slices.Equal(a.Interfaces, b.Interfaces) {
		return false
	}
	a.Disks, a.Interfaces, b.Disks, b.Interfaces = nil, nil, nil, nil
	return reflect.DeepEqual(a, b)
}

// sweep soft-deletes the live rows of domains that no longer exist and
// drops statuses left for names with no present domain.
func (out *fullOutcome) sweep(tx *store.Tx, hostID string, rows []store.VM, statuses []store.VMStatus, present map[string]bool) error {
	for _, r := range rows {
		if r.DeletedAt != nil || present[r.Name] {
			continue
		}
		if err := tx.SoftDeleteVM(hostID, r.Name); err != nil {
			return err
		}
		out.res.Deleted++
	}
	for _, st := range statuses {
		if !present[st.Name] {
			if err := tx.DeleteVMStatus(hostID, st.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

func vmStatus(hostID string, o observed, drift []vminfo.Drift) store.VMStatus {
	return store.VMStatus{HostID: hostID, Name: o.Name, Live: o.Info, Drift: drift, State: o.Info.State, ObservedAt: o.At}
}

// driftOf compares a row's recorded configuration with the live one. A
// config_json that cannot be parsed is itself reported as drift: nothing
// can be compared, and an operator has to look at the row.
func driftOf(row store.VM, live vminfo.VMInfo) []vminfo.Drift {
	if row.ConfigErr != nil {
		return []vminfo.Drift{{Field: "config_json", Recorded: "unreadable", Live: "readable"}}
	}
	return vminfo.Compare(row.Config, live)
}

// fullSync reads every domain of h and records them. hs is the host status
// to store with it (LastSyncAt and VMCount are filled in here).
func (e *Engine) fullSync(ctx context.Context, h store.Host, c Conn, hs store.HostStatus) (fullOutcome, error) {
	start := time.Now()
	obs, err := e.fetchAll(ctx, c)
	if err != nil {
		return fullOutcome{}, &phaseError{phase: "read domains", err: err}
	}
	fetched := time.Now()
	e.Logger.Debug("domains read; writing", "host", h.ID, "vms", len(obs), "duration", dur(fetched.Sub(start)))
	if e.OnFetched != nil {
		e.OnFetched(h.ID, len(obs))
	}
	hs.LastSyncAt = timePtr(fetched)
	out, err := e.writeFull(ctx, h, obs, hs)
	if err != nil {
		return fullOutcome{}, &phaseError{phase: "write", store: true, err: err}
	}
	for _, o := range obs {
		if o.Err != nil {
			e.Logger.Warn("cannot read domain; its row and status are left as they were", "host", h.ID, "vm", o.Name, "error", o.Err)
		}
	}
	out.res.Host, out.res.URI, out.res.VMs = h.ID, c.Redacted(), len(out.live)
	out.res.Fetch, out.res.Write, out.res.SyncedAt = fetched.Sub(start), time.Since(fetched), fetched
	e.metrics.duration.WithLabelValues(h.ID).Observe(time.Since(start).Seconds())
	if e.OnCommit != nil {
		e.OnCommit(h.ID, names(obs))
	}
	return out, nil
}

// phaseError says which side failed: a store error should not be mistaken
// for the host going away.
type phaseError struct {
	phase string
	store bool
	err   error
}

func (e *phaseError) Error() string { return e.phase + ": " + e.err.Error() }
func (e *phaseError) Unwrap() error { return e.err }

func isStoreErr(err error) bool {
	var pe *phaseError
	return errors.As(err, &pe) && pe.store
}

func names(obs []observed) []string {
	out := make([]string, 0, len(obs))
	for _, o := range obs {
		out = append(out, o.Name)
	}
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
