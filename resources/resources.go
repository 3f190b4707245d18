// Package resources holds the provider's managed resources: one file per
// resource (vm.go, host.go, volume.go, pool.go) and files beside it named after it for
// its parts. Each constructor is New<Name>Resource, listed in
// provider.Resources.
//
// The VM resource reads in one direction: vm.go (the CRUD entry points),
// vm_schema.go, vm_model.go, vm_plan.go (ModifyPlan), vm_xml.go and
// vm_apply.go (define, redefine, converge, adopt), vm_destroy.go, and
// vm_refresh.go, which only renders what internal/observe decides.
package resources
