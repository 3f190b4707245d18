package resources

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

var (
	_ resource.ResourceWithConfigure        = (*volumeResource)(nil)
	_ resource.ResourceWithImportState      = (*volumeResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*volumeResource)(nil)
	_ resource.ResourceWithConfigValidators = (*volumeResource)(nil)
)

const (
	volMiB = 1 << 20
	// volPrivateSourceKey keys the private state that caches the hash of the
	// uploaded source by path, size and mtime, so plans hash a large image
	// only when the file actually changed.
	volPrivateSourceKey = "source"
	volDefaultFormat    = "qcow2"
)

// volPlainName: pools and volumes are single path elements, which is what
// lets the import id host_id/pool/name be split from the right.
var volPlainName = stringvalidator.RegexMatches(regexp.MustCompile(`^[^/]+$`), "must be non-empty and contain no '/'")

// NewVolumeResource is the constructor of virtumancer_volume.
func NewVolumeResource() resource.Resource { return &volumeResource{} }

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
			"or filled with a local image file. Every change except `source` moving to a file with identical content replaces the volume; " +
			"its data is lost then.",
		Attributes: map[string]schema.Attribute{
			// Required
			"host_id": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Validators: []validator.String{validate.NonEmpty()},
				Description: "Id of the `virtumancer_host` whose pool holds the volume.",
			},
			"pool": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Validators: []validator.String{volPlainName},
				Description: "Name of the libvirt storage pool, e.g. `default`.",
			},
			"name": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Validators: []validator.String{volPlainName},
				Description: "Volume name; in a directory pool also its file name, e.g. `web-root.qcow2`.",
			},

			// Optional
			"capacity": schema.Int64Attribute{
				Optional: true, Computed: true,
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown(), int64planmodifier.RequiresReplace()},
				Validators:    []validator.Int64{int64validator.AtLeast(1)},
				Description: "Virtual size in MiB. Required unless `base_volume` or `source` is set: then it defaults to the base volume's size, " +
					"or to the size of the `source` image (its virtual size for a qcow2 image). Changing it replaces the volume.",
			},
			"format": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(volDefaultFormat), PlanModifiers: replace,
				Validators:  []validator.String{stringvalidator.OneOf(vminfo.DiskFormats...)},
				Description: "Volume format: " + volQuoteList(vminfo.DiskFormats) + ". Defaults to `" + volDefaultFormat + "`. It must match the `source` image.",
			},
			"base_volume": schema.StringAttribute{
				Optional: true, PlanModifiers: replace, Validators: []validator.String{volPlainName},
				Description: "Name of a volume in the same pool to use as the backing file of this qcow2 overlay (a copy-on-write clone). " +
					"Needs `format = \"qcow2\"`; conflicts with `source`.",
			},
			"source": schema.StringAttribute{
				Optional: true, Validators: []validator.String{validate.NonEmpty()},
				Description: "Path of a local image file (on the machine running Terraform) to upload into the new volume. " +
					"The volume is replaced when the file's content changes (see `source_sha256`); pointing at another file with the same content changes nothing. " +
					"A raw image needs `format = \"raw\"`, a qcow2 image `format = \"qcow2\"`.",
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

// ModifyPlan reads the source file at plan time: its hash (replace when the
// content changed), its format (must match `format`) and its size (the
// default capacity). A source file missing for an existing volume is a
// warning: the volume is fine and plans must not fail because a CI runner
// lacks the image.
func (r *volumeResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var config, plan volumeModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	creating := req.State.Raw.IsNull()
	var state volumeModel
	if !creating {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}

	switch {
	case plan.Source.IsNull():
		plan.SourceSHA256 = types.StringNull()
	case plan.Source.IsUnknown():
		plan.SourceSHA256 = types.StringUnknown()
	default:
		src := plan.Source.ValueString()
		var cached *volSourceInfo
		if !creating {
			cached = volLoadSourceInfo(ctx, req.Private.GetKey)
		}
		info, err := volInspectSource(src, cached)
		if err != nil {
			if creating {
				resp.Diagnostics.AddAttributeError(path.Root("source"), "Unable to read the source image", err.Error())
				return
			}
			resp.Diagnostics.AddAttributeWarning(path.Root("source"), "Unable to read the source image",
				fmt.Sprintf("%s. The volume keeps its uploaded content and the recorded source_sha256; make the file readable again to detect changes to it.", err))
			plan.SourceSHA256 = state.SourceSHA256
			break
		}
		tflog.Debug(ctx, "inspected source", map[string]any{"source": src, "format": info.Format, "sha256": info.SHA256, "cached": info.FromCache})
		plan.SourceSHA256 = types.StringValue(info.SHA256)
		if !creating && !plan.SourceSHA256.Equal(state.SourceSHA256) {
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("source_sha256"))
		}
		// The checks below concern the upload, so they matter only when one
		// will happen: on create or when the content changed.
		if creating || !plan.SourceSHA256.Equal(state.SourceSHA256) {
			resp.Diagnostics.Append(volCheckSourceFits(info, plan.Format, config.Capacity)...)
			if resp.Diagnostics.HasError() {
				return
			}
			if config.Capacity.IsNull() {
				plan.Capacity = types.Int64Value(info.CapacityMiB())
			}
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *volumeResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !providerdata.Configured(r.data, &resp.Diagnostics) {
		return
	}
	var plan volumeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = plan.logFields(ctx)
	conn := r.data.Conn(ctx, plan.HostID.ValueString(), &resp.Diagnostics)
	if conn == nil {
		return
	}

	spec := hypervisor.VolumeSpec{
		Pool: plan.Pool.ValueString(), Name: plan.Name.ValueString(), Format: plan.Format.ValueString(),
		BackingVolume: plan.BaseVolume.ValueString(),
	}
	if !plan.Capacity.IsUnknown() && !plan.Capacity.IsNull() {
		spec.CapacityBytes = uint64(plan.Capacity.ValueInt64()) * volMiB
	}
	// Open the source before creating anything, so a file that vanished
	// since plan leaves no empty volume behind.
	var src *os.File
	var srcSize uint64
	if !plan.Source.IsNull() {
		f, size, err := volOpenSource(plan.Source.ValueString())
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("source"), "Unable to read the source image", err.Error())
			return
		}
		defer f.Close()
		src, srcSize = f, size
	}

	vol, err := conn.CreateVolume(ctx, spec)
	if err != nil {
		resp.Diagnostics.Append(createVolumeDiag(plan, err))
		return
	}
	tflog.Info(ctx, "created volume", map[string]any{"path": vol.Path})

	if src != nil {
		sum, err := volUpload(ctx, conn, vol, src, srcSize)
		if err == nil && !plan.SourceSHA256.IsUnknown() && sum != plan.SourceSHA256.ValueString() {
			err = fmt.Errorf("the file %s changed between plan and apply (planned sha256 %s, uploaded %s); run the plan again",
				plan.Source.ValueString(), plan.SourceSHA256.ValueString(), sum)
		}
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("source"), "Unable to upload the source image",
				fmt.Sprintf("Uploading into volume %q of pool %q on host %q failed: %s.%s", vol.Name, vol.Pool, plan.HostID.ValueString(), err, r.cleanup(ctx, conn, vol)))
			return
		}
		plan.SourceSHA256 = types.StringValue(sum)
		if fi, err := src.Stat(); err == nil {
			resp.Diagnostics.Append(volSaveSourceInfo(ctx, resp.Private.SetKey, volSourceInfoOf(plan.Source.ValueString(), fi, sum))...)
		}
		tflog.Info(ctx, "uploaded source", map[string]any{"bytes": srcSize, "sha256": sum})
		// Re-read: for a qcow2 image the size is now the image's own.
		if vol, err = conn.LookupVolume(ctx, vol.Pool, vol.Name); err != nil {
			resp.Diagnostics.AddError("Unable to read the volume", fmt.Sprintf("The volume was created and filled but reading it back failed: %s", err))
			return
		}
	}

	plan.fromVolume(vol)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *volumeResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if !providerdata.Configured(r.data, &resp.Diagnostics) {
		return
	}
	var state volumeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = state.logFields(ctx)
	conn := r.data.Conn(ctx, state.HostID.ValueString(), &resp.Diagnostics)
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

