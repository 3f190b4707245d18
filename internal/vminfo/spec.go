package vminfo

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
)

// Allowed values, exported so the provider's validators and schema
// descriptions use the very slices BuildXML checks against.
var (
	DomainTypes    = []string{"kvm", "qemu", "test"}
	GraphicsValues = []string{"vnc", "spice", "none"}
	DiskDevices    = []string{"disk", "cdrom"}
	DiskBuses      = []string{"virtio", "sata", "scsi", "ide"}
	DiskFormats    = []string{"qcow2", "raw"}
	InterfaceTypes = []string{"network", "bridge"}
)

// GraphicsName maps VMInfo's two flags onto one of GraphicsValues, the
// inverse of Spec.Graphics; a domain offering both (never one we define)
// reads as vnc.
func GraphicsName(g Graphics) string {
	switch {
	case g.VNC:
		return "vnc"
	case g.Spice:
		return "spice"
	default:
		return "none"
	}
}

// Defaults BuildXML applies, exported so the schema can document them.
const (
	DefaultArch           = "x86_64"
	DefaultOSType         = "hvm"
	DefaultInterfaceModel = "virtio"
	// DefaultPathFormat is the format of a path disk given none. QEMU's
	// libvirt driver never probes formats and writes raw into the definition
	// itself; saying so here makes the test driver read back the same.
	// Volume disks keep no format: libvirt takes it from the pool at start.
	DefaultPathFormat = "raw"
	// GraphicsListen is where VNC and SPICE listen: loopback only, so a
	// console is never exposed to the network by default (reach it over SSH).
	GraphicsListen = "127.0.0.1"
)

// Spec is the configuration the provider asks a domain to have.
type Spec struct {
	Name string
	// UUID is empty on first define and set when redefining: libvirt needs it
	// to recognise the redefinition as the same domain (SPEC 6).
	UUID         string
	DomainType   string // one of DomainTypes
	MemoryKiB    uint64
	MaxMemoryKiB uint64 // 0 means equal to MemoryKiB
	Vcpu         uint
	MaxVcpu      uint   // 0 means equal to Vcpu
	Graphics     string // one of GraphicsValues
	Disks        []Disk // Target empty: assigned per bus; cdrom: always read-only
	Interfaces   []Interface
	Arch         string // empty: DefaultArch
	Machine      string // empty: libvirt picks the machine type
	// GuestAgent adds the virtio channel qemu-guest-agent talks through
	// (AgentChannel), so libvirt can ask the guest for its addresses.
	GuestAgent bool
	// ConsoleLog, when set, is the file the serial console (ttyS0) is
	// appended to instead of a pty.
	ConsoleLog string
}

