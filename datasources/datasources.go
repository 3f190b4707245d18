// Package datasources holds the provider's data sources, one file each.
// They read the store and render what internal/observe decides about each
// VM (observed.go); none of them reads a domain or compares a record itself.
package datasources

import (
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// All lists the data source constructors the provider serves.
func All() []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewHost, NewHosts, NewVM, NewVMs, NewDrift,
	}
}

// stateMissing is the state of a VM whose row exists but whose domain does
// not, on a host that answered (observe.Missing).
const stateMissing = "missing"

// stateFilterValues are what the `state` filter of virtumancer_vms accepts.
var stateFilterValues = append(append([]string{}, vminfo.StateNames...), stateMissing)

// graphicsName renders VMInfo.Graphics as virtumancer_vm's `graphics`.
func graphicsName(g vminfo.Graphics) string {
	switch {
	case g.VNC:
		return "vnc"
	case g.Spice:
		return "spice"
	}
	return "none"
}

// quoted renders allowed values for a description: `a`, `b`, `c`.
func quoted[S ~string](values []S) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "`" + string(v) + "`"
	}
	return strings.Join(q, ", ")
}

// configured returns the provider data or reports why there is none.
func configured(v any, diags *diag.Diagnostics) *providerdata.Data {
	d, ds := providerdata.From(v)
	diags.Append(ds...)
	if d == nil && !ds.HasError() {
		diags.Append(providerdata.NotConfigured())
	}
	return d
}

func configureInto(dst **providerdata.Data, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d, diags := providerdata.From(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	*dst = d
}
