package syncer

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// SyncResult is the outcome of one full sync of one host.
type SyncResult struct {
	Host     string `json:"host"`
	URI      string `json:"uri"` // redacted
	VMs      int    `json:"vms"`
	Inserted int    `json:"inserted"`
	Revived  int    `json:"revived"`
	Deleted  int    `json:"deleted"`
	Drifted  int    `json:"drifted"`
	// Unreadable counts domains libvirt describes in a way that cannot be
	// read (observe.DomainUnreadable): their rows and statuses are left alone.
	Unreadable int `json:"unreadable"`
	// UnreadableRecords counts rows whose recorded configuration cannot be
	// read (observe.RecordUnreadable): status kept, not compared.
	UnreadableRecords int `json:"unreadable_records"`
	// Newer counts rows written after the libvirt listing was taken, which
	// this sync therefore left as they were.
	Newer int           `json:"newer"`
	Fetch time.Duration `json:"fetch_ns"`
	Write time.Duration `json:"write_ns"`
	// SyncedAt is when the snapshot was complete (the store's last_sync_at).
	SyncedAt time.Time `json:"synced_at"`
	// OwnedBy names the live replica that syncs the host, which --once
	// therefore left alone (PostgreSQL stores with replicas).
	OwnedBy string `json:"owned_by,omitempty"`
	Err     error  `json:"-"`
}

// String is the one-line summary --once prints.
func (r SyncResult) String() string {
	if r.Err != nil {
		return fmt.Sprintf("host %s (%s): FAILED: %v", r.Host, r.URI, r.Err)
	}
	if r.OwnedBy != "" {
		return fmt.Sprintf("host %s (%s): skipped: replica %s syncs it", r.Host, r.URI, r.OwnedBy)
	}
	return fmt.Sprintf("host %s (%s): %d vms: %d new, %d revived, %d soft-deleted, %d drifted, %d unreadable, %d unreadable records in %s",
		r.Host, r.URI, r.VMs, r.Inserted, r.Revived, r.Deleted, r.Drifted, r.Unreadable, r.UnreadableRecords,
		(r.Fetch + r.Write).Round(time.Millisecond))
}

// reader is how the engine reads domains: observe's, with its worker bound.
func (e *Engine) reader() observe.Reader { return observe.Reader{Workers: e.FetchWorkers} }

// fullOutcome is what a full-sync write produced, applied to memory only
// after the commit.
type fullOutcome struct {
	res   SyncResult
	known map[string]observe.Result
}

// writeFull records a snapshot of every domain of h in one transaction:
// new domains are inserted with their configuration recorded, soft-deleted
// ones revived, vanished ones soft-deleted, and every present domain's
// live snapshot and drift stored beside its untouched config_json. Rows
// written at or after listedAt are newer than the snapshot and left alone.
// pre, when not nil, is the host's rows read beforehand; they stand in for
// listing the host inside the write when nothing was committed since.
func (e *Engine) writeFull(ctx context.Context, h store.Host, obs []observe.Observation, listedAt time.Time, hs store.HostStatus, pre *store.HostRows) (fullOutcome, error) {
	var out fullOutcome
	err := e.write(ctx, func(tx *store.Tx) error {
		out = fullOutcome{known: make(map[string]observe.Result, len(obs))} // fn may be re-run
		if err := e.checkHost(tx, h); err != nil {
			return err
		}
		rows, statuses, err := hostRows(tx, h.ID, pre)
		if err != nil {
			return err
		}
		byName := make(map[string]store.VM, len(rows))
		for _, r := range rows {
			byName[r.Name] = r
		}
		prev := make(map[string]store.VMStatus, len(statuses))
		for _, st := range statuses {
			prev[st.Name] = st
		}
		present := make(map[string]bool, len(obs))
		w := recorder{tx: tx, hostID: h.ID, since: listedAt, prev: prev, res: &out.res, bulk: &bulkWrites{}}
		for _, o := range obs {
			if o.Gone {
				continue
			}
			present[o.Name] = true
			row, ok := byName[o.Name]
			res, err := w.present(o, row, ok)
			if err != nil {
				return err
			}
			out.known[o.Name] = res
		}
		if err := w.flush(out.known); err != nil {
			return err
		}
		if err := w.sweep(rows, statuses, present); err != nil {
			return err
		}
		hs.VMCount = len(present)
		return tx.PutHostStatus(hs)
	})
	return out, err
}

