package providerdata

import (
	"context"
	"errors"
	"fmt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// ErrUnknownHost is returned (wrapped) by HostConn when host_id names no row.
var ErrUnknownHost = errors.New("unknown host")

// HostConn finds the host row and returns the shared connection to it.
// Errors say which of the two failed: a host_id missing from the store
// (ErrUnknownHost, a config mistake) or a host that could not be reached
// (the caller must keep state and report it).
func (d *Data) HostConn(ctx context.Context, hostID string) (*hypervisor.Conn, store.Host, error) {
	h, err := d.Store.GetHost(ctx, hostID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, h, fmt.Errorf("%w: host_id %q is not in the store %s; create it with a virtumancer_host resource or fix host_id", ErrUnknownHost, hostID, d.Store.Path())
	}
	if err != nil {
		return nil, h, err
	}
	c, err := d.Pool.Get(ctx, h.ID, h.URI)
	if err != nil {
		return nil, h, err
	}
	return c, h, nil
}
