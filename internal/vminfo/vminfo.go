// Package vminfo holds VMInfo, the recorded configuration Virtumancer keeps in
// virtual_machines.config_json, and the pure functions around it: building it
// from a domain definition, building a definition from a spec, and comparing
// recorded against live. It knows nothing of Terraform, SQLite or RPC.
package vminfo

// Libvirt domain states (virDomainState) as stored in VMInfo.State.
const (
	StateNoState     = 0
	StateRunning     = 1
	StateBlocked     = 2
	StatePaused      = 3
	StateShutdown    = 4
	StateShutoff     = 5
	StateCrashed     = 6
	StatePMSuspended = 7
)

// VMInfo is the JSON object in config_json. The first block of fields is
// Virtumancer's own: names and units must never change (memory in KiB,
// cpu_time in ns, uptime -1 when unknown). The rest are our additions; they
// are omitted when empty so rows we write stay readable by Virtumancer.
//
// Our additions distinguish "not recorded" from "recorded empty", because
// rows written by Virtumancer lack them and must not show drift for them: an
// empty string means not recorded, and for Disks and Interfaces a nil slice
// means not recorded while an empty non-nil slice means "recorded: none".
// The omitzero tag keeps that distinction through JSON (nil is omitted, an
// empty slice is written as []), where omitempty would drop both.
type VMInfo struct {
	ID         int      `json:"id"`
	Name       string   `json:"name"`
	State      int      `json:"state"`
	MaxMem     uint64   `json:"max_mem"`
	Memory     uint64   `json:"memory"`
	Vcpu       uint     `json:"vcpu"`
	CPUTime    uint64   `json:"cpu_time"`
	Uptime     int64    `json:"uptime"`
	Persistent bool     `json:"persistent"`
	Autostart  bool     `json:"autostart"`
	Graphics   Graphics `json:"graphics"`

	UUID       string      `json:"uuid,omitempty"`
	DomainType string      `json:"domain_type,omitempty"`
	OSType     string      `json:"os_type,omitempty"`
	Arch       string      `json:"arch,omitempty"`
	Disks      []Disk      `json:"disks,omitzero"`
	Interfaces []Interface `json:"interfaces,omitzero"`
	// ConsoleLog is the file the first file-backed serial port writes
	// (the guest's ttyS0 log); empty when the console is not a file.
	ConsoleLog string `json:"console_log,omitempty"`
	// MaxVcpu is the most vCPUs the domain can have live (<vcpu>'s value;
	// Vcpu is its current count). 0: not recorded.
	MaxVcpu uint `json:"max_vcpu,omitempty"`
	// SeedDigest is cloudinit.Digest of the NoCloud seed the provider
	// attached: recorded so the store says which seed a VM got without
	// holding its content. No definition carries it, so it is never drift.
	SeedDigest string `json:"seed_digest,omitempty"`
}

// Graphics says which remote consoles the domain offers.
type Graphics struct {
	VNC   bool `json:"vnc"`
	Spice bool `json:"spice"`
}

// Disk is one <disk> of the definition. Exactly one of Path or Pool+Volume
// is set, matching the source kind in the XML.
type Disk struct {
	Device   string `json:"device"` // "disk" or "cdrom"
	Target   string `json:"target"` // vda, sda, hdc...
	Bus      string `json:"bus"`    // virtio, sata, scsi, ide
	Path     string `json:"path,omitempty"`
	Pool     string `json:"pool,omitempty"`
	Volume   string `json:"volume,omitempty"`
	Format   string `json:"format,omitempty"` // driver type: qcow2, raw
	ReadOnly bool   `json:"read_only,omitempty"`
}

// Interface is one <interface> of the definition.
type Interface struct {
	Type   string `json:"type"`   // "network" or "bridge"
	Source string `json:"source"` // network or bridge name
	Model  string `json:"model,omitempty"`
	MAC    string `json:"mac,omitempty"`
}

// Runtime is what libvirt reports about a domain beyond its definition.
type Runtime struct {
	ID    int
	State int
	// Reason is why the domain is in State (virDomainGetState's reason,
	// e.g. ReasonShutoffCrashed); 0 when not asked.
	Reason     int
	CPUTime    uint64 // ns
	Persistent bool
	Autostart  bool
}

// ReasonShutoffCrashed is virDomainShutoffReason's "crashed": QEMU's
// default on_crash destroys the domain, so a crash usually reads as shut
// off for this reason rather than as StateCrashed.
const ReasonShutoffCrashed = 3

// Crashed tells whether a domain in this runtime crashed and has not been
// started since.
func (rt Runtime) Crashed() bool {
	return rt.State == StateCrashed || (rt.State == StateShutoff && rt.Reason == ReasonShutoffCrashed)
}

// Drift is one configuration field whose live value differs from the
// recorded one. Values are rendered for people ("2048", "true", "vda:/p").
type Drift struct {
	Field    string `json:"field"`
	Recorded string `json:"recorded"`
	Live     string `json:"live"`
}

// StateNames are libvirt's domain states as virsh prints them, indexed by
// state number (State*). The provider's `state` attributes and filters use
// exactly these.
var StateNames = []string{"no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed", "pmsuspended"}

// StateName names state s; a number libvirt may add later reads "unknown".
func StateName(s int) string {
	if s >= 0 && s < len(StateNames) {
		return StateNames[s]
	}
	return "unknown"
}

// Active tells whether a domain in state s is active in libvirt's sense (it
// has an id and a live definition): running, idle, paused, in shutdown or
// pmsuspended. Only the `state` name tells these apart.
func Active(s int) bool {
	switch s {
	case StateRunning, StateBlocked, StatePaused, StateShutdown, StatePMSuspended:
		return true
	}
	return false
}