var (
	uuidRe    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	targetRe  = regexp.MustCompile(`^[a-z]+$`)
	machineRe = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// ErrInvalidSpec marks a configuration mistake (as opposed to a bug or a
// libvirt failure), so callers can report it on the user's configuration.
var ErrInvalidSpec = errors.New("invalid spec")

// Validate reports every problem in s at once, on one line, each naming the
// field and, for enumerations, the allowed values.
func (s Spec) Validate() error {
	errs := s.validateScalars()
	errs = append(errs, validateDisks(s.Disks)...)
	errs = append(errs, validateInterfaces(s.Interfaces)...)
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return fmt.Errorf("vminfo: %w for vm %q: %s", ErrInvalidSpec, s.Name, strings.Join(msgs, "; "))
}

func (s Spec) validateScalars() []error {
	var errs []error
	add := func(cond bool, format string, args ...any) {
		if cond {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	add(s.Name == "", "name: must not be empty")
	add(strings.ContainsAny(s.Name, "/\x00\n"), "name %q: must not contain '/', NUL or newline", s.Name)
	add(s.UUID != "" && !uuidRe.MatchString(s.UUID), "uuid %q: want the 8-4-4-4-12 hex form", s.UUID)
	add(!slices.Contains(DomainTypes, s.DomainType), "domain_type %q: use one of %s", s.DomainType, list(DomainTypes))
	add(s.Vcpu == 0, "vcpu: must be at least 1")
	add(s.MaxVcpu != 0 && s.MaxVcpu < s.Vcpu, "max_vcpu %d: must be at least vcpu (%d)", s.MaxVcpu, s.Vcpu)
	add(s.MemoryKiB == 0, "memory: must be greater than 0")
	add(s.MaxMemoryKiB != 0 && s.MaxMemoryKiB < s.MemoryKiB,
		"max_memory %d KiB: must be at least memory (%d KiB)", s.MaxMemoryKiB, s.MemoryKiB)
	// libvirtxml holds memory in a uint: on a 32-bit build a larger value
	// would be silently truncated into a much smaller VM.
	largest := max(s.MemoryKiB, s.MaxMemoryKiB)
	add(uint64(uint(largest)) != largest, "memory: %d KiB is more than this 32-bit build can express", largest)
	add(!slices.Contains(GraphicsValues, s.Graphics), "graphics %q: use one of %s", s.Graphics, list(GraphicsValues))
	add(s.Arch != "" && !machineRe.MatchString(s.Arch), "arch %q: want a libvirt architecture name such as x86_64", s.Arch)
	add(s.Machine != "" && !machineRe.MatchString(s.Machine), "machine %q: want a machine type such as q35 or pc", s.Machine)
	add(s.ConsoleLog != "" && !strings.HasPrefix(s.ConsoleLog, "/"), "console_log %q: must be an absolute path", s.ConsoleLog)
	return errs
}

func validateDisks(disks []Disk) []error {
	var errs []error
	seen := map[string]bool{}
	for i, d := range disks {
		for _, err := range validateDisk(d) {
			errs = append(errs, fmt.Errorf("disks[%d].%w", i, err))
		}
		if d.Target != "" && seen[d.Target] {
			errs = append(errs, fmt.Errorf("disks[%d].target %q: used by another disk", i, d.Target))
		}
		seen[d.Target] = true
	}
	return errs
}

func validateDisk(d Disk) []error {
	var errs []error
	add := func(cond bool, format string, args ...any) {
		if cond {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	add(d.Device != "" && !slices.Contains(DiskDevices, d.Device), "device %q: use one of %s", d.Device, list(DiskDevices))
	add(d.Bus != "" && !slices.Contains(DiskBuses, d.Bus), "bus %q: use one of %s", d.Bus, list(DiskBuses))
	// QEMU has no virtio-blk CD-ROM; libvirt would only fail at start.
	add(d.Device == "cdrom" && d.Bus == "virtio", "bus \"virtio\": a cdrom needs sata, scsi or ide")
	add(d.Target != "" && !targetRe.MatchString(d.Target), "target %q: want a device name such as vda or sdb", d.Target)
	add(d.Format != "" && !slices.Contains(DiskFormats, d.Format), "format %q: use one of %s", d.Format, list(DiskFormats))
	hasPath, hasPool, hasVolume := d.Path != "", d.Pool != "", d.Volume != ""
	add(hasPath && (hasPool || hasVolume), "source: set either path or pool and volume, not both")
	// An empty drive is a cdrom without media (what an imported domain may have).
	add(!hasPath && !hasPool && !hasVolume && d.Device != "cdrom", "source: set path, or pool and volume (only a cdrom may be empty)")
	add(hasPool != hasVolume, "source: pool and volume go together (pool %q, volume %q)", d.Pool, d.Volume)
	add(hasPath && !strings.HasPrefix(d.Path, "/"), "path %q: must be absolute", d.Path)
	return errs
}

func validateInterfaces(ifaces []Interface) []error {
	var errs []error
	for i, n := range ifaces {
		if !slices.Contains(InterfaceTypes, n.Type) {
			errs = append(errs, fmt.Errorf("interfaces[%d].type %q: use one of %s", i, n.Type, list(InterfaceTypes)))
		}
		if n.Source == "" {
			errs = append(errs, fmt.Errorf("interfaces[%d].source: name the network or bridge", i))
		}
		if n.Model != "" && !machineRe.MatchString(n.Model) {
			errs = append(errs, fmt.Errorf("interfaces[%d].model %q: want a NIC model such as virtio or e1000", i, n.Model))
		}
		if n.MAC != "" && !unicastMAC(n.MAC) {
			errs = append(errs, fmt.Errorf("interfaces[%d].mac %q: want a unicast MAC such as 52:54:00:12:34:56", i, n.MAC))
		}
	}
	return errs
}

// unicastMAC accepts the colon form libvirt writes; libvirt rejects
// multicast addresses, so we do too, before it does.
func unicastMAC(s string) bool {
	hw, err := net.ParseMAC(s)
	return err == nil && len(hw) == 6 && len(s) == 17 && strings.Count(s, ":") == 5 && hw[0]&1 == 0
}

func list(values []string) string {
	return strings.Join(values, ", ")
}

// withDefaults fills in everything BuildXML and Expected decide on the
// caller's behalf, so the two cannot disagree.
func (s Spec) withDefaults() Spec {
	if s.MaxMemoryKiB == 0 {
		s.MaxMemoryKiB = s.MemoryKiB
	}
	if s.MaxVcpu == 0 {
		s.MaxVcpu = s.Vcpu
	}
	if s.Arch == "" {
		s.Arch = DefaultArch
	}
	s.UUID = strings.ToLower(s.UUID)
	s.Disks = diskDefaults(s.Disks)
	ifaces := make([]Interface, len(s.Interfaces))
	for i, n := range s.Interfaces {
		n.MAC = strings.ToLower(n.MAC)
		ifaces[i] = n
	}
	s.Interfaces = ifaces
	return s
}

// Expected is the VMInfo a domain defined from s reads back as through
// FromXML (configuration fields only; runtime fields are zero, uptime -1).
// Fields libvirt chooses itself (a MAC left empty) stay empty, which Compare
// treats as "not recorded". Disks keep the spec's order, with defaults and
// targets filled in index by index; libvirt reads them back in
// LibvirtDiskOrder, which Compare ignores since it matches disks by target.
// Autostart is not part of a definition: set it from the desired value.
func (s Spec) Expected() VMInfo {
	d := s.withDefaults()
	return VMInfo{
		Name:       d.Name,
		MaxMem:     d.MaxMemoryKiB,
		Memory:     d.MemoryKiB,
		Vcpu:       d.Vcpu,
		MaxVcpu:    d.MaxVcpu,
		Uptime:     -1,
		Persistent: true,
		Graphics:   Graphics{VNC: d.Graphics == "vnc", Spice: d.Graphics == "spice"},
		UUID:       d.UUID,
		DomainType: d.DomainType,
		OSType:     DefaultOSType,
		Arch:       d.Arch,
		Disks:      d.Disks,
		Interfaces: d.Interfaces,
		ConsoleLog: d.ConsoleLog,
	}
}
