package resources

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/diskimage"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/sizes"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// virtumancer_volume: this file holds the resource in the usual order;
// volume_source.go holds what plan and apply do with `source`, and
// volume_config.go the checks of the attributes against each other.

var (
	_ resource.ResourceWithConfigure        = (*volumeResource)(nil)
	_ resource.ResourceWithImportState      = (*volumeResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*volumeResource)(nil)
	_ resource.ResourceWithConfigValidators = (*volumeResource)(nil)
)

const (
	bytesPerMiB         = 1 << 20
	defaultVolumeFormat = diskimage.FormatQcow2
)

// singlePathElement: pools and volumes are single path elements, which is
// what lets the import id host_id/pool/name be split from the right.
var singlePathElement = stringvalidator.RegexMatches(regexp.MustCompile(`^[^/]+$`), "must be non-empty and contain no '/'")

// NewVolumeResource is the constructor of virtumancer_volume.
func NewVolumeResource() resource.Resource {
	return withIdentity(&volumeResource{}, hostIDPart, identityPart{"pool", "Storage pool of the volume."}, namePart("Volume"))
}

type volumeResource struct {
	data *providerdata.Data
}

func (r *volumeResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_volume"
}

func (r *volumeResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = volumeSchemaV0()
}

func volumeSchemaV0() schema.Schema {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	return schema.Schema{
		Description: "A storage volume in a libvirt pool of a host: empty, a qcow2 overlay on a base volume of the same pool, " +
			"or filled with a local image file. A growing `capacity` resizes it in place and `source` moving to a file with identical content changes nothing; " +
			"every other change replaces the volume, and its data is lost then. A volume that a defined VM uses (by pool and volume, or by path) " +
			"or that other volumes are backed by is never deleted under them: the plan warns, naming them, and destroy refuses before removing anything while one remains.",
		Attributes: map[string]schema.Attribute{
			// Required
			"host_id": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Validators: []validator.String{validate.NonEmpty()},
				Description: "Id of the `virtumancer_host` whose pool holds the volume.",
			},
			"pool": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Validators: []validator.String{singlePathElement},
				Description: "Name of the libvirt storage pool, e.g. `default` or a `virtumancer_pool`'s name. " +
					"The `test:///default` driver's only pool is `default-pool` (not `default`), and its path `/default-pool` is fictitious.",
			},
			"name": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Validators: []validator.String{singlePathElement},
				Description: "Volume name; in a directory pool also its file name, e.g. `web-root.qcow2`.",
			},

			// Optional
			"capacity": schema.Int64Attribute{
				Optional: true, Computed: true,
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
				Validators:    []validator.Int64{int64validator.AtLeast(1), validate.VolumeMiB(path.Root("format"), defaultVolumeFormat)},
				Description: "Virtual size in MiB. Required unless `base_volume` or `source` is set: then it defaults to the base volume's size, " +
					"or to the size of the `source` image (its virtual size for a qcow2 image). Growing it resizes the volume in place and keeps its data: " +
					"through the running VM that has it attached (the guest sees the new size at once), else offline. " +
					"Shrinking is refused at plan time, since the data past the new end would be lost; to shrink, replace the volume deliberately (a new `name`).",
			},
			"format": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(defaultVolumeFormat), PlanModifiers: replace,
				Validators:  []validator.String{stringvalidator.OneOf(vminfo.DiskFormats...)},
				Description: "Volume format: one of " + validate.Quoted(vminfo.DiskFormats) + ". Defaults to `" + defaultVolumeFormat + "`. It must match the `source` image.",
			},
			"base_volume": schema.StringAttribute{
				Optional: true, PlanModifiers: replace, Validators: []validator.String{singlePathElement},
				Description: "Name of a volume in the same pool to use as the backing file of this qcow2 overlay (a copy-on-write clone). " +
					"Needs `format = \"qcow2\"`; conflicts with `source`.",
			},
			"source": schema.StringAttribute{
				Optional: true, Validators: []validator.String{validate.NonEmpty()},
				Description: "Path of a local image file (on the machine running Terraform) to upload into the new volume. " +
					"The volume is replaced when the file's content changes (see `source_sha256`); pointing at another file with the same content changes nothing. " +
					"A raw image needs `format = \"raw\"`, a qcow2 image `format = \"qcow2\"`. " +
					"The `test:///default` driver has no volume upload (virStorageVolUpload is not supported): apply fails there; use a qemu host.",
			},

			// Computed
			"id": schema.StringAttribute{
				Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				Description: "`host_id/pool/name`, the import id.",
			},
			"path": schema.StringAttribute{
				Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				Description: "Path of the volume on the host, as a VM `disk` can use it.",
			},
			"source_sha256": schema.StringAttribute{
				Computed: true,
				Description: "SHA-256 of the uploaded `source` file, computed at plan time; a change shows in the plan and replaces the volume. " +
					"The hash is cached by the file's size and modification time, so an unchanged image is not read again on every plan.",
			},
		},
	}
}

