package resources

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/netcfg"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
)

// virtumancer_network: this file holds the resource in the usual order;
// network_model.go the model and its conversions, network_plan.go the
// checks at plan time and the plan's warnings, network_apply.go what
// Create and Update do on the host.

var (
	_ resource.ResourceWithConfigure      = (*networkResource)(nil)
	_ resource.ResourceWithImportState    = (*networkResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*networkResource)(nil)
	_ resource.ResourceWithValidateConfig = (*networkResource)(nil)
)

// NewNetworkResource is the constructor of virtumancer_network.
func NewNetworkResource() resource.Resource {
	return withIdentity(&networkResource{}, hostIDPart, namePart("Network"))
}

type networkResource struct {
	data *providerdata.Data
}

func (r *networkResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_network"
}

func (r *networkResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = networkSchemaV0()
}

func networkSchemaV0() schema.Schema {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	stable := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	return schema.Schema{
		Description: "A libvirt virtual network on a host. Static `dhcp_host` entries and `autostart` change live; " +
			"any other change redefines the network and restarts it, and the plan warns, naming the running VMs plugged into it: " +
			"libvirt does not plug them back in when it starts again, so each reconnects only when it is restarted.",
		Attributes: map[string]schema.Attribute{
			// Required
			"host_id": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Validators: []validator.String{validate.NonEmpty()},
				Description: "Id of the `virtumancer_host` the network lives on.",
			},
			"name": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Validators: []validator.String{singlePathElement},
				Description: "Network name on the host, as VMs' `network_interface` blocks name it.",
			},

			// Optional
			"mode": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(netcfg.DefaultMode),
				Validators: []validator.String{stringvalidator.OneOf(netcfg.Modes...)},
				Description: "Forwarding mode: one of " + validate.Quoted(netcfg.Modes) + ". Defaults to `" + netcfg.DefaultMode + "`. " +
					"`isolated` has no forwarding; `route` and `open` forward without NAT (`open` adds no firewall rules); " +
					"`bridge` plugs guests into an existing host bridge (no `cidr`, no DHCP); every other mode serves `dhcp` and `dhcp_host`. " +
					"Changing it redefines and restarts the network in place: `uuid` stays the same, and so does the bridge libvirt chose, unless the network leaves `bridge` mode.",
			},
			"cidr": schema.StringAttribute{
				Optional: true,
				Description: "IPv4 network, e.g. `10.77.0.0/24` (prefix /30 or shorter); the host takes its first address as the gateway. " +
					"Required unless `mode = \"bridge\"`. It must not overlap another network of the host.",
			},
			"bridge": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: stable,
				Description: "Host bridge. With `mode = \"bridge\"` it is required and names an existing bridge of the host; " +
					"otherwise libvirt chooses it (e.g. `virbr1`) and it must not be set.",
			},
			"autostart": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				Description: "Whether the host starts the network when it boots. Defaults to `false`. Changes live.",
			},

			// Computed
			"id": schema.StringAttribute{
				Computed: true, PlanModifiers: stable,
				Description: "`host_id/name`, the import id.",
			},
			"uuid": schema.StringAttribute{
				Computed: true, PlanModifiers: stable,
				Description: "libvirt UUID of the network; it stays the same across in-place changes and restarts.",
			},
			"active": schema.BoolAttribute{
				Computed:    true,
				Description: "Whether the network runs. The provider keeps it running: a network stopped behind its back is started again by the next apply.",
			},
		},
		Blocks: map[string]schema.Block{
			"dhcp": schema.SingleNestedBlock{
				Description: "DHCP range inside `cidr`, both ends included, not containing the gateway. No block: no dynamic DHCP " +
					"(static `dhcp_host` entries are still served). Changing it restarts the network.",
				Attributes: map[string]schema.Attribute{
					// Optional in the schema: the framework enforces Required
					// attributes of a single block even when the block is absent.
					// ValidateConfig requires both when the block is there.
					"start": schema.StringAttribute{Optional: true, Description: "First address of the range, e.g. `10.77.0.10`. Required in the block."},
					"end":   schema.StringAttribute{Optional: true, Description: "Last address of the range, e.g. `10.77.0.100`. Required in the block."},
				},
			},
			"dhcp_host": schema.ListNestedBlock{
				Description: "A static DHCP lease: the guest with this MAC always gets this IP. Entries are added, changed and removed live " +
					"(the network and its guests keep running), except the first one on a network without `dhcp` or the last one removed from it, " +
					"which start or stop the DHCP server and so restart the network. Order does not matter.",
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"mac":  schema.StringAttribute{Required: true, Description: "MAC address of the guest interface, e.g. `52:54:00:12:34:56`; case and `-` separators are accepted."},
					"ip":   schema.StringAttribute{Required: true, Description: "IPv4 address inside `cidr`; each entry needs its own."},
					"name": schema.StringAttribute{Optional: true, Description: "Host name DHCP hands the guest."},
				}},
			},
		},
	}
}

