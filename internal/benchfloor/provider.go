// Package benchfloor is a provider that does nothing, used only by
// `make bench` (scripts/bench-plan.sh) as the floor the virtumancer provider's
// plan and apply are measured against. It serves two no-op resources:
//
//   - benchfloor_vm has virtumancer_vm's own schema (resources.VMSchema) and
//     CRUD that only echoes the plan into state, so a ratio to it measures
//     what the VM resource's code adds beyond what the schema costs in the
//     framework;
//   - benchfloor_min is the cheapest framework resource: two attributes.
//
// It is built from this repository by the bench script and installed through
// dev_overrides like the real provider; it is never published.
package benchfloor

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
)

// Address is the provider's source address on Terraform's registry host;
// OpenTofu's dev_overrides name it on registry.opentofu.org.
const Address = "registry.terraform.io/virtumancer/benchfloor"

var _ provider.Provider = (*floorProvider)(nil)

type floorProvider struct{}

// New returns the floor provider for providerserver.
func New() provider.Provider { return &floorProvider{} }

func (*floorProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "benchfloor"
}

func (*floorProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{Description: "No-op resources for `make bench`; never use it for anything else."}
}

// Configure has nothing to set up: the floor keeps no connection or store.
func (*floorProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (*floorProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewVM, NewMin}
}

func (*floorProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }
