package resources

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
)

var (
	_ resource.ResourceWithConfigure   = (*hostResource)(nil)
	_ resource.ResourceWithImportState = (*hostResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*hostResource)(nil)
)

// NewHostResource is the constructor of virtumancer_host.
func NewHostResource() resource.Resource {
	return withIdentity(&hostResource{}, identityPart{"id", "Host id, the key of the store's `hosts` row."})
}

type hostResource struct {
	data *providerdata.Data
}

func (r *hostResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_host"
}

func (r *hostResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = hostSchemaV0()
}

func hostSchemaV0() schema.Schema {
	// The facts change only when the host behind the URI changes (or is
	// upgraded, which refresh picks up): keep them across plans unless uri
	// changes, which ModifyPlan handles.
	keepString := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	keepInt := []planmodifier.Int64{int64planmodifier.UseStateForUnknown()}
	return schema.Schema{
		Description: "A libvirt host recorded in the Virtumancer store (a row of its `hosts` table). " +
			"Create and update check that the URI answers before the row is written; " +
			"delete removes the row and soft-deletes the host's VM rows, and never touches the domains on the host.",
		Attributes: map[string]schema.Attribute{
			// Required
			"id": schema.StringAttribute{
				Required:      true,
				Description:   "Host id, chosen by you: the key of the `hosts` row that VMs and volumes name in their `host_id`. Changing it replaces the host.",
				Validators:    []validator.String{validate.NonEmpty()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"uri": schema.StringAttribute{
				Required: true,
				Description: "libvirt connection URI: `qemu:///system`, `qemu+unix:///system?socket=...`, `qemu+ssh://user@host[:port]/system`, " +
					"`qemu+libssh://...`, `qemu+tcp://...`, `qemu+tls://...` or `test:///default`. Changing it updates the row in place after the new URI has answered. " +
					"It may not hold a password (it is stored in clear): give ssh passwords in the provider's `ssh_passwords` or `" + hypervisor.PasswordEnv + "`. " +
					"A password that another program put into the row keeps working and is left out of the state.",
				Validators: []validator.String{validate.LibvirtURI(), validate.URIWithoutPassword()},
			},

			// Computed
			"hostname":           schema.StringAttribute{Computed: true, PlanModifiers: keepString, Description: "Hostname reported by libvirtd."},
			"libvirt_version":    schema.StringAttribute{Computed: true, PlanModifiers: keepString, Description: "libvirt version of the daemon, e.g. `9.0.0`."},
			"driver":             schema.StringAttribute{Computed: true, PlanModifiers: keepString, Description: "Hypervisor driver behind the URI, e.g. `QEMU` or `Test`."},
			"hypervisor_version": schema.StringAttribute{Computed: true, PlanModifiers: keepString, Description: "Version of the hypervisor (QEMU) behind the driver."},
			"cpus":               schema.Int64Attribute{Computed: true, PlanModifiers: keepInt, Description: "Number of logical CPUs of the host."},
			"memory":             schema.Int64Attribute{Computed: true, PlanModifiers: keepInt, Description: "Memory of the host in MiB."},
			"arch":               schema.StringAttribute{Computed: true, PlanModifiers: keepString, Description: "CPU architecture of the host, e.g. `x86_64`."},
			"kvm": schema.BoolAttribute{
				Computed: true, PlanModifiers: []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
				Description: "Whether the host offers KVM acceleration (`domain_type = \"kvm\"`); without it VMs run under TCG (`qemu`).",
			},
		},
	}
}

func (r *hostResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerdata.From(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan marks the facts unknown when uri changes: they belong to the
// host behind the old URI and are read again from the new one on apply.
func (r *hostResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var state, plan hostModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.URI.Equal(state.URI) {
		return
	}
	plan.setFactsUnknown()
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *hostResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !providerdata.Configured(r.data, &resp.Diagnostics) {
		return
	}
	var plan hostModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	h := store.Host{ID: plan.ID.ValueString(), URI: plan.URI.ValueString()}
	ctx = tflog.SetField(ctx, "host", h.ID)
	ctx = tflog.SetField(ctx, "uri", hypervisor.Redact(h.URI))

	// A taken id fails before anything is dialled; CreateHost checks again
	// inside its transaction for a row written in between.
	existing, err := r.data.Store.GetHost(ctx, h.ID)
	if err != nil && !store.Absent(err) {
		resp.Diagnostics.AddError("Unable to read the Virtumancer store", err.Error())
		return
	}
	takeOver := err == nil
	if takeOver && !r.mayTakeOver(existing, h, &resp.Diagnostics) {
		return
	}

	facts, err := r.probe(ctx, h)
	if err != nil {
		resp.Diagnostics.Append(hostUnreachableDiag(h, err))
		return
	}
	tflog.Debug(ctx, "host answered", map[string]any{"driver": facts.Driver, "hostname": facts.Hostname})

	if !takeOver && !r.createRow(ctx, h, &resp.Diagnostics) {
		return
	}
	if takeOver {
		tflog.Warn(ctx, "took over the existing host row")
		resp.Diagnostics.Append(hostTakenOverDiag(h, r.data.Store.Path()))
	}

	plan.setFacts(facts)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *hostResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if !providerdata.Configured(r.data, &resp.Diagnostics) {
		return
	}
	var state hostModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = tflog.SetField(ctx, "host", state.ID.ValueString())

	h, err := r.data.Store.GetHost(ctx, state.ID.ValueString())
	if store.Absent(err) {
		tflog.Info(ctx, "host row is gone; removing it from state")
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to read the Virtumancer store", err.Error())
		return
	}
	// A password someone else stored in the row stays there (the pool still
	// dials with it) but never reaches the state.
	state.URI = types.StringValue(hypervisor.WithoutPassword(h.URI))

	// An unreachable host is a warning here, not an error: everything this
	// resource manages is the row, which was just read, so the state is
	// exact; only the informational facts are stale. An error would also
	// block every plan and destroy that involves a host that is down or
	// decommissioned, which is exactly when people remove it. The facts keep
	// their last known values (or stay null after an import).
	facts, err := r.probe(ctx, h)
	if err != nil {
		resp.Diagnostics.AddWarning("Host unreachable; facts not refreshed",
			fmt.Sprintf("Host %q (%s) did not answer, so its facts (hostname, versions, CPUs, memory) keep their last known values: %s. "+
				"The host row itself was read from the store and is up to date.", h.ID, hypervisor.Redact(h.URI), err))
	} else {
		state.setFacts(facts)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *hostResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if !providerdata.Configured(r.data, &resp.Diagnostics) {
		return
	}
	var plan hostModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	h := store.Host{ID: plan.ID.ValueString(), URI: plan.URI.ValueString()}
	ctx = tflog.SetField(ctx, "host", h.ID)
	ctx = tflog.SetField(ctx, "uri", hypervisor.Redact(h.URI))

	facts, err := r.probe(ctx, h)
	if err != nil {
		resp.Diagnostics.Append(hostUnreachableDiag(h, err))
		return
	}
	if err := r.data.Store.PutHost(ctx, h); err != nil {
		resp.Diagnostics.AddError("Unable to record the host", fmt.Sprintf("Host %q answered, but updating its row failed: %s", h.ID, err))
		return
	}
	tflog.Info(ctx, "updated host row")
	plan.setFacts(facts)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *hostResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !providerdata.Configured(r.data, &resp.Diagnostics) {
		return
	}
	var state hostModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	ctx = tflog.SetField(ctx, "host", id)
	n, err := r.data.Store.DeleteHost(ctx, id)
	if store.Absent(err) {
		tflog.Info(ctx, "host row already gone")
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to delete the host row", fmt.Sprintf("Deleting host %q from the store failed: %s", id, err))
		return
	}
	tflog.Info(ctx, "deleted host row", map[string]any{"soft_deleted_vms": n})
	if n > 0 {
		resp.Diagnostics.AddWarning("VM rows of the host were soft-deleted",
			fmt.Sprintf("Removing host %q soft-deleted %d VM row(s) of it in the store. Their libvirt domains were left untouched on the host; "+
				"recreating the host and its VMs with the same names revives those rows.", id, n))
	}
}

func (r *hostResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}

// probe dials the host (or reuses the pooled connection) and reads its
// facts: the proof that the URI answers.
func (r *hostResource) probe(ctx context.Context, h store.Host) (hypervisor.HostFacts, error) {
	c, err := r.data.Pool.Get(ctx, h.ID, h.URI)
	if err != nil {
		return hypervisor.HostFacts{}, err
	}
	return c.Facts(ctx)
}

// createRow writes the new host's row; a row of that id written since
// Create looked is taken over only on the same terms as before.
func (r *hostResource) createRow(ctx context.Context, h store.Host, diags *diag.Diagnostics) bool {
	err := r.data.Store.CreateHost(ctx, h)
	if errors.Is(err, store.ErrExists) {
		existing, gerr := r.data.Store.GetHost(ctx, h.ID)
		if gerr != nil {
			diags.Append(hostExistsDiag(h.ID, r.data.Store.Path()))
			return false
		}
		return r.mayTakeOver(existing, h, diags)
	}
	if err != nil {
		diags.AddError("Unable to record the host", fmt.Sprintf("Host %q answered, but writing its row failed: %s", h.ID, err))
		return false
	}
	tflog.Info(ctx, "created host row")
	return true
}

// mayTakeOver decides on a row that already has the id a create wants: one
// with the same uri is what a create killed after writing it left (or a
// row made elsewhere for the very same host), so the create takes it over;
// another uri is another host, and stays an error naming both.
func (r *hostResource) mayTakeOver(existing, h store.Host, diags *diag.Diagnostics) bool {
	if existing.URI == h.URI {
		return true
	}
	diags.AddAttributeError(path.Root("id"), "Host already exists",
		fmt.Sprintf("The store %s already has a host with id %q, at uri %s; this configuration gives it uri %s. Choose another id, "+
			"or set uri to the recorded one and apply again (the host is then taken over), or bring it under Terraform with "+
			"`terraform import virtumancer_host.<name> %s` and change its uri there.",
			r.data.Store.Path(), h.ID, hypervisor.Redact(existing.URI), hypervisor.Redact(h.URI), h.ID))
	return false
}

func hostTakenOverDiag(h store.Host, dbPath string) diag.Diagnostic {
	return diag.NewWarningDiagnostic("Took over host "+strconv.Quote(h.ID)+" already in the store",
		fmt.Sprintf("The store %s already had a host with id %q and the same uri %s (an earlier apply may have been stopped "+
			"after writing it, before it reached a state file). This apply took that row over instead of failing; its VM rows "+
			"are kept.", dbPath, h.ID, hypervisor.Redact(h.URI)))
}

func hostExistsDiag(id, dbPath string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("id"), "Host already exists",
		fmt.Sprintf("The store %s already has a host with id %q. Choose another id, or bring the existing host under Terraform with "+
			"`terraform import virtumancer_host.<name> %s` (or an `import` block).", dbPath, id, id))
}

func hostUnreachableDiag(h store.Host, err error) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("uri"), "Unable to reach the host",
		fmt.Sprintf("Host %q at %s did not answer, so nothing was written to the store: %s. "+
			"Check that libvirtd runs there and that the URI, credentials and known_hosts are right.", h.ID, hypervisor.Redact(h.URI), err))
}

type hostModel struct {
	ID                types.String `tfsdk:"id"`
	URI               types.String `tfsdk:"uri"`
	Hostname          types.String `tfsdk:"hostname"`
	LibvirtVersion    types.String `tfsdk:"libvirt_version"`
	Driver            types.String `tfsdk:"driver"`
	HypervisorVersion types.String `tfsdk:"hypervisor_version"`
	CPUs              types.Int64  `tfsdk:"cpus"`
	Memory            types.Int64  `tfsdk:"memory"`
	Arch              types.String `tfsdk:"arch"`
	KVM               types.Bool   `tfsdk:"kvm"`
}

func (m *hostModel) setFacts(f hypervisor.HostFacts) {
	m.Hostname = types.StringValue(f.Hostname)
	m.LibvirtVersion = types.StringValue(f.LibvirtVersion)
	m.Driver = types.StringValue(f.Driver)
	m.HypervisorVersion = types.StringValue(f.HypervisorVersion)
	m.CPUs = types.Int64Value(int64(f.CPUs))
	m.Memory = types.Int64Value(int64(f.MemoryKiB / 1024))
	m.Arch = types.StringValue(f.Arch)
	m.KVM = types.BoolValue(f.KVM)
}

func (m *hostModel) setFactsUnknown() {
	m.Hostname, m.LibvirtVersion, m.Driver = types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
	m.HypervisorVersion, m.Arch = types.StringUnknown(), types.StringUnknown()
	m.CPUs, m.Memory = types.Int64Unknown(), types.Int64Unknown()
	m.KVM = types.BoolUnknown()
}
