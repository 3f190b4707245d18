package resources

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
)

// VMSchema returns the virtumancer_vm schema, so the bench's no-op floor
// resource (internal/benchfloor) measures the framework's cost of this very
// schema apart from what the VM resource's code adds.
func VMSchema(ctx context.Context) schema.Schema { return vmSchemaV0(ctx) }