// Update changes nothing on the host: every attribute that touches the
// volume forces replacement, so only `source` can get here, moved to a file
// with the same content (or removed), which is recorded as is.
func (r *volumeResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state volumeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID, plan.Path, plan.Capacity = state.ID, state.Path, state.Capacity
	if plan.Source.IsNull() {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, volPrivateSourceKey, nil)...)
	} else if fi, err := os.Stat(plan.Source.ValueString()); err == nil && !plan.SourceSHA256.IsUnknown() {
		resp.Diagnostics.Append(volSaveSourceInfo(ctx, resp.Private.SetKey, volSourceInfoOf(plan.Source.ValueString(), fi, plan.SourceSHA256.ValueString()))...)
	}
	tflog.Debug(plan.logFields(ctx), "recorded new source path")
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *volumeResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !providerdata.Configured(r.data, &resp.Diagnostics) {
		return
	}
	var state volumeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = state.logFields(ctx)
	conn := r.data.Conn(ctx, state.HostID.ValueString(), &resp.Diagnostics)
	if conn == nil {
		return
	}
	vol := hypervisor.Volume{Pool: state.Pool.ValueString(), Name: state.Name.ValueString()}
	err := conn.DeleteVolume(ctx, vol)
	if hypervisor.IsNotFound(err) {
		tflog.Info(ctx, "volume already gone")
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

// cleanup deletes a volume whose upload failed and says what happened, as
// a sentence to append to the error.
func (r *volumeResource) cleanup(ctx context.Context, conn *hypervisor.Conn, vol hypervisor.Volume) string {
	if err := conn.DeleteVolume(ctx, vol); err != nil && !hypervisor.IsNotFound(err) {
		return fmt.Sprintf(" Deleting the partly written volume failed too (%s); delete %s by hand.", err, vol.Path)
	}
	return " The partly written volume was deleted."
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

// volUpload streams f into vol, hashing what it sends.
func volUpload(ctx context.Context, conn *hypervisor.Conn, vol hypervisor.Volume, f *os.File, size uint64) (string, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("rewind %s: %w", f.Name(), err)
	}
	h := sha256.New()
	if err := conn.UploadVolume(ctx, vol, io.TeeReader(f, h), size); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// volumeConfigValidator checks what attributes say about each other.
type volumeConfigValidator struct{}

func (volumeConfigValidator) Description(context.Context) string {
	return "capacity is required unless base_volume or source is set; base_volume needs qcow2 and conflicts with source"
}

func (v volumeConfigValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (volumeConfigValidator) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var c volumeModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &c)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if c.Capacity.IsNull() && c.BaseVolume.IsNull() && c.Source.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("capacity"), "Missing capacity",
			"Set capacity (MiB) for an empty volume; it may be left out only with base_volume (defaults to the base's size) or source (defaults to the image's size).")
	}
	if !c.BaseVolume.IsNull() && !c.Source.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("source"), "Conflicting attributes",
			"A volume is either an overlay on base_volume or a copy of source, not both; remove one of them.")
	}
	if !c.BaseVolume.IsNull() && c.Format.ValueString() == "raw" {
		resp.Diagnostics.AddAttributeError(path.Root("format"), "Raw volumes have no backing volume",
			"A volume with base_volume is a qcow2 overlay: remove format or set it to \"qcow2\".")
	}
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

