package resources

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/dirpool"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
)

// virtumancer_pool: a directory storage pool. The rules and the XML live in
// internal/dirpool, the libvirt calls in internal/hypervisor/pools.go.

var (
	_ resource.ResourceWithConfigure   = (*poolResource)(nil)
	_ resource.ResourceWithImportState = (*poolResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*poolResource)(nil)
)

// madeDirKey is the private-state key recording that Create made the
// directory, so Delete removes it; an imported pool's directory is never
// removed.
const madeDirKey = "made_dir"

// NewPoolResource is the constructor of virtumancer_pool.
func NewPoolResource() resource.Resource {
	return withIdentity(&poolResource{}, hostIDPart, namePart("Pool"))
}

type poolResource struct {
	data *providerdata.Data
}

func (r *poolResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pool"
}

func (r *poolResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = poolSchemaV0()
}

func poolSchemaV0() schema.Schema {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	return schema.Schema{
		Description: "A libvirt directory storage pool on a host, for `virtumancer_volume`s. The directory is created when missing " +
			"and removed with the pool only if this resource created it (an existing or imported directory is kept; parent directories made along the way stay). " +
			"Destroy refuses a pool that still holds volumes, naming them, before anything is removed. " +
			"On the `test:///default` driver nothing touches the file system: the directory is never made, and a path that is a file is not detected; " +
			"that driver also has a built-in pool, `default-pool` (not `default`), whose path `/default-pool` is fictitious, and no volume upload.",
		Attributes: map[string]schema.Attribute{
			// Required
			"host_id": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Validators: []validator.String{validate.NonEmpty()},
				Description: "Id of the `virtumancer_host` the pool lives on.",
			},
			"name": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Validators: []validator.String{singlePathElement},
				Description: "Pool name, as `virtumancer_volume.pool` names it. Changing it replaces the pool.",
			},
			"path": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Validators: []validator.String{poolPathValidator{}},
				Description: "Absolute, clean path of the pool's directory on the host, e.g. `/var/lib/libvirt/pools/images`; " +
					"created (with its parents) when missing. A path that exists and is not a directory is refused before anything is defined. " +
					"Changing it replaces the pool.",
			},

			// Optional
			"autostart": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "Start the pool when libvirtd starts. Defaults to `true`, unlike virsh: a VM whose disks live in a pool " +
					"that is down after a host reboot cannot start. Changed in place.",
			},

			// Computed
			"id":   schema.StringAttribute{Computed: true, PlanModifiers: keep, Description: "`host_id/name`, the import id."},
			"uuid": schema.StringAttribute{Computed: true, PlanModifiers: keep, Description: "UUID libvirt gave the pool."},
			"active": schema.BoolAttribute{
				Computed:    true,
				Description: "Whether the pool runs. The provider keeps it started: a pool stopped behind Terraform's back plans an in-place update that starts it.",
			},
			"capacity": schema.Int64Attribute{Computed: true, Description: "Size of the file system holding the pool, in MiB (rounded down), as of the last refresh."},
			"allocation": schema.Int64Attribute{Computed: true, Description: "Space used on the pool's file system, in MiB (rounded down), as of the last refresh. " +
				"libvirt reports a directory pool's file-system figures, so every writer on that file system moves it, not only the pool's volumes."},
			"available": schema.Int64Attribute{Computed: true, Description: "Free space on the pool's file system for new volumes, in MiB (rounded down), as of the last refresh."},
		},
	}
}

func (r *poolResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerdata.From(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan plans `active = true`: the provider keeps its pools running,
// so a pool found stopped is an update that starts it, and its sizes are
// then known only after the start.
func (r *poolResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || req.State.Raw.IsNull() {
		if !req.Plan.Raw.IsNull() {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("active"), true)...)
		}
		return
	}
	var active types.Bool
	if resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("active"), &active)...); active.ValueBool() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("active"), true)...)
	for _, a := range []string{"capacity", "allocation", "available"} {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(a), types.Int64Unknown())...)
	}
}

func (r *poolResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	ctx, plan, conn := begin[poolModel](ctx, r.data, req.Plan.Get, &resp.Diagnostics)
	if conn == nil {
		return
	}
	spec := dirpool.Spec{Name: plan.Name.ValueString(), Path: plan.Path.ValueString()}
	sp, madeDir, err := conn.CreateDirPool(ctx, spec, plan.Autostart.ValueBool())
	if err != nil {
		resp.Diagnostics.Append(createPoolDiag(plan, err))
		return
	}
	tflog.Info(ctx, "created pool", map[string]any{"path": sp.Path, "made_dir": madeDir})
	if madeDir {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, madeDirKey, []byte("true"))...)
	}
	plan.fromPool(sp)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func createPoolDiag(plan poolModel, err error) diag.Diagnostic {
	switch {
	case errors.Is(err, hypervisor.ErrPoolExists):
		return diag.NewAttributeErrorDiagnostic(path.Root("name"), "Storage pool already exists",
			fmt.Sprintf("%s. Choose another name, or bring the pool under Terraform with `terraform import virtumancer_pool.<name> %s`.", err, plan.importID()))
	case errors.Is(err, hypervisor.ErrNotDirectory):
		return diag.NewAttributeErrorDiagnostic(path.Root("path"), "Pool path is not a directory",
			fmt.Sprintf("%s. Nothing was defined.", err))
	}
	return diag.NewErrorDiagnostic("Unable to create the storage pool", err.Error())
}

