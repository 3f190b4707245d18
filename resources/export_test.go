package resources

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
)

// ReadVMForTest runs virtumancer_vm's Read for the VM (hostID, name) as
// Terraform's refresh would, and returns its diagnostics and whether it
// removed the resource. Acceptance tests use it to assert the drift
// warning, which the CLI prints but terraform-plugin-testing does not
// expose.
func ReadVMForTest(ctx context.Context, data *providerdata.Data, hostID, name string) (diag.Diagnostics, bool) {
	r := &vmResource{data: data}
	s := vmSchemaV0(ctx)
	state := tfsdk.State{Schema: s, Raw: tftypes.NewValue(s.Type().TerraformType(ctx), nil)}
	var diags diag.Diagnostics
	diags.Append(state.SetAttribute(ctx, path.Root("id"), vmID(hostID, name))...)
	diags.Append(state.SetAttribute(ctx, path.Root("host_id"), hostID)...)
	diags.Append(state.SetAttribute(ctx, path.Root("name"), name)...)
	if diags.HasError() {
		return diags, false
	}
	resp := resource.ReadResponse{State: state}
	r.Read(ctx, resource.ReadRequest{State: state}, &resp)
	return resp.Diagnostics, resp.State.Raw.IsNull()
}
