package syncer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
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
	// Owned is true while this replica holds the host's claim and syncs it;
	// Owner names the replica that does ("" while none holds it), and
	// OwnerSynced says whether that replica has fully synced it since it
	// took it. With SQLite, or one replica, every host is owned here.
	Owned       bool   `json:"owned"`
	Owner       string `json:"owner"`
	OwnerSynced bool   `json:"owner_synced"`

	ownerAlive bool // the owner's heartbeat is fresh
	knowledge  hostKnowledge
}

// hostKnowledge is what a runner last published about its VMs.
type hostKnowledge struct {
	vms, drifted int
	// checked counts the recorded VMs classified; attention holds those
	// that need attention (observe.Verdict.Attention).
	checked   int
	attention []observe.Result
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

// Ready reports whether the engine can be trusted (SPEC 5's /readyz): it
// has not stopped on its own (the store is open and is still the file at
// its path), the hosts table has been read, and every managed host has
// completed a full sync since the engine started. Otherwise reason says
// why not, naming the hosts still waiting.
func (e *Engine) Ready() (ready bool, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fatalErr != nil {
		return false, e.fatalErr.Error()
	}
	if !e.hostsLoaded {
		return false, "hosts table not read yet"
	}
	var waiting, unowned []string
	for id, st := range e.status {
		switch {
		case st.Owned && !st.Synced:
			waiting = append(waiting, id)
		case st.Owned:
		case st.Owner == "" || !st.ownerAlive:
			unowned = append(unowned, id)
		case !st.OwnerSynced:
			waiting = append(waiting, id+" (by "+st.Owner+")")
		}
	}
	if len(unowned) > 0 {
		slices.Sort(unowned)
		return false, fmt.Sprintf("%d host(s) not owned by a live replica: %s", len(unowned), strings.Join(unowned, ", "))
	}
	if len(waiting) > 0 {
		slices.Sort(waiting)
		return false, fmt.Sprintf("%d host(s) not synced yet: %s", len(waiting), strings.Join(waiting, ", "))
	}
	return true, ""
}

// Drift is the drift report of the managed hosts as this engine knows
// them now: every event, store change and check it has applied, in the
// same shape as CheckDrift's. A host not synced since the engine started
// is listed as not checked, with its last error if it has one.
func (e *Engine) Drift(context.Context) (observe.Report, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var results []observe.Result
	var failed []observe.HostError
	checked := 0
	for _, st := range e.status {
		if !st.Owned {
			continue // another replica reports it (see /api/v1/hosts)
		}
		if !st.Synced || (!st.Connected && st.LastError != "") {
			failed = append(failed, observe.HostError{Host: st.ID, URI: st.URI, Error: notChecked(*st)})
			continue
		}
		results = append(results, st.knowledge.attention...)
		checked += st.knowledge.checked
	}
	rep := observe.NewReport(results, failed)
	rep.Checked = checked // NewReport counts what it is given: only the VMs that need attention
	return rep, nil
}

func notChecked(st HostStatus) string {
	switch {
	case st.LastError != "" && !st.Synced:
		return "not synced yet: " + st.LastError
	case st.LastError != "":
		return "disconnected: " + st.LastError
	}
	return "not synced yet"
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
