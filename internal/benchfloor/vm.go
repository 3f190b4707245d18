package benchfloor

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/virtumancer/terraform-provider-virtumancer/resources"
)

var _ resource.Resource = (*vmFloor)(nil)

// vmFloor is benchfloor_vm: virtumancer_vm's schema, plan modifiers and
// validators included, with CRUD that only echoes.
type vmFloor struct{}

// NewVM returns the benchfloor_vm resource.
func NewVM() resource.Resource { return &vmFloor{} }

func (*vmFloor) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_vm"
}

func (*vmFloor) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = resources.VMSchema(ctx)
}

func (*vmFloor) Create(_ context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	resp.State.Raw = Echo(req.Plan.Raw)
}

// Read keeps the state as it is: the floor has nothing live to look at.
func (*vmFloor) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (*vmFloor) Update(_ context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.State.Raw = Echo(req.Plan.Raw)
}

// Delete has nothing to remove; the framework clears the state.
func (*vmFloor) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

// Echo returns the planned value with every unknown value (a computed
// attribute the plan left open) replaced by a null of its type, which the
// schema accepts as state; known values and nested blocks are kept as planned.
func Echo(plan tftypes.Value) tftypes.Value {
	out, err := tftypes.Transform(plan, func(_ *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
		if !v.IsKnown() {
			return tftypes.NewValue(v.Type(), nil), nil
		}
		return v, nil
	})
	if err != nil { // Transform fails only on a callback error, and ours returns none
		panic("benchfloor: echo of the plan failed, a bug in the bench floor: " + err.Error())
	}
	return out
}