func (r *volumeResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{volumeConfigValidator{}}
}

func (r *volumeResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerdata.From(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan reads the source file at plan time (see planSource): its hash
// replaces the volume when the content changed. It refuses a capacity that
// shrinks, and warns when a destroy or a replacement would delete a volume
// that VMs or other volumes use.
func (r *volumeResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var prior *volumeModel
	var cached diskimage.Sum
	if !req.State.Raw.IsNull() {
		prior = &volumeModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, prior)...)
		cached = loadSourceCache(ctx, req.Private.GetKey)
	}
	if req.Plan.Raw.IsNull() {
		if prior != nil && !resp.Diagnostics.HasError() {
			r.warnUsers(ctx, prior, "destroys", &resp.Diagnostics)
		}
		return
	}
	var config, plan volumeModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	changed := planSource(ctx, &plan, prior, config.Capacity, cached, &resp.Diagnostics)
	if changed {
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("source_sha256"))
	}
	if resp.Diagnostics.HasError() {
		return
	}
	switch {
	case prior == nil:
	case plan.replaced(prior, changed):
		r.warnUsers(ctx, prior, "replaces (destroys and creates again)", &resp.Diagnostics)
	case shrinkError(&plan, prior, "") != nil:
		resp.Diagnostics.Append(shrinkError(&plan, prior, r.usersOf(ctx, prior))...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *volumeResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	ctx, plan, conn := begin[volumeModel](ctx, r.data, req.Plan.Get, &resp.Diagnostics)
	if conn == nil {
		return
	}
	// Open the source before creating anything, so a file that vanished
	// since plan leaves no empty volume behind.
	var src *os.File
	var size uint64
	if !plan.Source.IsNull() {
		var err error
		if src, size, err = diskimage.Open(plan.Source.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("source"), "Unable to read the source image", err.Error())
			return
		}
		defer src.Close()
	}

	spec, err := plan.spec()
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("capacity"), "Value too large", err.Error())
		return
	}
	vol, err := conn.CreateVolume(ctx, spec)
	if err != nil {
		resp.Diagnostics.Append(createVolumeDiag(plan, err))
		return
	}
	tflog.Info(ctx, "created volume", map[string]any{"path": vol.Path})
	if src != nil {
		var ok bool
		if vol, ok = fillVolume(ctx, conn, vol, src, size, &plan, resp); !ok {
			return
		}
	}
	plan.fromVolume(vol)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func createVolumeDiag(plan volumeModel, err error) diag.Diagnostic {
	switch {
	case errors.Is(err, hypervisor.ErrVolumeExists):
		id := plan.HostID.ValueString() + "/" + plan.Pool.ValueString() + "/" + plan.Name.ValueString()
		return diag.NewAttributeErrorDiagnostic(path.Root("name"), "Volume already exists",
			fmt.Sprintf("%s. Choose another name, or bring the volume under Terraform with `terraform import virtumancer_volume.<name> %s`.", err, id))
	case errors.Is(err, hypervisor.ErrPoolNotFound):
		return diag.NewAttributeErrorDiagnostic(path.Root("pool"), "Storage pool not found",
			fmt.Sprintf("%s. List the host's pools with `virsh pool-list --all` and fix `pool`.", err))
	case errors.Is(err, hypervisor.ErrVolumeNotFound) && !plan.BaseVolume.IsNull():
		return diag.NewAttributeErrorDiagnostic(path.Root("base_volume"), "Base volume not found",
			fmt.Sprintf("%s. base_volume must name a volume of pool %q.", err, plan.Pool.ValueString()))
	}
	return diag.NewErrorDiagnostic("Unable to create the volume", err.Error())
}