// hostRows is the host's rows and statuses as this write transaction sees
// them: pre when it is still current, else listed now.
func hostRows(tx *store.Tx, hostID string, pre *store.HostRows) ([]store.VM, []store.VMStatus, error) {
	if pre != nil {
		if ok, err := tx.Current(*pre); err != nil || ok {
			return pre.VMs, pre.Statuses, err
		}
	}
	rows, err := tx.ListVMsWithDeleted(hostID)
	if err != nil {
		return nil, nil, err
	}
	statuses, err := tx.ListVMStatus(hostID)
	return rows, statuses, err
}

// recorder writes what observe decided, one VM at a time, inside one
// transaction. The verdicts' policy is observe's table; this only renders
// the "sync service" column of it into store writes.
type recorder struct {
	tx     *store.Tx
	hostID string
	// since is when the libvirt read was taken: rows written at or after
	// it are newer than what was read and are neither soft-deleted nor
	// revived.
	since time.Time
	// prev holds the current statuses when known (full sync): an
	// unchanged status is not rewritten.
	prev map[string]store.VMStatus
	res  *SyncResult
	// bulk, when set (full sync), collects the inserts of new rows and the
	// statuses, which flush writes in bulk (store.Tx.InsertNewVMs,
	// PutVMStatuses); nil (events) writes each at once.
	bulk *bulkWrites
}

// bulkWrites are a full sync's writes held for flush.
type bulkWrites struct {
	fresh    []observe.Observation // domains with no row at all
	statuses []store.VMStatus
}

// present records a domain that exists. row is its row, live or
// soft-deleted, when ok, as read earlier in the same transaction.
func (w recorder) present(o observe.Observation, row store.VM, ok bool) (observe.Result, error) {
	var live *store.VM
	if ok && row.DeletedAt == nil {
		live = &row
	}
	res := observe.Classify(w.hostID, live, o)
	if res.Verdict == observe.NoRecord {
		if ok && row.ChangedSince(w.since) {
			w.res.Newer++ // soft-deleted since we read libvirt: not ours to revive
			return res, nil
		}
		if !ok && w.bulk != nil {
			w.bulk.fresh = append(w.bulk.fresh, o) // flush inserts it and writes its status
			return res, nil
		}
		vm, err := w.insert(o, row, ok)
		if err != nil {
			return res, err
		}
		res = observe.Classify(w.hostID, &vm, o)
	}
	return res, w.status(res)
}

// insert records a domain that has no live row: a new row, or the revival
// of its soft-deleted one (row, when ok). The row was read in this
// transaction, so the store need not look it up again.
func (w recorder) insert(o observe.Observation, row store.VM, ok bool) (store.VM, error) {
	var listed *store.VM
	if ok {
		listed = &row
	}
	inserted, revived, vm, err := w.tx.InsertListedVMIfAbsent(w.hostID, o.Name, o.Live.Info, listed)
	w.res.Inserted += b2i(inserted)
	w.res.Revived += b2i(revived)
	return vm, err
}

// status writes the status row a verdict calls for (none for an
// unreadable domain) and counts the verdict.
func (w recorder) status(res observe.Result) error {
	switch res.Verdict {
	case observe.DomainUnreadable:
		w.res.Unreadable++
		return nil // row and status left as they are
	case observe.RecordUnreadable:
		w.res.UnreadableRecords++ // status kept, not compared
	case observe.Drifted:
		w.res.Drifted++
	case observe.InStep:
	default:
		return nil
	}
	st := store.VMStatus{HostID: w.hostID, Name: res.Name, Live: res.Live.Info, Drift: res.Drift, State: res.Live.Info.State, ObservedAt: res.At}
	if old, ok := w.prev[res.Name]; ok && sameStatus(old, st) {
		return nil // a resync of a quiet host writes next to nothing
	}
	if w.bulk != nil {
		w.bulk.statuses = append(w.bulk.statuses, st)
		return nil
	}
	return w.tx.PutVMStatus(st)
}

