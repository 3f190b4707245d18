package resources

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// wait_for_ip and ip_addresses: waiting at apply, re-reading at refresh,
// and the guest agent channel a VM gets when it waits on the agent.

// vmIPPoll is how often wait_for_ip asks for addresses.
const vmIPPoll = time.Second

const vmAgentSource = "agent"

// wantsAgent tells whether the VM waits on the guest agent, which needs
// the agent's channel in the domain.
func (m vmModel) wantsAgent(ctx context.Context) bool {
	w, _ := m.wait(ctx)
	return w != nil && w.Source.ValueString() == vmAgentSource
}

// usableAddrs keeps the addresses another machine can reach the guest at,
// IPv4 first, then IPv6, each in the order the source gave: loopback and
// link-local addresses (the agent reports lo's 127.0.0.1 and ::1 and every
// fe80:: address) say nothing about where the guest is.
func usableAddrs(addrs []string) []string {
	var v4, v6 []string
	for _, s := range addrs {
		a, err := netip.ParseAddr(s)
		if err != nil || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() {
			continue
		}
		a = a.Unmap()
		switch {
		case a.Is4() && !slices.Contains(v4, a.String()):
			v4 = append(v4, a.String())
		case a.Is6() && !slices.Contains(v6, a.String()):
			v6 = append(v6, a.String())
		}
	}
	return append(v4, v6...)
}

// waitForIP polls the address source until the domain reports a usable
// address and returns the usable ones. On timeout the error says which
// source was asked and what it answered last.
func waitForIP(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, w *vmWaitModel) ([]string, error) {
	timeout, err := time.ParseDuration(w.Timeout.ValueString())
	if err != nil {
		timeout, _ = time.ParseDuration(vmDefaultWaitTimeout)
	}
	source := w.Source.ValueString()
	deadline := time.Now().Add(timeout)
	tflog.Debug(ctx, "waiting for an ip address", map[string]any{"source": source, "timeout": timeout.String()})
	for {
		addrs, err := conn.InterfaceAddresses(ctx, dom, source)
		if ips := usableAddrs(addrs); err == nil && len(ips) > 0 {
			tflog.Info(ctx, "vm has ip addresses", map[string]any{"source": source, "ips": strings.Join(ips, ",")})
			return ips, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("vm %q got no IP address from source %q within %s: %s. %s, or raise wait_for_ip.timeout",
				dom.Name, source, timeout, lastAnswer(source, addrs, err), sourceHint(source))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("vm %q: waiting for an IP address from source %q: %w (%s)", dom.Name, source, ctx.Err(), lastAnswer(source, addrs, err))
		case <-time.After(vmIPPoll):
		}
	}
}

// lastAnswer words what the source said the last time it was asked.
func lastAnswer(source string, addrs []string, err error) string {
	switch {
	case err != nil:
		return fmt.Sprintf("its last answer was an error: %v", err)
	case len(addrs) > 0:
		return fmt.Sprintf("its last answer held only loopback or link-local addresses (%s)", strings.Join(addrs, ", "))
	default:
		return fmt.Sprintf("its last answer was empty (the %s source knows no address of the guest's interfaces)", source)
	}
}

func sourceHint(source string) string {
	switch source {
	case "lease":
		return "Check that the VM has a network_interface on a libvirt network that serves DHCP (a dhcp range, or a dhcp_host for its mac) and that the guest asks for a lease"
	case vmAgentSource:
		return "Check that qemu-guest-agent runs in the guest (the provider gave the domain the " + vminfo.AgentChannel + " channel it talks through)"
	default:
		return "The arp source reads the host's neighbour table, which lists a guest only after it sent traffic; " +
			"libvirt cannot read that table inside some network namespaces (\"wrong nlmsg len\"): use lease or agent there"
	}
}

// refreshIPs fills live.ips for a running VM that waits for an IP, from
// the same source. A source that fails keeps the addresses in state: an
// address is an observation, and a plan must not change because the agent
// was briefly busy. Right after an import it also recovers wait_for_ip
// from the domain's metadata, where apply records it.
func refreshIPs(ctx context.Context, conn *hypervisor.Conn, m *vmModel, live liveVM, diags *diag.Diagnostics) liveVM {
	if m.UUID.IsNull() && m.WaitForIP.IsNull() {
		m.WaitForIP = recordedWait(ctx, conn, live.Domain)
	}
	wait, d := m.wait(ctx)
	diags.Append(d...)
	if wait == nil || !vminfo.Active(live.Info.State) {
		return live
	}
	source := wait.Source.ValueString()
	addrs, err := conn.InterfaceAddresses(ctx, live.Domain, source)
	if err != nil {
		tflog.Warn(ctx, "could not read ip addresses; keeping those in state", map[string]any{"source": source, "error": err.Error()})
		live.ips = stringsOf(m.IPAddresses)
		return live
	}
	live.ips = usableAddrs(addrs)
	return live
}

// wait_for_ip is a setting of the provider, not of the domain; apply
// records it in the domain's metadata (its own namespace, the persistent
// definition) so that an import reads back exactly the block that made
// the VM, and a domain made elsewhere imports with none.
const (
	waitMetaURI = "https://github.com/virtumancer/terraform-provider-virtumancer/wait_for_ip"
	waitMetaKey = "virtumancer"
)

type waitMeta struct {
	XMLName xml.Name `xml:"wait_for_ip"`
	Source  string   `xml:"source,attr"`
	Timeout string   `xml:"timeout,attr"`
}

