package resources

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/cloudinit"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// The cloud_init block: schema, model and plan-time checks. What apply
// does with the seed volume is in vm_cloudinit_apply.go.

// The seed cdrom. SCSI (virtio-scsi) is the bus every cloud kernel has a
// driver for (Debian's cloud kernel has no AHCI, so no SATA) and works on
// both the pc and q35 machine types. Its target is fixed, so the user's
// disks never move it: sdg is the last unit of the first SCSI controller
// (libvirt puts seven units on each, and adds LSI controllers, which cloud
// kernels cannot drive, for the targets beyond).
const (
	seedSuffix = "-cidata.iso"
	seedBus    = "scsi"
	seedTarget = "sdg"
)

// seedVolumeName is the seed volume of the VM called vm.
func seedVolumeName(vm string) string { return vm + seedSuffix }

var cloudInitAttrTypes = map[string]attr.Type{
	"user_data": types.StringType, "meta_data": types.StringType,
	"network_config": types.StringType, "pool": types.StringType,
}

// vmCloudInitModel is the cloud_init block.
type vmCloudInitModel struct {
	UserData      types.String
	MetaData      types.String
	NetworkConfig types.String
	Pool          types.String
}

func vmCloudInitBlock() schema.SingleNestedBlock {
	limit := fmt.Sprintf("At most %d bytes (1 MiB).", cloudinit.MaxPartBytes)
	return schema.SingleNestedBlock{
		Description: "A NoCloud seed for cloud-init, built by the provider (ISO 9660, label `cidata`), stored as the " +
			"volume `<name>" + seedSuffix + "` (raw) in `pool` and attached read-only as a SCSI cdrom (target `" + seedTarget +
			"`, which disks may then not use). config_json records the seed's digest (`seed_digest`), never its content. " +
			"Changing the block rewrites the seed volume and does not restart the VM: a running guest reads the new seed when " +
			"the domain next starts, and with the default meta_data cloud-init then treats that boot as a new instance. Adding " +
			"or removing the block, or changing `pool`, changes the definition, so a running VM is restarted. Removing the " +
			"block detaches and deletes the seed. The plan says which of these a change does. An imported VM's seed is not " +
			"read back: the first apply after import rewrites it. The test driver (`test:///default`) cannot upload " +
			"volumes, so the seed needs a qemu host.",
		Attributes: map[string]schema.Attribute{
			"user_data": schema.StringAttribute{
				Optional: true, Sensitive: true,
				Description: "The `user-data` file: a `#cloud-config` document, a script (`#!`) or MIME multipart. " +
					"Sensitive: never logged, and not in config_json. " + limit,
			},
			"meta_data": schema.StringAttribute{
				Optional: true,
				Description: "The `meta-data` file (YAML or JSON, with an `instance-id`). Defaults to `instance-id: " +
					"<uuid>-<digest>` (the domain UUID and " + fmt.Sprint(cloudinit.ShortDigestLen) + " hex digits of the SHA-256 " +
					"of user_data and network_config, so a changed seed is a new instance) and `local-hostname: <name>`. " + limit,
			},
			"network_config": schema.StringAttribute{
				Optional: true,
				Description: "The `network-config` file (network config version 1 or 2). Unset: the seed has none and " +
					"cloud-init uses its fallback (DHCP on the first interface). " + limit,
			},
			// Required in effect (validateCloudInit): the framework would
			// demand a Required attribute of an absent block too.
			"pool": schema.StringAttribute{
				Optional: true,
				Description: "Required. Storage pool of the seed volume (e.g. a `virtumancer_pool`'s name). It also holds " +
					"`console_log` when the VM is created.",
				Validators: []validator.String{validate.NonEmpty()},
			},
		},
	}
}

// cloudInitOf reads the block; nil when it is absent (or not yet known).
func cloudInitOf(o types.Object) *vmCloudInitModel {
	if o.IsNull() || o.IsUnknown() {
		return nil
	}
	a := o.Attributes()
	var c vmCloudInitModel
	var bad []string
	vmAttr(a, "user_data", &c.UserData, &bad)
	vmAttr(a, "meta_data", &c.MetaData, &bad)
	vmAttr(a, "network_config", &c.NetworkConfig, &bad)
	vmAttr(a, "pool", &c.Pool, &bad)
	if len(bad) > 0 {
		return nil // the schema has these four: cannot happen
	}
	return &c
}

