package resources

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Address sources of wait_for_ip, in the order hypervisor.InterfaceAddresses
// documents them.
var vmAddressSources = []string{"lease", "agent", "arp"}

// Defaults the provider chooses for the VM (CONVENTIONS: Optional+Computed+Default).
const (
	vmDefaultShutdownTimeout = "60s"
	vmDefaultGraphics        = "vnc"
	vmDefaultWaitSource      = "lease"
	vmDefaultWaitTimeout     = "5m"
)

// Patterns of the attribute validators; vminfo.Spec.Validate checks the same
// rules again before anything reaches libvirt.
var (
	vmDomainNameRe = regexp.MustCompile(`^[^/\x00\n]+$`)
	vmAbsPathRe    = regexp.MustCompile(`^/`)
	vmDiskTargetRe = regexp.MustCompile(`^[a-z]+$`)
	vmNICModelRe   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	vmMACRe        = regexp.MustCompile(`^[0-9a-fA-F][02468aceACE](:[0-9a-fA-F]{2}){5}$`)
)

// Default timeouts of the timeouts block.
const (
	vmDefaultCreateTimeout = 10 * time.Minute
	vmDefaultUpdateTimeout = 10 * time.Minute
	vmDefaultDeleteTimeout = 10 * time.Minute
)

// driftAttrTypes is the element type of `drift`.
var driftAttrTypes = map[string]attr.Type{
	"attribute": types.StringType,
	"recorded":  types.StringType,
	"live":      types.StringType,
	"path":      types.StringType,
}

// vmDurationText renders 10m0s as 10m for descriptions.
func vmDurationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// vmSchemaV0 is version 0 of the virtumancer_vm schema. It is a function so a
// later version can keep it for its state upgrader.
func vmSchemaV0(ctx context.Context) schema.Schema {
	return schema.Schema{
		Version: 0,
		Description: "A libvirt domain (VM) on a Virtumancer host. The provider defines and powers the domain and " +
			"records its configuration in the store's `virtual_machines.config_json`; every refresh compares that " +
			"recorded configuration with the live domain and reports the differences in `drift` and as a warning. " + vmResumeDescription + "\n\n" +
			"Changes reach a running VM live where libvirt can apply them (the domain id stays the same); a change that " +
			"needs a restart is announced by a plan warning naming the VM, the attribute and the reason, and `restart = \"never\"` " +
			"leaves it for the next boot (`pending_restart`). What each attribute does:\n\n" + vmChangeTable(),
		Attributes: vmAttributes(),
		Blocks: map[string]schema.Block{
			"disk":              vmDiskBlock(),
			"network_interface": vmInterfaceBlock(),
			"wait_for_ip":       vmWaitBlock(),
			"cloud_init":        vmCloudInitBlock(),
			"timeouts": timeouts.Block(ctx, timeouts.Opts{
				Create: true, Update: true, Delete: true,
				CreateDescription: "How long define, start and wait_for_ip may take (default `" + vmDurationText(vmDefaultCreateTimeout) + "`).",
				UpdateDescription: "How long redefine, restart and power changes may take (default `" + vmDurationText(vmDefaultUpdateTimeout) + "`).",
				DeleteDescription: "How long shutdown and undefine may take (default `" + vmDurationText(vmDefaultDeleteTimeout) + "`).",
			}),
		},
	}
}

func vmAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		// Required.
		"host_id": schema.StringAttribute{
			Required:      true,
			Description:   "Id of the `virtumancer_host` the domain lives on. Changing it replaces the VM.",
			Validators:    []validator.String{validate.NonEmpty()},
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
		},
		"name": schema.StringAttribute{
			Required:      true,
			Description:   "Domain name, unique on the host. Changing it replaces the VM.",
			Validators:    []validator.String{validate.NonEmpty(), stringvalidator.RegexMatches(vmDomainNameRe, "must not contain '/', NUL or a newline")},
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
		},
		"vcpu": schema.Int64Attribute{
			Required:    true,
			Description: "Number of virtual CPUs. Changed live on a running VM up to `max_vcpu`.",
			Validators:  []validator.Int64{int64validator.AtLeast(1), validate.Vcpus()},
		},
		"memory": schema.Int64Attribute{
			Required: true,
			Description: "Memory in MiB (recorded in KiB in config_json). Changed live on a running VM (the balloon) " +
				"up to `max_memory`.",
			Validators: []validator.Int64{int64validator.AtLeast(1), validate.MemoryMiB()},
		},

		// Optional.
		"max_memory": schema.Int64Attribute{
			Optional: true, Computed: true,
			Description: "Maximum memory in MiB, at least `memory`; `memory` can change live up to it, a change of it " +
				"needs a restart. When unset it is `memory` at create and then kept, growing with `memory` only.",
			Validators: []validator.Int64{int64validator.AtLeast(1), validate.MemoryMiB(),
				int64validator.AtLeastSumOf(path.MatchRoot("memory"))},
			PlanModifiers: []planmodifier.Int64{keptAtLeast("memory")},
		},
		"max_vcpu": schema.Int64Attribute{
			Optional: true, Computed: true,
			Description: "Most vCPUs the VM can have; `vcpu` can change live up to it, a change of it needs a restart. " +
				"When unset it is `vcpu` at create and then kept, growing with `vcpu` only.",
			Validators: []validator.Int64{int64validator.AtLeast(1), validate.Vcpus(),
				int64validator.AtLeastSumOf(path.MatchRoot("vcpu"))},
			PlanModifiers: []planmodifier.Int64{keptAtLeast("vcpu")},
		},
		"restart": schema.StringAttribute{
			Optional: true, Computed: true, Default: stringdefault.StaticString(vmRestartAuto),
			Description: "What an apply may do when a change to a running VM needs a restart: one of " +
				validate.Quoted(vmRestartValues) + ". `auto` restarts it (the plan warns first); `never` changes only its " +
				"definition, applies the live changes, and leaves `pending_restart = true` until the VM is restarted. " +
				"Defaults to `" + vmRestartAuto + "`.",
			Validators: []validator.String{stringvalidator.OneOf(vmRestartValues...)},
		},
		"autostart": schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(false),
			Description: "Whether libvirtd starts the domain when it starts. Defaults to `false`.",
		},
		"running": schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(true),
			Description: "Desired power state, enforced on every apply: a VM stopped (or started) outside Terraform " +
				"shows in the plan and is started (or shut down) again. A paused or pmsuspended domain is resumed (or " +
				"woken) by `true`, and resumed then shut down by `false` (libvirt refuses an ACPI shutdown of a paused " +
				"domain); a crashed one is started again, and the plan warns which. Defaults to `true`.",
		},
		"graphics": schema.StringAttribute{
			Optional: true, Computed: true, Default: stringdefault.StaticString(vmDefaultGraphics),
			Description: fmt.Sprintf("Remote console: one of %s. Consoles listen on %s only. Defaults to `%s`.",
				validate.Quoted(vminfo.GraphicsValues), vminfo.GraphicsListen, vmDefaultGraphics),
			Validators: []validator.String{stringvalidator.OneOf(vminfo.GraphicsValues...)},
		},
		"domain_type": schema.StringAttribute{
			Optional: true, Computed: true,
			Description: fmt.Sprintf("Libvirt domain type: one of %s. Defaults to `kvm` where the host offers KVM, "+
				"else `qemu` (TCG), and `test` on the test driver. Changing it replaces the VM.", validate.Quoted(vminfo.DomainTypes)),
			Validators: []validator.String{stringvalidator.OneOf(vminfo.DomainTypes...)},
			PlanModifiers: []planmodifier.String{
				stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace(),
			},
		},
		"shutdown_timeout": schema.StringAttribute{
			Optional: true, Computed: true, Default: stringdefault.StaticString(vmDefaultShutdownTimeout),
			Description: "How long a graceful (ACPI) shutdown may take before the domain is forced off, as a Go " +
				"duration. Used on delete, on `running = false` and on restarts. Defaults to `" + vmDefaultShutdownTimeout + "`.",
			Validators: []validator.String{validate.Duration()},
		},

		// Computed.
		"id": schema.StringAttribute{
			Computed: true, Description: "`host_id/name`, the import id.",
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		},
		"uuid": schema.StringAttribute{
			Computed: true, Description: "Libvirt UUID of the domain.",
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		},
		"domain_id": schema.Int64Attribute{
			Computed: true, Description: "Libvirt id of the running domain; 0 when it is not running. Kept across " +
				"live changes; unknown in a plan that starts, stops or restarts the VM.",
			PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
		},
		"state": schema.StringAttribute{
			Computed:    true,
			Description: "Live power state as virsh names it: " + validate.Quoted(vminfo.StateNames) + ".",
		},
		"config_json": schema.StringAttribute{
			Computed: true,
			Description: "The recorded configuration: the VM row's `config_json` in the store (Virtumancer's VMInfo: " +
				"memory in KiB) without its runtime fields (`id`, `state`, `cpu_time`, `uptime`: `domain_id` and `state` show " +
				"them), so it changes only with the configuration, and an update's plan shows the fields it records anew " +
				"(unknown until apply when disks, interfaces or the seed change). The store keeps the whole value. Empty when " +
				"the store has no row for the VM; the next apply records it.",
		},
		"drift": schema.ListNestedAttribute{
			Computed: true,
			Description: "Configuration fields whose live value differs from the recorded one, as of the last " +
				"refresh. The plan then proposes to put the configured values back.",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"attribute": schema.StringAttribute{Computed: true, Description: "The attribute of this resource, e.g. `max_memory` or `disk[vda].bus` (disks by target, interfaces by position); a field the schema does not model keeps its config_json path."},
				"recorded":  schema.StringAttribute{Computed: true, Description: "Recorded value, in the attribute's unit (`256 MiB`)."},
				"live":      schema.StringAttribute{Computed: true, Description: "Live value, in the attribute's unit."},
				"path":      schema.StringAttribute{Computed: true, Description: "The field's path in config_json, e.g. `max_mem` (whose values are KiB)."},
			}},
		},
		"unmanaged_devices": schema.ListAttribute{
			Computed: true, ElementType: types.StringType,
			PlanModifiers: []planmodifier.List{listplanmodifier.UseStateForUnknown()},
			Description: "Devices of the domain this resource does not model, one short description each " +
				"(`hostdev pci 0000:01:00.0`, `filesystem /srv -> share`, `interface direct eth0`, `channel org.example.0`...). " +
				"Updates keep them exactly as they are; change them with `virsh edit`. Controllers, video, input, " +
				"consoles and the guest agent channel are not listed.",
		},
		"pending_restart": schema.BoolAttribute{
			Computed: true,
			Description: "Whether the running domain's live configuration differs from its persistent definition, " +
				"i.e. a change waits for the next boot.",
		},
		"console_log": vmConsoleLogAttribute(),
		"ip_addresses": schema.ListAttribute{
			Computed: true, ElementType: types.StringType,
			Description: "Addresses of the running domain from the `wait_for_ip` source, IPv4 first, then global IPv6 (loopback " +
				"and link-local addresses are left out); empty without `wait_for_ip` or while the VM is off. Read again on every " +
				"refresh; when the source fails then, the addresses in state are kept.",
		},
	}
}