// fromVolume records what the pool reports. A format the pool does not
// report keeps the configured one; the base volume is recognised by its
// path in the same directory as the volume (a backing file outside the
// pool cannot be expressed as base_volume and reads as none).
func (m *volumeModel) fromVolume(v hypervisor.Volume) {
	m.ID = types.StringValue(m.HostID.ValueString() + "/" + v.Pool + "/" + v.Name)
	m.Path = types.StringValue(v.Path)
	m.Capacity = types.Int64Value(int64((v.CapacityBytes + volMiB - 1) / volMiB))
	if v.Format != "" {
		m.Format = types.StringValue(v.Format)
	} else if m.Format.IsNull() || m.Format.IsUnknown() {
		m.Format = types.StringValue(volDefaultFormat)
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

// volSourceInfo is what plan and apply learn about a source file.
type volSourceInfo struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
	// Not cached: read from the header on every inspection.
	Format     string `json:"-"`
	VirtualLen uint64 `json:"-"` // the disk size the image presents, bytes
	FromCache  bool   `json:"-"` // SHA256 came from the private state
}

// CapacityMiB is the capacity a volume needs to hold the image.
func (s volSourceInfo) CapacityMiB() int64 { return int64((s.VirtualLen + volMiB - 1) / volMiB) }

func volSourceInfoOf(p string, fi os.FileInfo, sum string) volSourceInfo {
	return volSourceInfo{Path: p, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), SHA256: sum}
}

