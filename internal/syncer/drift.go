package syncer

import (
	"context"
	"fmt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// CheckDrift classifies every recorded VM of the managed hosts against its
// live domain (observe.Reader.Check: all hosts in parallel, only the
// domains the rows name). It only reads: neither the store nor libvirt is
// changed, so it can run against a read-only store, beside a running
// daemon, or in CI. It needs no Open. A host that could not be asked is
// listed in the report's UnreachableHosts; the error is for the store.
func (e *Engine) CheckDrift(ctx context.Context) (observe.Report, error) {
	if err := e.validate(); err != nil {
		return observe.Report{}, err
	}
	hosts, err := e.managedHosts(ctx)
	if err != nil {
		return observe.Report{}, err
	}
	uris := make(map[string]string, len(hosts))
	for _, h := range hosts {
		uris[h.ID] = h.URI
	}
	all, err := e.Store.ListAllVMs(ctx)
	if err != nil {
		return observe.Report{}, fmt.Errorf("syncer: %w", err)
	}
	var rows []store.VM
	for _, r := range all {
		if _, ok := uris[r.HostID]; ok {
			rows = append(rows, r)
		}
	}
	results, failures := e.reader().Check(ctx, rows, func(ctx context.Context, hostID string) (observe.Source, error) {
		c, err := e.Dial(ctx, hostID, uris[hostID])
		if err != nil {
			return nil, err // not c: a typed nil would make a non-nil Source
		}
		return c, nil
	})
	failed := make([]observe.HostError, len(failures))
	for i, f := range failures {
		failed[i] = observe.HostError{Host: f.HostID, URI: hypervisor.Redact(uris[f.HostID]), Error: f.Err.Error()}
	}
	return observe.NewReport(results, failed), nil
}
