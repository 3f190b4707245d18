// Package datasources holds the provider's data sources, one file each; each
// file's constructor is New<Name>DataSource, listed in provider.DataSources.
// They read the store and render what internal/observe decides about each
// VM (observed.go); none of them reads a domain or compares a record itself.
package datasources

import (
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// stateMissing is the state of a VM whose row exists but whose domain does
// not, on a host that answered (observe.Missing).
const stateMissing = "missing"

// stateFilterValues are what the `state` filter of virtumancer_vms accepts.
var stateFilterValues = append(append([]string{}, vminfo.StateNames...), stateMissing)