// flush writes what a full sync held back: the new rows, whose results
// then replace their NoRecord ones in known, and every status.
func (w recorder) flush(known map[string]observe.Result) error {
	fresh := w.bulk.fresh
	if len(fresh) > 0 {
		news := make([]store.NewVM, len(fresh))
		for i, o := range fresh {
			news[i] = store.NewVM{Name: o.Name, Cfg: o.Live.Info}
		}
		vms, err := w.tx.InsertNewVMs(w.hostID, news)
		if err != nil {
			return err
		}
		w.res.Inserted += len(vms)
		for i, o := range fresh {
			res := observe.Classify(w.hostID, &vms[i], o)
			known[o.Name] = res
			if err := w.status(res); err != nil {
				return err
			}
		}
	}
	return w.tx.PutVMStatuses(w.bulk.statuses)
}

// gone soft-deletes the live row of a domain that no longer exists,
// unless the row is newer than the read. It reports whether it deleted.
func (w recorder) gone(row store.VM) (bool, error) {
	if row.ChangedSince(w.since) {
		w.res.Newer++
		return false, nil
	}
	if err := w.tx.SoftDeleteVM(w.hostID, row.Name); err != nil {
		return false, err
	}
	w.res.Deleted++
	return true, nil
}

// sweep soft-deletes the live rows of domains that no longer exist and
// drops statuses left for names with no present domain.
func (w recorder) sweep(rows []store.VM, statuses []store.VMStatus, present map[string]bool) error {
	for _, r := range rows {
		if r.DeletedAt != nil || present[r.Name] {
			continue
		}
		if _, err := w.gone(r); err != nil {
			return err
		}
	}
	for _, st := range statuses {
		if !present[st.Name] {
			if err := w.tx.DeleteVMStatus(w.hostID, st.Name); err != nil {
				return err
			}
		}
	}
	return nil
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

// fullSync reads every domain of h and records them. hs is the host status
// to store with it (LastSyncAt and VMCount are filled in here). The host's
// rows are read from the store while libvirt is read, which the write then
// need not do (see writeFull).
func (e *Engine) fullSync(ctx context.Context, h store.Host, c Conn, hs store.HostStatus) (fullOutcome, error) {
	start := time.Now()
	pre := e.readRows(ctx, h.ID)
	obs, listedAt, err := e.reader().All(ctx, c)
	rows := <-pre
	if err != nil {
		return fullOutcome{}, &phaseError{phase: "read domains", err: err}
	}
	fetched := time.Now()
	e.Logger.Debug("domains read; writing", "host", h.ID, "vms", len(obs), "duration", dur(fetched.Sub(start)))
	if e.OnFetched != nil {
		e.OnFetched(h.ID, len(obs))
	}
	hs.LastSyncAt = timePtr(fetched)
	out, err := e.writeFull(ctx, h, obs, listedAt, hs, rows)
	if err != nil {
		return fullOutcome{}, &phaseError{phase: "write", store: true, err: err}
	}
	for _, res := range out.known {
		logUnread(e.Logger.With("host", h.ID), res)
	}
	out.res.Host, out.res.URI, out.res.VMs = h.ID, c.Redacted(), len(out.known)
	out.res.Fetch, out.res.Write, out.res.SyncedAt = fetched.Sub(start), time.Since(fetched), fetched
	e.metrics.duration.WithLabelValues(h.ID).Observe(time.Since(start).Seconds())
	if e.OnCommit != nil {
		e.OnCommit(h.ID, names(obs))
	}
	return out, nil
}

// readRows reads the host's rows in the background; nil when that failed
// (the write then lists them itself, and reports any store error).
func (e *Engine) readRows(ctx context.Context, hostID string) <-chan *store.HostRows {
	ch := make(chan *store.HostRows, 1)
	go func() {
		rows, err := e.Store.ReadHostRows(ctx, hostID)
		if err != nil {
			ch <- nil
			return
		}
		ch <- &rows
	}()
	return ch
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

func names(obs []observe.Observation) []string {
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
