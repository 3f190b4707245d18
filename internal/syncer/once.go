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
	if ok, err := e.Claims.Claim(ctx, h.ID); err != nil || !ok {
		return e.ownedElsewhere(ctx, h, err)
	}
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
		if err := e.checkHost(tx, h); err != nil {
			return err
		}
		return tx.PutHostStatus(store.HostStatus{HostID: h.ID, LastError: err.Error(), LastErrorAt: &now})
	})
	return SyncResult{Host: h.ID, URI: hypervisor.Redact(h.URI), Err: err}
}

// ownedElsewhere is the result for a host --once could not claim: a live
// replica syncs it, so this pass leaves it alone.
func (e *Engine) ownedElsewhere(ctx context.Context, h store.Host, claimErr error) SyncResult {
	res := SyncResult{Host: h.ID, URI: hypervisor.Redact(h.URI), Err: claimErr}
	if claimErr != nil {
		return res
	}
	owners, err := e.Claims.Owners(ctx, []string{h.ID})
	res.OwnedBy, res.Err = owners[h.ID].Replica, err
	if res.OwnedBy == "" && err == nil {
		res.OwnedBy = "(another replica)"
	}
	return res
}
