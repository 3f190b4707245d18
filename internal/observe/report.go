package observe

import (
	"slices"
	"strings"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Report is the one JSON shape of a drift report: `virtumancer-sync drift
// --json` prints it and the sync service's /api/v1/drift serves it.
type Report struct {
	// InStep is true when no VM needs attention and every host answered:
	// what a CI gate checks.
	InStep bool `json:"in_step"`
	// Checked counts the recorded VMs classified (unreachable hosts' rows
	// included).
	Checked int `json:"checked"`
	// VMs lists every VM that needs attention (see Verdict.Attention),
	// ordered by host then name.
	VMs []Entry `json:"vms"`
	// UnreachableHosts names the hosts that could not be asked.
	UnreachableHosts []HostError `json:"unreachable_hosts"`
}

// Entry is one VM of a report.
type Entry struct {
	Host    string  `json:"host"`
	VM      string  `json:"vm"`
	Verdict Verdict `json:"verdict"`
	// State is the virsh name of the domain's state ("" when not read);
	// StateCode is libvirt's number, as Virtumancer's config_json has it.
	State      string     `json:"state"`
	StateCode  int        `json:"state_code"`
	RowID      int64      `json:"row_id,omitempty"`
	ObservedAt *time.Time `json:"observed_at,omitempty"`
	Drift      []Field    `json:"drift,omitempty"`
	Error      string     `json:"error,omitempty"`
	Remedy     string     `json:"remedy"`
}

// HostError is a host that could not be asked.
type HostError struct {
	Host  string `json:"host"`
	URI   string `json:"uri"` // redacted
	Error string `json:"error"`
}

// EntryOf renders a result for a report.
func EntryOf(r Result) Entry {
	e := Entry{Host: r.HostID, VM: r.Name, Verdict: r.Verdict, StateCode: r.State(),
		RowID: r.rowID(), Drift: Words(r.Drift), Remedy: r.Remedy()}
	if e.StateCode >= 0 {
		e.State = vminfo.StateName(e.StateCode)
	}
	if !r.At.IsZero() {
		at := r.At
		e.ObservedAt = &at
	}
	if r.Err != nil {
		e.Error = r.Err.Error()
	}
	return e
}

// Line renders an entry on one line for logs and the drift command.
func (e Entry) Line() string {
	var b strings.Builder
	b.WriteString("host " + quote(e.Host) + " vm " + quote(e.VM) + ": " + string(e.Verdict))
	for i, f := range e.Drift {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	if e.Error != "" {
		b.WriteString(": " + e.Error)
	}
	return b.String()
}

func quote(s string) string { return `"` + s + `"` }

// NewReport builds a report from results and the hosts that failed.
// Unreachable hosts' rows count as checked but are listed only under
// UnreachableHosts.
func NewReport(results []Result, unreachable []HostError) Report {
	rep := Report{VMs: []Entry{}, UnreachableHosts: append([]HostError{}, unreachable...)}
	for _, r := range results {
		if r.Verdict == NoRecord {
			continue
		}
		rep.Checked++
		if r.Verdict.Attention() && r.Verdict != HostUnreachable {
			rep.VMs = append(rep.VMs, EntryOf(r))
		}
	}
	slices.SortFunc(rep.VMs, func(a, b Entry) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		return strings.Compare(a.VM, b.VM)
	})
	slices.SortFunc(rep.UnreachableHosts, func(a, b HostError) int { return strings.Compare(a.Host, b.Host) })
	rep.InStep = len(rep.VMs) == 0 && len(rep.UnreachableHosts) == 0
	return rep
}
