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

// From converts the value Configure stored. It returns nil without a
// diagnostic while the provider is not configured yet (validate, early plan).
func From(v any) (*Data, diag.Diagnostics) {
	var diags diag.Diagnostics
	if v == nil {
		return nil, diags
	}
	d, ok := v.(*Data)
	if !ok {
		diags.AddError("Unexpected provider data",
			fmt.Sprintf("Expected *providerdata.Data, got %T. This is a bug in the provider; please report it.", v))
		return nil, diags
	}
	return d, diags
}