// seed is what the block says; parts not yet known read as empty.
func (c vmCloudInitModel) seed() cloudinit.Seed {
	return cloudinit.Seed{
		UserData:      c.UserData.ValueString(),
		MetaData:      c.MetaData.ValueString(),
		NetworkConfig: c.NetworkConfig.ValueString(),
	}
}

// finalSeed is the seed as it goes on the volume: the default meta_data
// filled in from the domain's uuid and name.
func (m vmModel) finalSeed() (cloudinit.Seed, bool) {
	c := cloudInitOf(m.CloudInit)
	if c == nil {
		return cloudinit.Seed{}, false
	}
	return c.seed().WithDefaultMetaData(m.UUID.ValueString(), m.Name.ValueString()), true
}

// seedDigest is what config_json records of the seed; "" without one.
func (m vmModel) seedDigest() string {
	s, ok := m.finalSeed()
	if !ok {
		return ""
	}
	return cloudinit.Digest(s)
}

// seedDisks is the seed cdrom the definition carries, if any.
func (m vmModel) seedDisks() []vminfo.Disk {
	c := cloudInitOf(m.CloudInit)
	if c == nil {
		return nil
	}
	return []vminfo.Disk{{Device: "cdrom", Bus: seedBus, Target: seedTarget, Pool: c.Pool.ValueString(),
		Volume: seedVolumeName(m.Name.ValueString()), Format: "raw", ReadOnly: true}}
}

// isSeedDisk tells the seed cdrom of the VM called vm from the user's disks.
func isSeedDisk(d vminfo.Disk, vm string) bool {
	return d.Device == "cdrom" && d.Volume == seedVolumeName(vm)
}

// withoutSeed is disks without the VM's seed cdrom: the provider attaches
// it, so it is not one of the configuration's disk blocks.
func withoutSeed(disks []vminfo.Disk, vm string) []vminfo.Disk {
	out := make([]vminfo.Disk, 0, len(disks))
	for _, d := range disks {
		if !isSeedDisk(d, vm) {
			out = append(out, d)
		}
	}
	return out
}

// validateCloudInit checks the block with the rules cloud-init reads it by
// (cloudinit.Problems), each on its attribute, and that no disk takes the
// seed's target. Unknown parts are checked at apply.
func validateCloudInit(ctx context.Context, req resource.ValidateConfigRequest, diags *diag.Diagnostics) {
	if a, ok := rawAttr(req.Config.Raw, "cloud_init"); !ok || a.IsNull() || !a.IsKnown() {
		return
	}
	var obj types.Object
	diags.Append(req.Config.GetAttribute(ctx, path.Root("cloud_init"), &obj)...)
	c := cloudInitOf(obj)
	if c == nil {
		return
	}
	at := path.Root("cloud_init")
	if c.Pool.IsNull() {
		diags.AddAttributeError(at.AtName("pool"), "Missing cloud_init.pool",
			"cloud_init needs pool: the storage pool the seed volume goes to (e.g. a virtumancer_pool's name).")
	}
	for _, p := range cloudinit.Problems(c.seed()) {
		diags.AddAttributeError(at.AtName(p.Field), "Invalid cloud_init."+p.Field, "cloud_init."+p.Field+" "+p.Msg+".")
	}
	var cfgDisks types.List
	diags.Append(req.Config.GetAttribute(ctx, path.Root("disk"), &cfgDisks)...)
	disks, d := disksOf(ctx, cfgDisks)
	diags.Append(d...)
	for i, dm := range disks {
		if dm.Target.ValueString() == seedTarget {
			diags.AddAttributeError(path.Root("disk").AtListIndex(i).AtName("target"), "Disk target reserved for the seed",
				fmt.Sprintf("Target %q is the cloud_init seed's cdrom; give this disk another target or leave target unset.", seedTarget))
		}
	}
}
