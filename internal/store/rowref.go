package store

import (
	"fmt"
	"strconv"
)

// rowRef names a row in errors, e.g. `virtual_machines row 3 (host "a",
// vm "b")`. It is formatted only when an error needs it: scans build one
// per row, and formatting each eagerly was a measurable part of a resync.
type rowRef struct {
	table    string
	id       int64 // -1: the table has no id column
	host, vm string
	hostOnly bool // the row belongs to a host, not a VM
}

func (r rowRef) String() string {
	s := r.table + " row "
	if r.id >= 0 {
		s += strconv.FormatInt(r.id, 10) + " "
	}
	if r.hostOnly {
		return s + fmt.Sprintf("(host %q)", r.host)
	}
	return s + fmt.Sprintf("(host %q, vm %q)", r.host, r.vm)
}
