package resources

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
)

// NetworkForTest is the part of a virtumancer_network that
// PlanNetworkForTest plans from and to; Bridge and UUID may be empty.
type NetworkForTest struct{ Mode, CIDR, Bridge, UUID string }

// PlanNetworkForTest runs virtumancer_network's ModifyPlan for the network
// (hostID, name) moving from prior to planned (its computed values as the
// framework plans them: those of prior), and returns the diagnostics.
// Acceptance tests use it to assert the restart warning, which the CLI
// prints but terraform-plugin-testing does not expose.
func PlanNetworkForTest(ctx context.Context, data *providerdata.Data, hostID, name string, prior, planned NetworkForTest) diag.Diagnostics {
	s := networkSchemaV0()
	null := tftypes.NewValue(s.Type().TerraformType(ctx), nil)
	state, plan := tfsdk.State{Schema: s, Raw: null}, tfsdk.Plan{Schema: s, Raw: null}
	diags := state.Set(ctx, testNetworkModel(hostID, name, prior))
	diags.Append(plan.Set(ctx, testNetworkModel(hostID, name, planned))...)
	if diags.HasError() {
		return diags
	}
	req := resource.ModifyPlanRequest{State: state, Plan: plan, Config: tfsdk.Config{Schema: s, Raw: plan.Raw}}
	resp := resource.ModifyPlanResponse{Plan: plan}
	(&networkResource{data: data}).ModifyPlan(ctx, req, &resp)
	return resp.Diagnostics
}

func testNetworkModel(hostID, name string, n NetworkForTest) *networkModel {
	return &networkModel{
		HostID: types.StringValue(hostID), Name: types.StringValue(name), Mode: types.StringValue(n.Mode),
		CIDR: optString(n.CIDR), Bridge: optString(n.Bridge), Autostart: types.BoolValue(false),
		ID: types.StringValue(hostID + "/" + name), UUID: optString(n.UUID), Active: types.BoolValue(true),
	}
}
