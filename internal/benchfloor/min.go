package benchfloor

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ resource.Resource = (*minFloor)(nil)

// minFloor is benchfloor_min, the cheapest framework resource: a required
// `input` and a computed `id` copied from it.
type minFloor struct{}

// NewMin returns the benchfloor_min resource.
func NewMin() resource.Resource { return &minFloor{} }

func (*minFloor) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_min"
}

func (*minFloor) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The cheapest framework resource: `id` is a copy of `input`.",
		Attributes: map[string]schema.Attribute{
			"input": schema.StringAttribute{Required: true, Description: "Any string."},
			"id":    schema.StringAttribute{Computed: true, Description: "A copy of `input`."},
		},
	}
}

type minModel struct {
	ID    types.String `tfsdk:"id"`
	Input types.String `tfsdk:"input"`
}

func (*minFloor) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m minModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.ID = m.Input
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (*minFloor) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (*minFloor) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m minModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.ID = m.Input
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (*minFloor) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}