func volLoadSourceInfo(ctx context.Context, get func(context.Context, string) ([]byte, diag.Diagnostics)) *volSourceInfo {
	b, diags := get(ctx, volPrivateSourceKey)
	if diags.HasError() || len(b) == 0 {
		return nil
	}
	var s volSourceInfo
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	return &s
}

func volSaveSourceInfo(ctx context.Context, set func(context.Context, string, []byte) diag.Diagnostics, s volSourceInfo) diag.Diagnostics {
	b, err := json.Marshal(s)
	if err != nil {
		return diag.Diagnostics{providerdata.Bug("encoding the source cache: " + err.Error())}
	}
	return set(ctx, volPrivateSourceKey, b)
}

// volOpenSource opens a regular file and returns its size.
func volOpenSource(p string) (*os.File, uint64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, fmt.Errorf("source %s: %w", p, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("source %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("source %s is not a regular file", p)
	}
	if fi.Size() == 0 {
		f.Close()
		return nil, 0, fmt.Errorf("source %s is empty", p)
	}
	return f, uint64(fi.Size()), nil
}

// volInspectSource reads the image header and hashes the file, unless cached
// holds the hash for the same path, size and mtime.
func volInspectSource(p string, cached *volSourceInfo) (volSourceInfo, error) {
	f, size, err := volOpenSource(p)
	if err != nil {
		return volSourceInfo{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return volSourceInfo{}, fmt.Errorf("source %s: %w", p, err)
	}
	info := volSourceInfoOf(p, fi, "")
	info.Format, info.VirtualLen = "raw", size
	var hdr [32]byte
	if n, _ := io.ReadFull(f, hdr[:]); n == len(hdr) && string(hdr[:4]) == "QFI\xfb" {
		info.Format = "qcow2"
		info.VirtualLen = volBEUint64(hdr[24:32])
	}
	if cached != nil && cached.Path == info.Path && cached.Size == info.Size && cached.ModTime == info.ModTime && cached.SHA256 != "" {
		info.SHA256, info.FromCache = cached.SHA256, true
		return info, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return volSourceInfo{}, fmt.Errorf("source %s: %w", p, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return volSourceInfo{}, fmt.Errorf("source %s: reading: %w", p, err)
	}
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	return info, nil
}

// volCheckSourceFits reports a source image that the planned volume cannot
// hold as it is: a format mismatch or a capacity below the image's size.
func volCheckSourceFits(info volSourceInfo, format types.String, capacity types.Int64) diag.Diagnostics {
	var diags diag.Diagnostics
	if !format.IsUnknown() && format.ValueString() != info.Format {
		diags.AddAttributeError(path.Root("format"), "Source image format does not match",
			fmt.Sprintf("%s is a %s image but format is %q; set format = %q.", info.Path, info.Format, format.ValueString(), info.Format))
		return diags
	}
	if capacity.IsNull() || capacity.IsUnknown() {
		return diags
	}
	need := info.CapacityMiB()
	switch got := capacity.ValueInt64(); {
	case info.Format == "qcow2" && got != need:
		// The upload replaces the whole qcow2 file, header included, so the
		// volume takes the image's own virtual size whatever was asked.
		diags.AddAttributeError(path.Root("capacity"), "Capacity does not match the qcow2 image",
			fmt.Sprintf("%s is a qcow2 image of %d MiB and an uploaded qcow2 image keeps its own size. "+
				"Remove capacity (it defaults to %d) or resize the image first (qemu-img resize).", info.Path, need, need))
	case got < need:
		diags.AddAttributeError(path.Root("capacity"), "Capacity too small for the source image",
			fmt.Sprintf("%s holds %d bytes, which needs a capacity of at least %d MiB; capacity is %d.", info.Path, info.VirtualLen, need, got))
	}
	return diags
}

func volBEUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// volQuoteList renders allowed values for a description: `a`, `b` or `c`.
func volQuoteList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "`" + v + "`"
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
