// Package observe is the one place that reads VMs live and decides what each
// one is relative to its record in the store. The VM resource's refresh,
// every data source, the sync engine (full sync and events) and the
// `virtumancer-sync drift` command call it and only render its results.
//
// It knows no Terraform types. It reads domains at the cheapest cost (bulk
// runtimes, one XML per domain, bounded parallelism), parses the recorded
// configuration of store rows (already decoded by the store through
// vminfo's codec), compares, and returns one classified Result per VM.
//
// # Verdicts and their policy
//
// Every consumer treats a verdict the same way; this table is the only
// statement of it (Result.Remedy renders its last column):
//
//	verdict            meaning                                   provider refresh               sync service                     drift gate
//	in_step            live matches the record                   live values into state         status row, no drift             pass
//	drifted            a configuration field differs             live values, drift, warning    status row with drift            fail
//	missing            recorded, domain gone, host answered      removed from state (recreate)  row soft-deleted                 fail
//	record_unreadable  the row's recorded config cannot be read  warning; next apply re-records status row, not compared        fail
//	no_record          domain exists, no row                     warning; next apply records    row inserted (discovery)         not listed (no record to compare)
//	domain_unreadable  libvirt's description cannot be read      error, state kept              row and status left as they are  fail
//	host_unreachable   the host could not be asked               error, state kept              host error, retried with backoff fail (exit 1)
package observe

import (
	"fmt"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Verdict classifies one VM. The string is what JSON reports carry.
type Verdict string

// The verdicts; see the package comment for what each consumer does.
const (
	InStep           Verdict = "in_step"
	Drifted          Verdict = "drifted"
	Missing          Verdict = "missing"
	RecordUnreadable Verdict = "record_unreadable"
	NoRecord         Verdict = "no_record"
	DomainUnreadable Verdict = "domain_unreadable"
	HostUnreachable  Verdict = "host_unreachable"
)

// Verdicts lists every verdict, in the package comment's order.
var Verdicts = []Verdict{InStep, Drifted, Missing, RecordUnreadable, NoRecord, DomainUnreadable, HostUnreachable}

// Attention reports verdicts a drift gate fails on: everything but in step
// and no record (a domain nobody recorded has nothing to drift from).
func (v Verdict) Attention() bool { return v != InStep && v != NoRecord }

// Result is one VM classified.
type Result struct {
	HostID  string
	Name    string
	Verdict Verdict
	// Row is the VM's store row; nil for NoRecord and when only names were
	// asked about.
	Row *store.VM
	// Live is the domain as read; nil when it is missing, could not be read
	// or its host could not be asked.
	Live *Live
	// Drift lists the differing fields (Drifted only), sorted by path.
	Drift []vminfo.Drift
	// Err is why a record or domain could not be read, or the host asked
	// (RecordUnreadable, DomainUnreadable, HostUnreachable).
	Err error
	// At is when the domain was read (zero when it was not).
	At time.Time
}

// Live is one domain as read from libvirt.
type Live struct {
	Domain hypervisor.Domain
	// Info is the persistent definition (what the next boot uses) plus the
	// runtime facts: the shape config_json records.
	Info vminfo.VMInfo
	// Unmanaged describes the devices of the persistent definition that
	// VMInfo does not model (vminfo.Unmanaged): kept as they are by updates.
	Unmanaged []string
	// Pending lists fields whose running definition differs from the
	// persistent one (a restart is pending); read only when asked.
	Pending []vminfo.Drift
	// CreateMarked: the definition still carries the provider's create
	// mark (hypervisor.HasCreateMark).
	CreateMarked bool
}

// State is the libvirt state number of the domain, or -1 when it was not read.
func (r Result) State() int {
	if r.Live == nil {
		return -1
	}
	return r.Live.Info.State
}

// Remedy says, in one sentence, what makes the verdict go away. It is the
// last column of the package comment's table, worded for people.
func (r Result) Remedy() string {
	switch r.Verdict {
	case Drifted:
		return "The domain was changed outside Terraform: the next apply of this VM puts the configured values back, " +
			"or set the configuration to the live values and apply to adopt them."
	case Missing:
		return "The domain no longer exists on its host: the next apply of this VM creates it again."
	case RecordUnreadable:
		return "The next apply of this VM records its configuration again; until then it is not compared."
	case NoRecord:
		return "The next apply of this VM records its configuration (import it first if Terraform does not manage it)."
	case DomainUnreadable:
		return "libvirt describes this domain in a way that cannot be read: inspect it with `virsh dumpxml`; nothing was changed."
	case HostUnreachable:
		return "Check the host's URI and that libvirtd answers there; nothing was changed and it is asked again next time."
	}
	return ""
}

// Problem is the one-line description of a verdict that is not in step,
// naming the VM, its host and the cause.
func (r Result) Problem() string {
	where := fmt.Sprintf("vm %q on host %q", r.Name, r.HostID)
	switch r.Verdict {
	case Drifted:
		return where + ": " + Summary(r.Drift)
	case Missing:
		return where + ": recorded in the store, but the domain no longer exists"
	case RecordUnreadable:
		return fmt.Sprintf("%s: the recorded configuration cannot be read: %v", where, r.Err)
	case NoRecord:
		return where + ": the domain exists but the store has no row for it"
	case DomainUnreadable:
		return fmt.Sprintf("%s: the domain cannot be read: %v", where, r.Err)
	case HostUnreachable:
		return fmt.Sprintf("%s: the host could not be asked: %v", where, r.Err)
	}
	return where + ": in step"
}

func (r Result) rowID() int64 {
	if r.Row == nil {
		return 0
	}
	return r.Row.ID
}