func vmDiskBlock() schema.ListNestedBlock {
	return schema.ListNestedBlock{
		Description: "A disk: a volume of a storage pool (`pool` and `volume`) or a host `path`; a cdrom may have neither " +
			"(an empty drive). Disks keep the " +
			"configured order in state (libvirt itself sorts them by bus and target; an imported domain lists them " +
			"in its recorded order, else libvirt's). Disks on bus virtio or scsi are attached and detached live; others need a restart.",
		NestedObject: schema.NestedBlockObject{
			Attributes: map[string]schema.Attribute{
				"pool": schema.StringAttribute{
					Optional: true, Description: "Storage pool of `volume` (on the `test:///default` driver: `default-pool`, not `default`).",
					Validators: []validator.String{validate.NonEmpty(),
						stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("volume"))},
				},
				"volume": schema.StringAttribute{
					Optional: true, Description: "Volume name in `pool`, e.g. a `virtumancer_volume`'s name.",
					Validators: []validator.String{validate.NonEmpty(),
						stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("pool")),
						stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("path"))},
				},
				"path": schema.StringAttribute{
					Optional: true, Description: "Absolute path of a file or block device on the host.",
					Validators: []validator.String{stringvalidator.RegexMatches(vmAbsPathRe, "must be an absolute path")},
				},
				"device": schema.StringAttribute{
					Optional: true, Computed: true, Default: stringdefault.StaticString("disk"),
					Description: "Device kind: one of " + validate.Quoted(vminfo.DiskDevices) + ". Defaults to `disk`.",
					Validators:  []validator.String{stringvalidator.OneOf(vminfo.DiskDevices...)},
				},
				"bus": schema.StringAttribute{
					Optional: true, Computed: true,
					Description: "Bus: one of " + validate.Quoted(vminfo.DiskBuses) + ". Defaults to `virtio` for a disk and " +
						"`sata` for a cdrom (a cdrom cannot use virtio).",
					Validators: []validator.String{stringvalidator.OneOf(vminfo.DiskBuses...)},
				},
				"read_only": schema.BoolAttribute{
					Optional: true, Computed: true,
					Description: "Attach read-only. Defaults to `false` for a disk; a cdrom is always read-only.",
				},
				"target": schema.StringAttribute{
					Optional: true, Computed: true,
					Description: "Guest device name (`vda`, `sdb`...). Chosen per bus when unset, and kept afterwards.",
					Validators:  []validator.String{stringvalidator.RegexMatches(vmDiskTargetRe, "must be a device name such as vda or sdb")},
				},
				"format": schema.StringAttribute{
					Optional: true, Computed: true,
					Description: "Image format: one of " + validate.Quoted(vminfo.DiskFormats) + ". Taken from the volume when " +
						"unset; `" + vminfo.DefaultPathFormat + "` for a path.",
					Validators: []validator.String{stringvalidator.OneOf(vminfo.DiskFormats...)},
				},
			},
		},
	}
}

