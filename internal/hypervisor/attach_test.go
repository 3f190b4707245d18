package hypervisor

import (
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// TestIntegrationQemuAttachAgentChannel: the agent channel plugs into a
// running TCG domain live only (its definition is left to the caller) when
// the domain has a virtio-serial controller; QEMU cannot plug the
// controller itself, so a domain defined without any channel needs a
// restart. With the channel and no agent behind it, the agent source
// answers "not connected" instead of "not configured".
func TestIntegrationQemuAttachAgentChannel(t *testing.T) {
	c := connect(t, qemuURI)
	ch := vminfo.AgentChannelXML()
	dev, err := ch.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	start := func(withController bool) Domain {
		doc := qemuDomainXML("ip-" + uniqueName("agent"))
		if withController {
			doc = strings.Replace(doc, "<devices>", "<devices><controller type='virtio-serial'/>", 1)
		}
		return startXML(t, c, doc)
	}

	bare := start(false)
	if _, err := c.InterfaceAddresses(ctx(t), bare, "agent"); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Errorf("agent addresses without a channel: %v, want libvirt's \"not configured\"", err)
	}
	if err := c.AttachLive(ctx(t), bare, dev); err == nil || !strings.Contains(err.Error(), "virtio-serial") {
		t.Errorf("channel without a controller: %v, want libvirt to name the missing virtio-serial controller", err)
	}
	if err := c.AttachLive(ctx(t), bare, "<controller type='virtio-serial'/>"); err == nil || !strings.Contains(err.Error(), "cannot be hot plugged") {
		t.Errorf("hot plug of a virtio-serial controller: %v, want it refused", err)
	}

	d := start(true)
	if err := c.AttachLive(ctx(t), d, dev); err != nil {
		t.Fatal(err)
	}
	for inactive, want := range map[bool]bool{false: true, true: false} {
		doc, err := c.DomainXML(ctx(t), d, inactive)
		if err != nil {
			t.Fatal(err)
		}
		var x libvirtxml.Domain
		if err := x.Unmarshal(doc); err != nil {
			t.Fatal(err)
		}
		if got := vminfo.HasAgentChannel(x.Devices); got != want {
			t.Errorf("inactive=%t: agent channel %t, want %t", inactive, got, want)
		}
	}
	if _, err := c.InterfaceAddresses(ctx(t), d, "agent"); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Errorf("agent addresses with a channel and no agent: %v, want libvirt's \"not connected\"", err)
	}
}
