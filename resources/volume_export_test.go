package resources

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
)

// VolumeDestroyWarningsForTest returns what virtumancer_volume's plan says
// when it would destroy the volume (hostID, pool, name). Acceptance tests
// use it to assert the warning, which the CLI prints but
// terraform-plugin-testing does not expose.
func VolumeDestroyWarningsForTest(ctx context.Context, data *providerdata.Data, hostID, pool, name string) diag.Diagnostics {
	r := &volumeResource{data: data}
	prior := &volumeModel{HostID: types.StringValue(hostID), Pool: types.StringValue(pool), Name: types.StringValue(name)}
	var diags diag.Diagnostics
	r.warnUsers(ctx, prior, "destroys", &diags)
	return diags
}
