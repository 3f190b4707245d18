package resources

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/netcfg"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
)

// networkLocks holds one mutex per host id. Creating a network checks the
// host's other networks and then defines this one; two creates of one
// apply (Terraform runs them in parallel) must not both pass the check
// before either is defined, or two overlapping networks both start
// (libvirt itself only refuses an identical route). Other processes are
// not covered: their networks show in the next plan's check.
var networkLocks sync.Map

func lockNetworks(hostID string) (unlock func()) {
	mu, _ := networkLocks.LoadOrStore(hostID, &sync.Mutex{})
	m := mu.(*sync.Mutex)
	m.Lock()
	return m.Unlock
}

// createNetwork defines, autostarts and starts n. A network whose start
// fails is undefined again, so nothing is left half-made.
func createNetwork(ctx context.Context, conn *hypervisor.Conn, n netcfg.Network, autostart bool, diags *diag.Diagnostics) (hypervisor.Network, bool) {
	if _, err := conn.LookupNetwork(ctx, n.Name); err == nil {
		diags.AddAttributeError(path.Root("name"), "Network already exists",
			fmt.Sprintf("Host %q already has a network %q. Choose another name, or bring it under Terraform with `terraform import virtumancer_network.<name> %s/%s`.", conn.HostID(), n.Name, conn.HostID(), n.Name))
		return hypervisor.Network{}, false
	} else if !errors.Is(err, hypervisor.ErrNetworkNotFound) {
		diags.AddError("Unable to create the network", err.Error())
		return hypervisor.Network{}, false
	}
	doc, err := netcfg.XML(n)
	if err != nil {
		diags.Append(providerdata.Bug(err.Error()))
		return hypervisor.Network{}, false
	}
	hn, err := conn.DefineNetwork(ctx, doc)
	if err != nil {
		diags.AddError("Unable to define the network", err.Error())
		return hypervisor.Network{}, false
	}
	if err := startNew(ctx, conn, n.Name, autostart); err != nil {
		if uerr := conn.UndefineNetwork(ctx, n.Name); uerr != nil {
			err = fmt.Errorf("%w; undefining it again failed too (%w): remove it with `virsh net-undefine %s`", err, uerr, n.Name)
		}
		diags.AddError("Unable to start the network", err.Error())
		return hypervisor.Network{}, false
	}
	return hn, true
}

func startNew(ctx context.Context, conn *hypervisor.Conn, name string, autostart bool) error {
	if autostart {
		if err := conn.SetNetworkAutostart(ctx, name, true); err != nil {
			return err
		}
	}
	return conn.StartNetwork(ctx, name)
}

// recheckOnHost repeats the plan's host checks at apply when the CIDR or
// the bridge changes: another network may have been made since the plan.
func recheckOnHost(ctx context.Context, conn *hypervisor.Conn, state, plan networkModel, diags *diag.Diagnostics) bool {
	if state.CIDR.Equal(plan.CIDR) && (plan.Bridge.IsUnknown() || state.Bridge.Equal(plan.Bridge)) {
		return true
	}
	n, ok := validNetwork(&plan, diags)
	return ok && checkOnHost(ctx, conn, n, diags)
}

// updateNetwork applies plan over state: static hosts live, anything else
// by redefining the network (same UUID) and restarting it; then autostart,
// and a start when the network was found stopped.
func updateNetwork(ctx context.Context, conn *hypervisor.Conn, state, plan networkModel, diags *diag.Diagnostics) bool {
	old := state.config()
	n, ok := validNetwork(&plan, diags)
	if !ok {
		return false
	}
	if netcfg.Validate(&old) != nil {
		diags.Append(providerdata.Bug(fmt.Sprintf("the network in state does not validate: %+v", old)))
		return false
	}
	n.UUID = state.UUID.ValueString()
	if n.Bridge == "" && n.Mode != netcfg.ModeBridge && old.Mode != netcfg.ModeBridge {
		n.Bridge = old.Bridge // keep the bridge guests are plugged into
	}
	ch := netcfg.Diff(old, n)
	var err error
	switch {
	case len(ch.Restart) > 0:
		tflog.Info(ctx, "redefining and restarting network", map[string]any{"changed": ch.Restart})
		err = redefine(ctx, conn, n, state.Active.ValueBool())
	case len(ch.Live) > 0:
		tflog.Info(ctx, "updating dhcp hosts live", map[string]any{"updates": fmt.Sprint(ch.Live)})
		err = conn.UpdateNetworkHosts(ctx, n.Name, ch.Live)
	}
	if err == nil && plan.Autostart.ValueBool() != state.Autostart.ValueBool() {
		err = conn.SetNetworkAutostart(ctx, n.Name, plan.Autostart.ValueBool())
	}
	if err == nil {
		err = conn.StartNetwork(ctx, n.Name) // a no-op when it runs
	}
	if err != nil {
		diags.AddError("Unable to update the network", fmt.Sprintf("%s. Run apply again once the cause is fixed; the next plan shows what is left.", err))
		return false
	}
	return true
}

// redefine stops an active network first and then defines it anew (same
// UUID); the caller starts it again. Stopping first is what the test
// driver needs (it ignores a redefinition of an active network), and
// costs nothing on qemu, which would apply it only at the restart anyway.
// A refused definition restarts the old one so the guests get their link
// back.
func redefine(ctx context.Context, conn *hypervisor.Conn, n netcfg.Network, active bool) error {
	doc, err := netcfg.XML(n)
	if err != nil {
		return err
	}
	if active {
		if err := conn.StopNetwork(ctx, n.Name); err != nil {
			return err
		}
	}
	if _, err := conn.DefineNetwork(ctx, doc); err != nil {
		if active {
			if serr := conn.StartNetwork(ctx, n.Name); serr != nil {
				return fmt.Errorf("%w; restarting the old definition failed too: %w", err, serr)
			}
		}
		return fmt.Errorf("%w; the network runs with its old definition", err)
	}
	return nil
}