func (r *volumeResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	ctx, state, conn := begin[volumeModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if conn == nil {
		return
	}
	vol, err := conn.LookupVolume(ctx, state.Pool.ValueString(), state.Name.ValueString())
	if hypervisor.IsNotFound(err) {
		tflog.Info(ctx, "volume is gone; removing it from state", map[string]any{"error": err.Error()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to read the volume",
			fmt.Sprintf("%s. The state is kept; fix the host and run again.", err))
		return
	}
	state.fromVolume(vol)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update grows the volume when capacity grew (every other attribute that
// touches the volume forces replacement), and records `source` moved to a
// file with the same content (or removed) as is.
func (r *volumeResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state volumeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = plan.logFields(ctx)
	plan.ID, plan.Path = state.ID, state.Path
	if plan.Capacity.IsUnknown() || plan.Capacity.Equal(state.Capacity) {
		plan.Capacity = state.Capacity
	} else if !r.grow(ctx, &plan, &resp.Diagnostics) {
		return
	}
	if plan.Source.IsNull() {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, sourceCacheKey, nil)...)
	} else if fi, err := os.Stat(plan.Source.ValueString()); err == nil && !plan.SourceSHA256.IsUnknown() {
		sum := diskimage.SumOf(plan.Source.ValueString(), fi, plan.SourceSHA256.ValueString())
		resp.Diagnostics.Append(saveSourceCache(ctx, resp.Private.SetKey, sum)...)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// grow resizes the volume to the planned capacity and reads it back into
// plan; on failure it adds the diagnostic and returns false (the volume
// keeps its size and the state its capacity).
func (r *volumeResource) grow(ctx context.Context, plan *volumeModel, diags *diag.Diagnostics) bool {
	conn := r.data.Conn(ctx, plan.hostID(), diags)
	if conn == nil {
		return false
	}
	pool, name := plan.Pool.ValueString(), plan.Name.ValueString()
	how, err := conn.ResizeVolume(ctx, pool, name, uint64(plan.Capacity.ValueInt64())*bytesPerMiB)
	if errors.Is(err, hypervisor.ErrShrink) {
		diags.AddAttributeError(path.Root("capacity"), "Volume capacity cannot shrink",
			fmt.Sprintf("%s. Nothing was changed; keep capacity at the volume's size or more.", err))
		return false
	}
	if errors.Is(err, hypervisor.ErrUnsupported) {
		diags.AddAttributeError(path.Root("capacity"), "Unable to resize the volume",
			fmt.Sprintf("%s. This host's driver cannot resize volumes (the test:///default driver has no virStorageVolResize); "+
				"keep capacity as it was, or replace the volume deliberately (a new name). Nothing was changed.", err))
		return false
	}
	if err != nil {
		diags.AddAttributeError(path.Root("capacity"), "Unable to resize the volume",
			fmt.Sprintf("%s. The volume keeps its size and its data; fix the cause and run again.", err))
		return false
	}
	tflog.Info(ctx, "resized volume", map[string]any{"capacity_mib": plan.Capacity.ValueInt64(), "live_domain": how.Domain, "target": how.Target})
	vol, err := conn.LookupVolume(ctx, pool, name)
	if err != nil {
		diags.AddError("Unable to read the volume", fmt.Sprintf("The volume was resized but reading it back failed: %s", err))
		return false
	}
	plan.fromVolume(vol)
	return true
}

func (r *volumeResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx, state, conn := begin[volumeModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if conn == nil {
		return
	}
	vol := hypervisor.Volume{Pool: state.Pool.ValueString(), Name: state.Name.ValueString()}
	err := conn.DeleteUnusedVolume(ctx, vol)
	if hypervisor.IsNotFound(err) {
		tflog.Info(ctx, "volume already gone")
		return
	}
	var inUse *hypervisor.VolumeInUseError
	if errors.As(err, &inUse) {
		resp.Diagnostics.AddError("Volume is in use",
			fmt.Sprintf("%s. Destroy or change them first (or add `lifecycle { replace_triggered_by = [<this volume>.path] }` to each, "+
				"so that they are replaced with it), then run again. The volume and its data stay, and so does its state.", err))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to delete the volume", fmt.Sprintf("%s. The volume stays in state; fix the cause and run again.", err))
		return
	}
	tflog.Info(ctx, "deleted volume")
}

func (r *volumeResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	hostID, pool, name, err := parseVolumeID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("host_id"), hostID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("pool"), pool)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}

// parseVolumeID splits host_id/pool/name from the right: pool and name
// hold no '/', a host id may.
func parseVolumeID(id string) (hostID, pool, name string, err error) {
	i := strings.LastIndex(id, "/")
	if i > 0 {
		j := strings.LastIndex(id[:i], "/")
		if j > 0 && i-j > 1 && i < len(id)-1 {
			return id[:j], id[j+1 : i], id[i+1:], nil
		}
	}
	return "", "", "", fmt.Errorf("the import id %q is not host_id/pool/name; use e.g. `local/default/web-root.qcow2`", id)
}

type volumeModel struct {
	HostID       types.String `tfsdk:"host_id"`
	Pool         types.String `tfsdk:"pool"`
	Name         types.String `tfsdk:"name"`
	Capacity     types.Int64  `tfsdk:"capacity"`
	Format       types.String `tfsdk:"format"`
	BaseVolume   types.String `tfsdk:"base_volume"`
	Source       types.String `tfsdk:"source"`
	ID           types.String `tfsdk:"id"`
	Path         types.String `tfsdk:"path"`
	SourceSHA256 types.String `tfsdk:"source_sha256"`
}

func (m *volumeModel) logFields(ctx context.Context) context.Context {
	ctx = tflog.SetField(ctx, "host", m.HostID.ValueString())
	ctx = tflog.SetField(ctx, "pool", m.Pool.ValueString())
	return tflog.SetField(ctx, "volume", m.Name.ValueString())
}

// spec is what the pool is asked to create; an unknown capacity (taken from
// the base volume) is left to libvirt.
func (m *volumeModel) hostID() string { return m.HostID.ValueString() }

func (m *volumeModel) spec() (hypervisor.VolumeSpec, error) {
	spec := hypervisor.VolumeSpec{
		Pool: m.Pool.ValueString(), Name: m.Name.ValueString(), Format: m.Format.ValueString(),
		BackingVolume: m.BaseVolume.ValueString(),
	}
	if m.Capacity.IsUnknown() || m.Capacity.IsNull() {
		return spec, nil
	}
	// The plan-time validator refused what does not fit: never a wrapped size.
	b, ok := sizes.VolumeBytes(m.Capacity.ValueInt64())
	if !ok {
		return spec, fmt.Errorf("capacity = %d MiB is above libvirt's %d MiB and passed the plan-time check: this is a bug in the provider",
			m.Capacity.ValueInt64(), sizes.MaxVolumeMiB)
	}
	spec.CapacityBytes = b
	return spec, nil
}

// fromVolume records what the pool reports. A format the pool does not
// report keeps the configured one; the base volume is recognised by its
// path in the same directory as the volume (a backing file outside the
// pool cannot be expressed as base_volume and reads as none).
func (m *volumeModel) fromVolume(v hypervisor.Volume) {
	m.ID = types.StringValue(m.HostID.ValueString() + "/" + v.Pool + "/" + v.Name)
	m.Path = types.StringValue(v.Path)
	m.Capacity = types.Int64Value(int64((v.CapacityBytes + bytesPerMiB - 1) / bytesPerMiB))
	if v.Format != "" {
		m.Format = types.StringValue(v.Format)
	} else if m.Format.IsNull() || m.Format.IsUnknown() {
		m.Format = types.StringValue(defaultVolumeFormat)
	}
	switch {
	case v.BackingPath == "":
		m.BaseVolume = types.StringNull()
	case filepath.Dir(v.BackingPath) == filepath.Dir(v.Path):
		m.BaseVolume = types.StringValue(filepath.Base(v.BackingPath))
	default:
		m.BaseVolume = types.StringNull()
	}
	if m.SourceSHA256.IsUnknown() {
		m.SourceSHA256 = types.StringNull()
	}
}
