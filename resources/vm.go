package resources

import (
	"context"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

var (
	_ resource.ResourceWithConfigure      = (*vmResource)(nil)
	_ resource.ResourceWithImportState    = (*vmResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*vmResource)(nil)
	_ resource.ResourceWithValidateConfig = (*vmResource)(nil)
)

// NewVMResource is the constructor of virtumancer_vm.
func NewVMResource() resource.Resource {
	return withIdentity(&vmResource{}, hostIDPart, namePart("Domain"))
}

type vmResource struct {
	data *providerdata.Data
}

func (r *vmResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_vm"
}

func (r *vmResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = vmSchemaV0(ctx)
}

func (r *vmResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerdata.From(req.ProviderData, &resp.Diagnostics)
}

func (r *vmResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan vmModel
	resp.Diagnostics.Append(getVM(ctx, req.Plan, &plan)...)
	if resp.Diagnostics.HasError() || !providerdata.Configured(r.data, &resp.Diagnostics) {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, vmDefaultCreateTimeout)
	if resp.Diagnostics.Append(diags...); resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx = vmLogFields(ctx, plan.HostID.ValueString(), plan.Name.ValueString())
	tflog.Info(ctx, "creating vm")

	conn := r.data.Conn(ctx, plan.HostID.ValueString(), &resp.Diagnostics)
	if conn == nil || !r.storeWritable(ctx, "create", plan.HostID.ValueString(), plan.Name.ValueString(), &resp.Diagnostics) {
		return
	}
	leftover, ok := r.nameFree(ctx, conn, plan.Name.ValueString(), &resp.Diagnostics)
	if !ok || leftover != nil && !takeOver(ctx, conn, *leftover, &plan, &resp.Diagnostics) {
		return
	}
	if plan.DomainType.IsUnknown() || plan.DomainType.IsNull() {
		dt, err := defaultDomainType(ctx, conn)
		if err != nil {
			resp.Diagnostics.AddError("Unable to choose a domain type", err.Error()+
				"\nSet domain_type explicitly (kvm, qemu or test) or check the host.")
			return
		}
		plan.DomainType = types.StringValue(dt)
	}
	files, ok := r.makeGuestFiles(ctx, conn, &plan, &resp.Diagnostics)
	if !ok {
		return
	}
	defer files.undoOnError(ctx, conn, &resp.Diagnostics)
	spec, diags := plan.spec(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() || !fillFormats(ctx, conn, &spec, &resp.Diagnostics) {
		return
	}
	domXML, err := vminfo.BuildXML(spec)
	if err == nil {
		domXML, err = hypervisor.WithCreateMark(domXML) // until the VM is first read from state
	}
	if err != nil {
		resp.Diagnostics.AddError("Invalid VM configuration", err.Error())
		return
	}
	dom, err := conn.DefineXML(ctx, domXML)
	if err != nil {
		resp.Diagnostics.AddError("Unable to define domain", err.Error())
		return
	}
	ctx = tflog.SetField(ctx, "uuid", dom.UUID)
	tflog.Debug(ctx, "defined domain")

	var live liveVM
	if rt, known := definedRuntime(dom); known && leftover == nil { // a leftover may have autostart set
		live, err = r.convergeFrom(ctx, conn, dom, rt, plan, false, &resp.Diagnostics)
	} else {
		live, err = r.converge(ctx, conn, dom, plan, false, &resp.Diagnostics)
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to start the VM", err.Error()+"\n"+undefineAfterFailure(ctx, conn, dom))
		return
	}
	live.Info.Disks = vmOrderDisks(live.Info.Disks, vmTargetsOf(plan.Disks)) // recorded in the configured order
	live.Info.SeedDigest = files.digest
	row, err := r.data.Store.UpsertVM(ctx, plan.HostID.ValueString(), plan.Name.ValueString(), live.Info)
	if err != nil {
		resp.Diagnostics.AddError("Unable to record the VM in the store", err.Error()+"\n"+undefineAfterFailure(ctx, conn, dom))
		return
	}
	plan.setLive(live)
	plan.ConfigJSON = appliedView(ctx, row.Recorded, plan.ConfigJSON)
	plan.Drift = driftValue(nil)
	tflog.Info(ctx, "created vm", map[string]any{"state": plan.State.ValueString(), "row": row.ID})
	resp.Diagnostics.Append(setVM(ctx, &resp.State, plan)...)
}

func (r *vmResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state vmModel
	prior, diags := getVMObject(ctx, req.State, &state)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() || !providerdata.Configured(r.data, &resp.Diagnostics) {
		return
	}
	ctx = vmLogFields(ctx, state.HostID.ValueString(), state.Name.ValueString())
	gone := r.refresh(ctx, &state, &resp.Diagnostics)
	switch {
	case resp.Diagnostics.HasError():
		return // state kept as it was
	case gone:
		resp.State.RemoveResource(ctx)
		return
	}
	obj, diags := vmObject(state)
	if resp.Diagnostics.Append(diags...); diags.HasError() || obj.Equal(prior) {
		return // unchanged: the framework returns the prior state as it came, with no conversion
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, obj)...)
}

func (r *vmResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, prior vmModel
	resp.Diagnostics.Append(getVM(ctx, req.Plan, &plan)...)
	resp.Diagnostics.Append(getVM(ctx, req.State, &prior)...)
	if resp.Diagnostics.HasError() || !providerdata.Configured(r.data, &resp.Diagnostics) {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, vmDefaultUpdateTimeout)
	if resp.Diagnostics.Append(diags...); resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx = vmLogFields(ctx, plan.HostID.ValueString(), plan.Name.ValueString())
	ctx = tflog.SetField(ctx, "uuid", prior.UUID.ValueString())
	tflog.Info(ctx, "updating vm")

	conn := r.data.Conn(ctx, plan.HostID.ValueString(), &resp.Diagnostics)
	if conn == nil || !r.storeWritable(ctx, "update", plan.HostID.ValueString(), plan.Name.ValueString(), &resp.Diagnostics) {
		return
	}
	dom, err := conn.LookupDomain(ctx, plan.Name.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Unable to find the domain", err.Error()+
			"\nIf it was removed outside Terraform, run the plan again: refresh drops it from state and the apply recreates it.")
		return
	}
	plan.UUID = types.StringValue(dom.UUID)
	clearCreateMarkIfSet(ctx, conn, dom) // in state now; Read clears it unless the plan skipped refresh
	if !updateSeed(ctx, conn, prior, plan, &resp.Diagnostics) {
		return
	}
	restart, ok := r.liveOrRestart(ctx, conn, dom, plan, &resp.Diagnostics)
	if !ok {
		return
	}
	if plan.WaitForIP.IsNull() && !prior.WaitForIP.IsNull() {
		recordWait(ctx, conn, dom, nil) // an import must not bring the block back
	}
	live, err := r.converge(ctx, conn, dom, plan, restart, &resp.Diagnostics)
	if err != nil {
		resp.Diagnostics.AddError("Unable to change the VM's power state", err.Error())
		return
	}
	dropOldSeed(ctx, conn, prior, plan, &resp.Diagnostics)
	live.Info.Disks = vmOrderDisks(live.Info.Disks, vmTargetsOf(plan.Disks)) // recorded in the configured order
	live.Info.SeedDigest = plan.seedDigest()
	row, err := r.data.Store.UpsertVM(ctx, plan.HostID.ValueString(), plan.Name.ValueString(), live.Info)
	if err != nil {
		resp.Diagnostics.AddError("Unable to record the VM in the store", err.Error()+
			"\nThe domain was changed; the next apply records it again once the store is writable.")
		return
	}
	plan.setLive(live)
	plan.ConfigJSON = appliedView(ctx, row.Recorded, plan.ConfigJSON)
	plan.Drift = driftValue(nil)
	tflog.Info(ctx, "updated vm", map[string]any{"restarted": restart, "state": plan.State.ValueString()})
	resp.Diagnostics.Append(setVM(ctx, &resp.State, plan)...)
}