func vmInterfaceBlock() schema.ListNestedBlock {
	return schema.ListNestedBlock{
		Description: "A network interface on a libvirt network or a host bridge. Interfaces are matched by " +
			"position; virtio interfaces are attached and detached live (matched by MAC), others need a restart.",
		NestedObject: schema.NestedBlockObject{
			Attributes: map[string]schema.Attribute{
				"network": schema.StringAttribute{
					Optional: true, Description: "Libvirt network name, e.g. `default`.",
					Validators: []validator.String{validate.NonEmpty(),
						stringvalidator.ExactlyOneOf(path.MatchRelative().AtParent().AtName("bridge"))},
				},
				"bridge": schema.StringAttribute{
					Optional: true, Description: "Host bridge name, e.g. `br0`.",
					Validators: []validator.String{validate.NonEmpty()},
				},
				"model": schema.StringAttribute{
					Optional: true, Computed: true,
					Description: "NIC model, e.g. `virtio` or `e1000`. A new interface defaults to `" + vminfo.DefaultInterfaceModel + "`; " +
						"an imported one without a model keeps none (libvirt's default), so adopting it changes nothing.",
					Validators: []validator.String{stringvalidator.RegexMatches(vmNICModelRe, "must be a NIC model such as virtio or e1000")},
				},
				"mac": schema.StringAttribute{
					Optional: true, Computed: true,
					Description: "Unicast MAC address such as `52:54:00:12:34:56`. Assigned by libvirt when unset, and kept afterwards.",
					Validators:  []validator.String{stringvalidator.RegexMatches(vmMACRe, "must be a unicast MAC such as 52:54:00:12:34:56")},
				},
			},
		},
	}
}

func vmWaitBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		Description: "Wait, after starting the VM, until it reports an IP address; fills `ip_addresses`. On timeout the apply " +
			"fails with what the source answered last. With `source = \"agent\"` the domain gets the `org.qemu.guest_agent.0` " +
			"channel: a running VM that lacks it is restarted for it (the plan warns) unless it can take it live, and it stays when the " +
			"source changes later. Apply records the block in the domain's metadata, so an import reads it back.",
		Attributes: map[string]schema.Attribute{
			"source": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(vmDefaultWaitSource),
				Description: "Where addresses come from: one of " + validate.Quoted(vmAddressSources) + ": `lease`, the DHCP leases " +
					"of the libvirt network the VM's interface is on (the network needs `dhcp` or a `dhcp_host` for the VM's mac); " +
					"`agent`, the QEMU guest agent (qemu-guest-agent must run in the guest); `arp`, the host's neighbour table " +
					"(a guest shows there only after it sent traffic, and libvirt cannot read it inside some network namespaces: " +
					"it fails with \"wrong nlmsg len\"). Defaults to `" + vmDefaultWaitSource + "`.",
				Validators: []validator.String{stringvalidator.OneOf(vmAddressSources...)},
			},
			"timeout": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(vmDefaultWaitTimeout),
				Description: "How long to wait, as a Go duration. Defaults to `" + vmDefaultWaitTimeout + "`.",
				Validators:  []validator.String{validate.Duration()},
			},
		},
	}
}
