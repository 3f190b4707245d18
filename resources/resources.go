// Package resources holds the provider's managed resources, one file each.
package resources

import "github.com/hashicorp/terraform-plugin-framework/resource"

// All lists the resource constructors the provider serves.
func All() []func() resource.Resource {
	return []func() resource.Resource{
		NewVMResource,
		NewHost,
		NewVolume,
	}
}