func (r *networkResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerdata.From(req.ProviderData, &resp.Diagnostics)
}

func (r *networkResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	ctx, plan, conn := begin[networkModel](ctx, r.data, req.Plan.Get, &resp.Diagnostics)
	if conn == nil {
		return
	}
	n, ok := validNetwork(&plan, &resp.Diagnostics)
	if !ok {
		return
	}
	unlock := lockNetworks(conn.HostID())
	defer unlock()
	if !checkOnHost(ctx, conn, n, &resp.Diagnostics) {
		return
	}
	hn, ok := createNetwork(ctx, conn, n, plan.Autostart.ValueBool(), &resp.Diagnostics)
	if !ok {
		return
	}
	tflog.Info(ctx, "created network", map[string]any{"uuid": hn.UUID})
	r.record(ctx, conn, &plan, &resp.State, &resp.Diagnostics)
}

func (r *networkResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	ctx, state, conn := begin[networkModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if conn == nil {
		return
	}
	_, err := conn.LookupNetwork(ctx, state.Name.ValueString())
	if errors.Is(err, hypervisor.ErrNetworkNotFound) {
		tflog.Info(ctx, "network is gone; removing it from state", map[string]any{"error": err.Error()})
		resp.State.RemoveResource(ctx)
		return
	}
	r.record(ctx, conn, &state, &resp.State, &resp.Diagnostics)
}

func (r *networkResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	ctx, plan, conn := begin[networkModel](ctx, r.data, req.Plan.Get, &resp.Diagnostics)
	if conn == nil {
		return
	}
	var state networkModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	unlock := lockNetworks(conn.HostID())
	defer unlock()
	if !recheckOnHost(ctx, conn, state, plan, &resp.Diagnostics) || !updateNetwork(ctx, conn, state, plan, &resp.Diagnostics) {
		return
	}
	r.record(ctx, conn, &plan, &resp.State, &resp.Diagnostics)
}

func (r *networkResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx, state, conn := begin[networkModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if conn == nil {
		return
	}
	name := state.Name.ValueString()
	err := conn.StopNetwork(ctx, name)
	if err == nil {
		err = conn.UndefineNetwork(ctx, name)
	}
	switch {
	case errors.Is(err, hypervisor.ErrNetworkNotFound):
		tflog.Info(ctx, "network already gone")
	case err != nil:
		resp.Diagnostics.AddError("Unable to delete the network",
			fmt.Sprintf("%s. The network stays in state; fix the cause and run again.", err))
	default:
		tflog.Info(ctx, "deleted network")
	}
}

func (r *networkResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	hostID, name, ok := parseNetworkID(req.ID)
	if !ok {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("The import id %q is not host_id/name; use e.g. `local/lab-net`.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("host_id"), hostID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}

// record reads the network back and writes it to state: a network whose
// definition this provider cannot express is an error that keeps state.
func (r *networkResource) record(ctx context.Context, conn *hypervisor.Conn, m *networkModel, st stateSetter, diags *diag.Diagnostics) {
	hn, err := conn.LookupNetwork(ctx, m.Name.ValueString())
	if err != nil {
		diags.AddError("Unable to read the network", fmt.Sprintf("%s. The state is kept; fix the host and run again.", err))
		return
	}
	n, err := netcfg.Parse(hn.XML)
	if err != nil {
		diags.AddError("Unable to read the network",
			fmt.Sprintf("%s. Change it back with `virsh net-edit %s`, or remove it from state with `terraform state rm`.", err, m.Name.ValueString()))
		return
	}
	m.fromNetwork(hn, n)
	diags.Append(st.Set(ctx, m)...)
}

// stateSetter is the part of tfsdk.State that record writes through.
type stateSetter interface {
	Set(context.Context, any) diag.Diagnostics
}
