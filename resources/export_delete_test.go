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

// DeleteVMForTest runs virtumancer_vm's Delete for the VM (hostID, name)
// with a state that holds only its identity, as `destroy -refresh=false`
// would for a VM whose domain is already gone.
func DeleteVMForTest(ctx context.Context, data *providerdata.Data, hostID, name string) diag.Diagnostics {
	r := &vmResource{data: data}
	s := vmSchemaV0(ctx)
	state := tfsdk.State{Schema: s, Raw: tftypes.NewValue(s.Type().TerraformType(ctx), nil)}
	var diags diag.Diagnostics
	diags.Append(state.SetAttribute(ctx, path.Root("id"), vmID(hostID, name))...)
	diags.Append(state.SetAttribute(ctx, path.Root("host_id"), hostID)...)
	diags.Append(state.SetAttribute(ctx, path.Root("name"), name)...)
	if diags.HasError() {
		return diags
	}
	resp := resource.DeleteResponse{State: state}
	r.Delete(ctx, resource.DeleteRequest{State: state}, &resp)
	return resp.Diagnostics
}
