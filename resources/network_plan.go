package resources

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/netcfg"
)

// ValidateConfig checks everything netcfg can judge without the host:
// malformed or IPv6 CIDRs, a DHCP range outside the CIDR or on the gateway,
// duplicate MACs or IPs among dhcp_host entries.
func (r *networkResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m networkModel
	if resp.Diagnostics.Append(req.Config.Get(ctx, &m)...); resp.Diagnostics.HasError() || !m.known() {
		return
	}
	if !m.Bridge.IsNull() && m.Mode.ValueString() != netcfg.ModeBridge {
		resp.Diagnostics.AddAttributeError(path.Root("bridge"), "Invalid bridge",
			fmt.Sprintf("libvirt chooses the bridge of a network in mode %q; remove bridge, or set mode = \"bridge\" to use an existing host bridge.", m.config().Mode))
		return
	}
	if m.DHCP != nil && (m.DHCP.Start.IsNull() || m.DHCP.End.IsNull()) {
		resp.Diagnostics.AddAttributeError(path.Root("dhcp"), "Incomplete dhcp block",
			"A dhcp block needs both start and end, e.g. start = \"10.77.0.10\" and end = \"10.77.0.100\"; remove the block for no DHCP range.")
		return
	}
	validNetwork(&m, &resp.Diagnostics)
}

