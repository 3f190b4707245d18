package providerdata

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// ErrUnknownHost is returned (wrapped) by HostConn when host_id names no row.
var ErrUnknownHost = errors.New("unknown host")

// ErrStore is wrapped by HostConn when the store could not be read (its
// PostgreSQL down or restarting, its file unreadable): nothing is known
// to be wrong with the host.
var ErrStore = errors.New("the store could not be read")

// storeErr is a store error that errors.Is finds ErrStore in, its text
// the store's own (which names the store and the cause).
type storeErr struct{ err error }

func (e storeErr) Error() string   { return e.err.Error() }
func (e storeErr) Unwrap() []error { return []error{ErrStore, e.err} }

// HostConn finds the host row and returns the shared connection to it.
// Errors say which of the two failed: a host_id missing from the store
// (ErrUnknownHost, a config mistake) or a host that could not be reached
// (the caller must keep state and report it).
func (d *Data) HostConn(ctx context.Context, hostID string) (*hypervisor.Conn, store.Host, error) {
	h, err := d.Store.GetHost(ctx, hostID)
	if store.Absent(err) {
		return nil, h, fmt.Errorf("%w: host_id %q is not in the store %s; create it with a virtumancer_host resource or fix host_id", ErrUnknownHost, hostID, d.Store.Path())
	}
	if err != nil {
		return nil, h, storeErr{err}
	}
	c, err := d.Pool.Get(ctx, h.ID, h.URI)
	if err != nil {
		return nil, h, err
	}
	return c, h, nil
}

// Conn is HostConn for resources: it returns the connection, or nil after
// adding the diagnostic, an attribute error on host_id for a host the store
// does not know, and for a host that does not answer an error naming it and
// its redacted URI. Either way the caller returns and the state is kept.
func (d *Data) Conn(ctx context.Context, hostID string, diags *diag.Diagnostics) *hypervisor.Conn {
	c, _, err := d.HostConn(ctx, hostID)
	switch {
	case errors.Is(err, ErrUnknownHost):
		diags.AddAttributeError(path.Root("host_id"), "Unknown host", err.Error()+".")
		return nil
	case errors.Is(err, ErrStore):
		diags.AddError("Unable to read the store", err.Error()+
			"\nThe host was not looked up, so nothing was changed on it; once the store answers again, run the command again. "+
			"The state is left as it was.")
		return nil
	case err != nil:
		diags.AddAttributeError(path.Root("host_id"), "Unable to reach the host", err.Error()+
			"\nCheck that libvirtd runs there and that the host's URI is right; the state is left as it was.")
		return nil
	}
	return c
}
