package syncer

import (
	"context"
	"sync"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// SyncOnce connects to every managed host and runs one full sync of each,
// all hosts in parallel. It needs no Open and leaves nothing running. One
// result per host, failures in SyncResult.Err; the error is for problems
// before any host was tried (store unreadable, unknown --host).
func (e *Engine) SyncOnce(ctx context.Context) ([]SyncResult, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	hosts, err := e.managedHosts(ctx)
	if err != nil {
		return nil, err
	}
	results := make([]SyncResult, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.syncOnce(ctx, h)
		}()
	}
	wg.Wait()
	return results, nil
}

func (e *Engine) syncOnce(ctx context.Context, h store.Host) SyncResult {
	c, err := e.Dial(ctx, h.ID, h.URI)
	if err == nil {
		// Connected stays false: nothing holds the connection after we return.
		var out fullOutcome
		if out, err = e.fullSync(ctx, h, c, store.HostStatus{HostID: h.ID}); err == nil {
			return out.res
		}
	}
	now := time.Now()
	// Best effort: the host's status row says why; the caller reports err.
	_ = e.write(ctx, func(tx *store.Tx) error {
		if err := checkHost(tx, h); err != nil {
			return err
		}
		return tx.PutHostStatus(store.HostStatus{HostID: h.ID, LastError: err.Error(), LastErrorAt: &now})
	})
	return SyncResult{Host: h.ID, URI: hypervisor.Redact(h.URI), Err: err}
}
