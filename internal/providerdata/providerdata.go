// Package providerdata is what the provider's Configure hands to every
// resource and data source: the one store and the one libvirt connection pool
// of this provider process. It lives apart from provider/ so resources/ and
// datasources/ can use it without an import cycle.
package providerdata

import (
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// Data is shared by all resources and data sources of one provider instance.
type Data struct {
	Store       *store.Store
	Pool        *hypervisor.Pool
	CallTimeout time.Duration
}

// From converts the value Configure received, for a resource's or data
// source's Configure: `r.data = providerdata.From(req.ProviderData,
// &resp.Diagnostics)`. It returns nil without a diagnostic while the provider
// is not configured yet (validate, early plan): Configured reports that when
// a method needs the data.
func From(v any, diags *diag.Diagnostics) *Data {
	if v == nil {
		return nil
	}
	d, ok := v.(*Data)
	if !ok {
		diags.Append(Bug(fmt.Sprintf("providerdata: expected *providerdata.Data from Configure, got %T", v)))
		return nil
	}
	return d
}
