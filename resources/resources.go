// Package resources holds the provider's managed resources: one file per
// resource (vm.go, host.go, volume.go) and files beside it named after it for
// its parts. Each constructor is New<Name>Resource, listed in
// provider.Resources.
package resources