func (r *vmResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state vmModel
	resp.Diagnostics.Append(getVM(ctx, req.State, &state)...)
	if resp.Diagnostics.HasError() || !providerdata.Configured(r.data, &resp.Diagnostics) {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, vmDefaultDeleteTimeout)
	if resp.Diagnostics.Append(diags...); resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hostID, name := state.HostID.ValueString(), state.Name.ValueString()
	ctx = vmLogFields(ctx, hostID, name)
	ctx = tflog.SetField(ctx, "uuid", state.UUID.ValueString())
	tflog.Info(ctx, "deleting vm")

	if conn := r.data.Conn(ctx, hostID, &resp.Diagnostics); conn != nil {
		r.destroy(ctx, conn, state, &resp.Diagnostics)
	}
}

func (r *vmResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	hostID, name, ok := parseVMID(req.ID)
	if !ok {
		resp.Diagnostics.AddError("Invalid import id",
			"Expected `host_id/name` (for example `kvm1/web`), got "+strconv.Quote(req.ID)+".")
		return
	}
	if !providerdata.Configured(r.data, &resp.Diagnostics) {
		return
	}
	ctx = vmLogFields(ctx, hostID, name)
	if !r.adopt(ctx, hostID, name, &resp.Diagnostics) {
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), vmID(hostID, name))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("host_id"), hostID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}
