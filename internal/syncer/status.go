package syncer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// HostStatus is what the engine knows of one host since it started. It is
// the body of /api/v1/hosts and is mirrored into the store's
// vmsync_host_status table for readers in other processes.
type HostStatus struct {
	ID  string `json:"id"`
	URI string `json:"uri"` // redacted
	// Connected is true while the engine holds a working connection and
	// its event subscription.
	Connected bool `json:"connected"`
	// Synced is true once a full sync of the host has committed.
	Synced           bool       `json:"synced"`
	LastSync         *time.Time `json:"last_sync"`
	LastSyncDuration float64    `json:"last_sync_duration_seconds"`
	VMCount          int        `json:"vm_count"`
	DriftedVMs       int        `json:"drifted_vms"`
	LastError        string     `json:"last_error"`
	LastErrorAt      *time.Time `json:"last_error_at"`
	// Outages counts how often a working connection was lost.
	Outages    int        `json:"outages"`
	LastOutage *time.Time `json:"last_outage"`
}

// DriftedVM is one VM whose live configuration differs from its recorded
// config_json, as /api/v1/drift and the drift command report it.
type DriftedVM struct {
	Host       string         `json:"host"`
	VM         string         `json:"vm"`
	State      int            `json:"state"`
	ObservedAt time.Time      `json:"observed_at"`
	Drift      []vminfo.Drift `json:"drift"`
}

// Summary renders d on one line for logs and the drift command.
func (d DriftedVM) Summary() string {
	return fmt.Sprintf("host %q: %s", d.Host, vminfo.DriftSummary(d.VM, d.Drift))
}

// Hosts returns a copy of every managed host's status, ordered by id.
func (e *Engine) Hosts() []HostStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]HostStatus, 0, len(e.status))
	for _, st := range e.status {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b HostStatus) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Ready reports whether the host list has been read and every managed host
// has completed a full sync since the engine started; waiting names the
// hosts that have not.
func (e *Engine) Ready() (ready bool, waiting []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.hostsLoaded {
		return false, nil
	}
	for id, st := range e.status {
		if !st.Synced {
			waiting = append(waiting, id)
		}
	}
	slices.Sort(waiting)
	return len(waiting) == 0, waiting
}

// Drift returns the drifted VMs of the managed hosts as last observed by
// this engine (the store's vmsync_vm_status table), ordered by host and name.
func (e *Engine) Drift(ctx context.Context) ([]DriftedVM, error) {
	rows, err := e.Store.ListDrifted(ctx)
	if err != nil {
		return nil, fmt.Errorf("syncer: list drift: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []DriftedVM{}
	for _, r := range rows {
		if _, ok := e.status[r.HostID]; !ok {
			continue // a host this engine does not manage (filtered or removed)
		}
		out = append(out, DriftedVM{Host: r.HostID, VM: r.Name, State: r.State, ObservedAt: r.ObservedAt, Drift: r.Drift})
	}
	return out, nil
}

// updateStatus applies fn to a host's in-memory status under the lock and
// returns a copy of the result. Updates for a host no longer managed are
// dropped.
func (e *Engine) updateStatus(id string, fn func(st *HostStatus)) (HostStatus, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.status[id]
	if !ok {
		return HostStatus{}, false
	}
	fn(st)
	return *st, true
}

// storeStatus converts the in-memory status into the store's row.
func storeStatus(st HostStatus) store.HostStatus {
	return store.HostStatus{
		HostID: st.ID, Connected: st.Connected, LastSyncAt: st.LastSync,
		LastErrorAt: st.LastErrorAt, LastError: st.LastError, VMCount: st.VMCount,
	}
}

func timePtr(t time.Time) *time.Time { return &t }
