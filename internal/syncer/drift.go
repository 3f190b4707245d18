package syncer

import (
	"context"
	"sync"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// DriftReport is the result of a live drift check.
type DriftReport struct {
	// Drifted lists VMs whose live domain differs from the recorded
	// config_json, ordered by host then name.
	Drifted []DriftedVM `json:"drifted"`
	// Checked counts the recorded VMs compared with a live domain.
	Checked int `json:"checked"`
	// Errors names the hosts that could not be checked.
	Errors []HostError `json:"errors"`
}

// HostError is a host a check could not reach or read.
type HostError struct {
	Host  string `json:"host"`
	URI   string `json:"uri"` // redacted
	Error string `json:"error"`
}

// missingDrift is reported for a recorded VM whose domain no longer exists
// on its (reachable) host: its whole configuration is gone.
var missingDrift = []vminfo.Drift{{Field: "domain", Recorded: "defined", Live: "missing"}}

// CheckDrift compares every recorded VM of the managed hosts with its live
// domain, all hosts in parallel. It only reads: neither the store nor
// libvirt is changed, so it can run against a read-only store, beside a
// running daemon, or in CI. It needs no Open.
func (e *Engine) CheckDrift(ctx context.Context) (DriftReport, error) {
	if err := e.validate(); err != nil {
		return DriftReport{}, err
	}
	hosts, err := e.managedHosts(ctx)
	if err != nil {
		return DriftReport{}, err
	}
	type hostResult struct {
		drifted []DriftedVM
		checked int
		err     error
	}
	results := make([]hostResult, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			r.drifted, r.checked, r.err = e.checkHost(ctx, h)
		}()
	}
	wg.Wait()
	rep := DriftReport{Drifted: []DriftedVM{}, Errors: []HostError{}}
	for i, r := range results {
		rep.Drifted = append(rep.Drifted, r.drifted...)
		rep.Checked += r.checked
		if r.err != nil {
			rep.Errors = append(rep.Errors, HostError{Host: hosts[i].ID, URI: hypervisor.Redact(hosts[i].URI), Error: r.err.Error()})
		}
	}
	return rep, nil
}

// checkHost reads the host's recorded rows and only those domains, so
// domains the store does not know (not managed by anyone) cost nothing.
func (e *Engine) checkHost(ctx context.Context, h store.Host) ([]DriftedVM, int, error) {
	rows, err := e.Store.ListVMs(ctx, h.ID)
	if err != nil || len(rows) == 0 {
		return nil, 0, err
	}
	c, err := e.Dial(ctx, h.ID, h.URI)
	if err != nil {
		return nil, 0, err
	}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	obs, err := e.fetchNames(ctx, c, names)
	if err != nil {
		return nil, 0, err
	}
	var out []DriftedVM
	for i, o := range obs {
		d := DriftedVM{Host: h.ID, VM: o.Name, State: o.Info.State, ObservedAt: o.At}
		switch {
		case o.Gone:
			d.Drift = missingDrift
		case o.Err != nil:
			d.Drift = []vminfo.Drift{{Field: "domain", Recorded: "readable", Live: "unreadable: " + o.Err.Error()}}
		default:
			d.Drift = driftOf(rows[i], o.Info)
		}
		if len(d.Drift) > 0 {
			out = append(out, d)
		}
	}
	return out, len(rows), nil
}
