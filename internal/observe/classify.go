package observe

import (
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Observation is one domain as a read left it: present (Live set), gone, or
// present but unreadable (Err set).
type Observation struct {
	Name string
	Live *Live
	// Gone: the domain does not exist on a host that answered.
	Gone bool
	// Err: the domain exists but libvirt's answer about it could not be
	// read into a VMInfo.
	Err error
	At  time.Time
}

// Classify decides what one VM is from its row (nil: no row) and what was
// read of its domain. It is pure: every verdict except HostUnreachable is
// decided here.
func Classify(hostID string, row *store.VM, o Observation) Result {
	r := Result{HostID: hostID, Name: o.Name, Row: row, Live: o.Live, At: o.At}
	if r.Name == "" && row != nil {
		r.Name = row.Name
	}
	switch {
	case o.Err != nil:
		r.Verdict, r.Err = DomainUnreadable, o.Err
	case o.Gone:
		// Without a row too (an event for a name nobody recorded) it is
		// reported as missing with a nil Row.
		r.Verdict = Missing
	case row == nil:
		r.Verdict = NoRecord
	default:
		rec, err := Recorded(*row)
		if err != nil {
			r.Verdict, r.Err = RecordUnreadable, err
			return r
		}
		r.Drift = vminfo.Compare(rec, o.Live.Info)
		r.Verdict = InStep
		if len(r.Drift) > 0 {
			r.Verdict = Drifted
		}
	}
	return r
}

// Recorded is the configuration a row records, or why it cannot be read.
// It is the only place that decides which copy of the record counts: our
// own vmsync_recorded copy where we wrote one (Virtumancer rewrites
// config_json with the live domain whenever its UI lists VMs, so that copy
// would hide drift), else config_json. Either copy unreadable makes the
// record unreadable: a corrupt config_json is what Virtumancer and every
// other reader sees, and the next apply rewrites both.
func Recorded(row store.VM) (vminfo.VMInfo, error) {
	switch {
	case row.ConfigErr != nil:
		return vminfo.VMInfo{}, row.ConfigErr
	case row.RecordErr != nil:
		return vminfo.VMInfo{}, row.RecordErr
	}
	return row.Recorded, nil
}

// Unreachable classifies every row of a host that could not be asked.
func Unreachable(hostID string, rows []store.VM, err error) []Result {
	out := make([]Result, len(rows))
	for i := range rows {
		out[i] = Result{HostID: hostID, Name: rows[i].Name, Row: &rows[i], Verdict: HostUnreachable, Err: err}
	}
	return out
}

// ClassifyRows pairs rows with the observations read for them by name
// (ReadNames(rows' names) returns them in the same order).
func ClassifyRows(hostID string, rows []store.VM, obs []Observation) []Result {
	out := make([]Result, len(rows))
	for i := range rows {
		out[i] = Classify(hostID, &rows[i], obs[i])
	}
	return out
}