func (r *poolResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	ctx, state, conn := begin[poolModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if conn == nil {
		return
	}
	sp, err := conn.LookupPool(ctx, state.Name.ValueString())
	if hypervisor.IsNotFound(err) {
		tflog.Info(ctx, "pool is gone; removing it from state", map[string]any{"error": err.Error()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to read the storage pool", fmt.Sprintf("%s. The state is kept; fix the host and run again.", err))
		return
	}
	if sp.Type != dirpool.Type {
		resp.Diagnostics.AddError("Not a directory pool", fmt.Sprintf(
			"pool %q on host %q is of type %q; virtumancer_pool manages directory pools only. Remove it from the configuration (and state) and manage it with virsh.",
			sp.Name, state.HostID.ValueString(), sp.Type))
		return
	}
	state.fromPool(sp)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update changes what libvirt changes in place: autostart, and starting a
// pool found stopped (see keepStarted). Everything else replaces the pool.
func (r *poolResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	ctx, plan, conn := begin[poolModel](ctx, r.data, req.Plan.Get, &resp.Diagnostics)
	if conn == nil {
		return
	}
	var state poolModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	name := plan.Name.ValueString()
	if !state.Active.ValueBool() {
		if err := conn.StartPool(ctx, name); err != nil {
			resp.Diagnostics.AddError("Unable to start the storage pool", fmt.Sprintf("%s. Check that the pool's directory %s exists on the host.", err, plan.Path.ValueString()))
			return
		}
		tflog.Info(ctx, "started pool")
	}
	if plan.Autostart.ValueBool() != state.Autostart.ValueBool() {
		if err := conn.SetPoolAutostart(ctx, name, plan.Autostart.ValueBool()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("autostart"), "Unable to set the pool's autostart", err.Error())
			return
		}
	}
	sp, err := conn.LookupPool(ctx, name)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read the storage pool", fmt.Sprintf("%s. The change was applied; run `terraform refresh`.", err))
		return
	}
	plan.fromPool(sp)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *poolResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx, state, conn := begin[poolModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if conn == nil {
		return
	}
	made, diags := req.Private.GetKey(ctx, madeDirKey)
	if resp.Diagnostics.Append(diags...); resp.Diagnostics.HasError() {
		return
	}
	err := conn.DeletePool(ctx, state.Name.ValueString(), string(made) == "true")
	switch {
	case hypervisor.IsNotFound(err):
		tflog.Info(ctx, "pool already gone")
	case errors.Is(err, hypervisor.ErrPoolNotEmpty):
		resp.Diagnostics.AddError("Storage pool still holds volumes", fmt.Sprintf("%s. Nothing was removed.", err))
	case err != nil:
		resp.Diagnostics.AddError("Unable to delete the storage pool", fmt.Sprintf("%s. The pool stays in state; fix the cause and run again.", err))
	default:
		tflog.Info(ctx, "deleted pool", map[string]any{"removed_dir": string(made) == "true"})
	}
}

func (r *poolResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	hostID, name, err := parsePoolID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("host_id"), hostID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}

// parsePoolID splits host_id/name at the last '/': a pool name holds none,
// a host id may.
func parsePoolID(id string) (hostID, name string, err error) {
	i := strings.LastIndex(id, "/")
	if i <= 0 || i == len(id)-1 {
		return "", "", fmt.Errorf("the import id %q is not host_id/name; use e.g. `local/images`", id)
	}
	return id[:i], id[i+1:], nil
}

type poolModel struct {
	HostID     types.String `tfsdk:"host_id"`
	Name       types.String `tfsdk:"name"`
	Path       types.String `tfsdk:"path"`
	Autostart  types.Bool   `tfsdk:"autostart"`
	ID         types.String `tfsdk:"id"`
	UUID       types.String `tfsdk:"uuid"`
	Active     types.Bool   `tfsdk:"active"`
	Capacity   types.Int64  `tfsdk:"capacity"`
	Allocation types.Int64  `tfsdk:"allocation"`
	Available  types.Int64  `tfsdk:"available"`
}

func (m *poolModel) logFields(ctx context.Context) context.Context {
	ctx = tflog.SetField(ctx, "host", m.HostID.ValueString())
	return tflog.SetField(ctx, "pool", m.Name.ValueString())
}

func (m *poolModel) hostID() string { return m.HostID.ValueString() }

func (m *poolModel) importID() string { return m.HostID.ValueString() + "/" + m.Name.ValueString() }

// fromPool records what the host reports.
func (m *poolModel) fromPool(sp hypervisor.StoragePool) {
	m.Name = types.StringValue(sp.Name)
	m.ID = types.StringValue(m.importID())
	m.Path = types.StringValue(sp.Path)
	m.UUID = types.StringValue(sp.UUID)
	m.Autostart = types.BoolValue(sp.Autostart)
	m.Active = types.BoolValue(sp.Active)
	m.Capacity = types.Int64Value(dirpool.MiB(sp.CapacityBytes))
	m.Allocation = types.Int64Value(dirpool.MiB(sp.AllocationBytes))
	m.Available = types.Int64Value(dirpool.MiB(sp.AvailableBytes))
}

// poolPathValidator applies dirpool.CheckPath at validate time.
type poolPathValidator struct{}

func (poolPathValidator) Description(context.Context) string {
	return "an absolute, clean directory path other than /"
}
func (v poolPathValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (poolPathValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := dirpool.CheckPath(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid pool path", err.Error())
	}
}