// recordWait writes w (nil: removes the record). A driver without
// metadata only loses the import's recovery of the block, so a failure
// is logged, not fatal.
func recordWait(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, w *vmWaitModel) {
	element := ""
	if w != nil {
		b, err := xml.Marshal(waitMeta{Source: w.Source.ValueString(), Timeout: w.Timeout.ValueString()})
		if err != nil {
			return
		}
		element = string(b)
	}
	if err := conn.SetMetadata(ctx, dom, waitMetaURI, waitMetaKey, element); err != nil {
		tflog.Warn(ctx, "could not record wait_for_ip in the domain's metadata; an import will not know it", map[string]any{"error": err.Error()})
	}
}

// recordedWait is the wait_for_ip block recordWait left on the domain, or
// null.
func recordedWait(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain) types.Object {
	none := types.ObjectNull(waitAttrTypes)
	doc, err := conn.Metadata(ctx, dom, waitMetaURI)
	var w waitMeta
	if err != nil || doc == "" || xml.Unmarshal([]byte(doc), &w) != nil || !slices.Contains(vmAddressSources, w.Source) {
		return none
	}
	if _, err := time.ParseDuration(w.Timeout); err != nil {
		w.Timeout = vmDefaultWaitTimeout
	}
	o, d := types.ObjectValue(waitAttrTypes, map[string]attr.Value{
		"source": types.StringValue(w.Source), "timeout": types.StringValue(w.Timeout),
	})
	if d.HasError() {
		return none
	}
	return o
}

func stringsOf(l types.List) []string {
	var out []string
	for _, e := range l.Elements() {
		if s, ok := e.(types.String); ok {
			out = append(out, s.ValueString())
		}
	}
	return out
}

// mergeAgentChannel adds the agent channel the plan asks for to the
// current definition. A channel already there stays, and so does one the
// plan no longer asks for: removing it would need a restart for nothing.
func mergeAgentChannel(cur, want *libvirtxml.DomainDeviceList) bool {
	if !vminfo.HasAgentChannel(want) || vminfo.HasAgentChannel(cur) {
		return false
	}
	cur.Channels = append(cur.Channels, vminfo.AgentChannelXML())
	return true
}

// agentLive tells whether the domain's live definition (the persistent
// one when it is off) has the agent channel, and whether it can take one
// live: only a domain that has a virtio-serial controller can, as QEMU
// cannot hot-plug the controller itself.
func agentLive(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain) (has, pluggable bool, err error) {
	doc, err := conn.DomainXML(ctx, dom, false)
	if err != nil {
		return false, false, err
	}
	var x libvirtxml.Domain
	if err := x.Unmarshal(doc); err != nil {
		return false, false, fmt.Errorf("parse the live definition of domain %q: %w", dom.Name, err)
	}
	if x.Devices == nil {
		return false, false, nil
	}
	for _, c := range x.Devices.Controllers {
		pluggable = pluggable || c.Type == "virtio-serial"
	}
	return vminfo.HasAgentChannel(x.Devices), pluggable, nil
}

// agentNeedsRestart tells an update whether the running domain must
// restart to get the agent channel the plan asks for.
func agentNeedsRestart(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, plan vmModel) (bool, error) {
	if !plan.wantsAgent(ctx) {
		return false, nil
	}
	has, pluggable, err := agentLive(ctx, conn, dom)
	return !has && !pluggable, err
}

// ensureAgentLive plugs the agent channel into a running domain started
// without it that can take it live (wait_for_ip changed to the agent), so
// the agent answers without a restart; Update restarts the others.
func ensureAgentLive(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain) error {
	has, pluggable, err := agentLive(ctx, conn, dom)
	if err != nil || has {
		return err
	}
	if !pluggable {
		return fmt.Errorf("domain %q runs without the guest agent's channel and cannot take one live (this is a bug in the provider: the update should have restarted it)", dom.Name)
	}
	ch := vminfo.AgentChannelXML()
	dev, err := ch.Marshal()
	if err != nil {
		return fmt.Errorf("render the agent channel: %w (this is a bug in the provider)", err)
	}
	tflog.Info(ctx, "plugging the guest agent channel into the running domain")
	return conn.AttachLive(ctx, dom, dev)
}

// warnAgentRestart is the plan's warning before an update restarts a
// running VM for the agent channel (wait_for_ip changed to the agent). It
// decodes nothing unless wait_for_ip changes, as ModifyPlan runs for every
// VM on every plan.
func (r *vmResource) warnAgentRestart(ctx context.Context, state, plan tftypes.Value, diags *diag.Diagnostics) bool {
	was, _ := rawAttr(state, "wait_for_ip")
	now, ok := rawAttr(plan, "wait_for_ip")
	if !ok || was.Equal(now) || rawString(now, "source") != vmAgentSource || rawString(was, "source") == vmAgentSource ||
		!rawBool(state, "running") || !rawBool(plan, "running") {
		return false
	}
	hostID, name := rawString(state, "host_id"), rawString(state, "name")
	conn, dom, ok := r.planLookup(ctx, hostID, name)
	if !ok {
		return false
	}
	if has, pluggable, err := agentLive(ctx, conn, dom); err == nil && !has && !pluggable {
		diags.AddAttributeWarning(path.Root("wait_for_ip").AtName("source"), "VM "+strconv.Quote(name)+" will be restarted",
			fmt.Sprintf("wait_for_ip.source = %q needs the guest agent's channel (%s), which running domain %q on host %q can only get "+
				"at a restart (it has no virtio-serial controller, and QEMU cannot plug one live). The apply restarts it.",
				vmAgentSource, vminfo.AgentChannel, name, hostID))
		return true
	}
	return false
}