// validNetwork validates and normalises m's network, adding one attribute
// error per mistake.
func validNetwork(m *networkModel, diags *diag.Diagnostics) (netcfg.Network, bool) {
	n := m.config()
	err := netcfg.Validate(&n)
	if err == nil {
		return n, true
	}
	for _, e := range unjoin(err) {
		var fe *netcfg.FieldError
		if errors.As(e, &fe) {
			diags.AddAttributeError(fieldPath(fe), "Invalid network configuration", fe.Msg+".")
		} else {
			diags.AddError("Invalid network configuration", e.Error())
		}
	}
	return n, false
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func fieldPath(fe *netcfg.FieldError) path.Path {
	p := path.Root(fe.Attr)
	if fe.Index >= 0 {
		p = p.AtListIndex(fe.Index)
	}
	if fe.Key != "" {
		p = p.AtName(fe.Key)
	}
	return p
}

// ModifyPlan keeps `active` true (the provider runs the network), checks
// what only the host knows (the bridge exists, the CIDR overlaps no other
// network) when the host is reachable already, and warns before a change
// restarts or a destroy removes a network that running VMs use.
func (r *networkResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var state *networkModel
	if !req.State.Raw.IsNull() {
		state = &networkModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if req.Plan.Raw.IsNull() {
		if state != nil && r.data != nil {
			r.warnUsers(ctx, *state, "Destroying", "destroyed", "lose their link", &resp.Diagnostics)
		}
		return
	}
	var plan networkModel
	if resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...); resp.Diagnostics.HasError() {
		return
	}
	plan.Active = types.BoolValue(true)
	if state != nil && state.Mode.ValueString() == netcfg.ModeBridge && plan.Mode.ValueString() != netcfg.ModeBridge {
		// Leaving bridge mode: libvirt chooses a bridge of its own. Between
		// the other modes apply keeps the bridge guests are plugged into,
		// and the plan shows it.
		plan.Bridge = types.StringUnknown()
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
	if r.data == nil || !plan.known() || plan.HostID.IsUnknown() {
		return
	}
	n, ok := validNetwork(&plan, &resp.Diagnostics)
	if !ok {
		return
	}
	conn, _, err := r.data.HostConn(ctx, plan.HostID.ValueString())
	if err != nil {
		tflog.Debug(ctx, "host not reachable at plan time; its checks wait for apply", map[string]any{"error": err.Error()})
		return
	}
	if state == nil || state.CIDR.ValueString() != n.CIDR || state.Bridge.ValueString() != plan.Bridge.ValueString() {
		checkOnHost(ctx, conn, n, &resp.Diagnostics)
	}
	if state != nil {
		r.warnRestart(ctx, *state, n, &resp.Diagnostics)
	}
}

// warnRestart warns when the planned change needs the network redefined
// and restarted, naming the running VMs plugged into it.
func (r *networkResource) warnRestart(ctx context.Context, state networkModel, planned netcfg.Network, diags *diag.Diagnostics) {
	old := state.config()
	if netcfg.Validate(&old) != nil {
		return
	}
	ch := netcfg.Diff(old, planned)
	if len(ch.Restart) == 0 {
		return
	}
	why := "Changing " + strings.Join(ch.Restart, ", ")
	r.warnUsers(ctx, state, why, "redefined and restarted", restartEffect(state), diags)
}

// restartEffect says what a restart does to the running guests of the
// network. libvirt deletes a bridge it made when the network stops and
// does not plug the guests' taps into the new one when it starts again
// (seen on libvirt 9.0: the tap stays up with no master); a host bridge
// stays, and the guests with it.
func restartEffect(m networkModel) string {
	if m.Mode.ValueString() == netcfg.ModeBridge {
		return fmt.Sprintf("stay plugged into host bridge %q and take the new definition only when each is restarted (or its interface is detached and attached again)", m.Bridge.ValueString())
	}
	return "lose their link: libvirt does not plug them back in when the network starts again, so each reconnects only when it is restarted (or its interface is detached and attached again)"
}

// warnUsers warns that the network will be what (because of why), naming
// the running VMs plugged into it and what that does to them (effect).
func (r *networkResource) warnUsers(ctx context.Context, m networkModel, why, what, effect string, diags *diag.Diagnostics) {
	name := m.Name.ValueString()
	users := "Running VMs plugged into it, if any, " + effect + "."
	if conn, _, err := r.data.HostConn(ctx, m.HostID.ValueString()); err == nil {
		bridge := ""
		if m.Mode.ValueString() == netcfg.ModeBridge {
			bridge = m.Bridge.ValueString()
		}
		switch vms, err := conn.NetworkUsers(ctx, name, bridge); {
		case err != nil:
			users += " (The provider could not list them: " + err.Error() + ".)"
		case len(vms) == 0:
			users = "No running VM uses it now."
		default:
			users = fmt.Sprintf("Running VMs plugged into it: %s. They %s.", strings.Join(vms, ", "), effect)
		}
	}
	diags.AddWarning("Network "+name+" will be "+what,
		fmt.Sprintf("%s means network %q on host %q is %s. %s", why, name, m.HostID.ValueString(), what, users))
}

// checkOnHost refuses, before anything is made, a bridge the host lacks
// and a CIDR that overlaps another network of the host.
func checkOnHost(ctx context.Context, conn *hypervisor.Conn, n netcfg.Network, diags *diag.Diagnostics) bool {
	if n.Mode == netcfg.ModeBridge {
		return checkBridge(ctx, conn, n.Bridge, diags)
	}
	nets, err := conn.ListNetworks(ctx)
	if err != nil {
		diags.AddError("Unable to list the host's networks", fmt.Sprintf("%s. They are needed to check that cidr overlaps none of them; fix the host and run again.", err))
		return false
	}
	for _, other := range nets {
		o, err := netcfg.Parse(other.XML)
		if err != nil || o.Name == n.Name || o.CIDR == "" || !netcfg.Overlaps(o.CIDR, n.CIDR) {
			continue
		}
		diags.AddAttributeError(path.Root("cidr"), "Overlapping network",
			fmt.Sprintf("cidr %s overlaps %s of network %q on host %q: guests of both could not be routed. Choose a cidr outside %s.", n.CIDR, o.CIDR, o.Name, conn.HostID(), o.CIDR))
		return false
	}
	return true
}

func checkBridge(ctx context.Context, conn *hypervisor.Conn, bridge string, diags *diag.Diagnostics) bool {
	hi, err := conn.LookupHostInterface(ctx, bridge)
	switch {
	case errors.Is(err, hypervisor.ErrUnsupported):
		tflog.Warn(ctx, "the host cannot list its interfaces; the bridge is not checked", map[string]any{"bridge": bridge})
		return true
	case errors.Is(err, hypervisor.ErrInterfaceNotFound):
		diags.AddAttributeError(path.Root("bridge"), "Bridge not found",
			fmt.Sprintf("Host %q has no interface %q. Create the bridge on the host first (e.g. `ip link add %s type bridge`), or fix bridge; `virsh iface-list --all` lists what the host has.", conn.HostID(), bridge, bridge))
		return false
	case err != nil:
		diags.AddError("Unable to check the bridge", fmt.Sprintf("%s. Fix the host and run again.", err))
		return false
	case hi.Type != "bridge":
		diags.AddAttributeError(path.Root("bridge"), "Not a bridge",
			fmt.Sprintf("Interface %q of host %q is of type %s, not a bridge; guests can only be plugged into a bridge. Name a bridge of the host.", bridge, conn.HostID(), hi.Type))
		return false
	}
	return true
}
