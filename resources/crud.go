package resources

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
)

// hostScoped is the model of a resource that lives on one host.
type hostScoped interface {
	logFields(context.Context) context.Context
	hostID() string
}

// begin starts each CRUD step of a host-scoped resource: the model from the
// plan or state (get), its log fields, and the connection to its host; the
// connection is nil after a diagnostic.
func begin[M any, P interface {
	*M
	hostScoped
}](ctx context.Context, data *providerdata.Data, get func(context.Context, any) diag.Diagnostics, diags *diag.Diagnostics) (context.Context, M, *hypervisor.Conn) {
	var m M
	if !providerdata.Configured(data, diags) {
		return ctx, m, nil
	}
	if diags.Append(get(ctx, &m)...); diags.HasError() {
		return ctx, m, nil
	}
	p := P(&m)
	ctx = p.logFields(ctx)
	return ctx, m, data.Conn(ctx, p.hostID(), diags)
}
