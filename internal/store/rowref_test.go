package store

import (
	"testing"
)

// rowRef reads as the messages always did.
func TestRowRefString(t *testing.T) {
	for _, c := range []struct {
		r    rowRef
		want string
	}{
		{rowRef{table: "virtual_machines", id: 3, host: "h", vm: `v"1`}, `virtual_machines row 3 (host "h", vm "v\"1")`},
		{rowRef{table: "vmsync_vm_status", id: -1, host: "h", vm: "v"}, `vmsync_vm_status row (host "h", vm "v")`},
		{rowRef{table: "vmsync_host_status", id: -1, host: "h", hostOnly: true}, `vmsync_host_status row (host "h")`},
	} {
		if got := c.r.String(); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}
}
