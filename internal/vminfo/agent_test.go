package vminfo

import (
	"reflect"
	"testing"

	"libvirt.org/go/libvirtxml"
)

// The agent channel is a device the provider adds for wait_for_ip, not
// configuration: BuildXML renders it when asked, and a domain with it reads
// back exactly as one without it, so it can never show as drift.
func TestBuildXMLGuestAgent(t *testing.T) {
	plain, withAgent := validSpec(), validSpec()
	withAgent.GuestAgent = true
	docs := map[bool]string{}
	for _, s := range []Spec{plain, withAgent} {
		doc, err := BuildXML(s)
		if err != nil {
			t.Fatal(err)
		}
		var dom libvirtxml.Domain
		if err := dom.Unmarshal(doc); err != nil {
			t.Fatal(err)
		}
		if got := HasAgentChannel(dom.Devices); got != s.GuestAgent {
			t.Errorf("GuestAgent=%t: HasAgentChannel = %t in\n%s", s.GuestAgent, got, doc)
		}
		docs[s.GuestAgent] = doc
	}
	a, err := FromXML(docs[false], Runtime{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromXML(docs[true], Runtime{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the agent channel changed what the domain reads as:\n%+v\n%+v", a, b)
	}
	if d := Compare(a, b); len(d) != 0 {
		t.Errorf("the agent channel shows as drift: %+v", d)
	}
}

func TestHasAgentChannelOthers(t *testing.T) {
	other := libvirtxml.DomainChannel{Target: &libvirtxml.DomainChannelTarget{VirtIO: &libvirtxml.DomainChannelTargetVirtIO{Name: "org.qemu.spice.0"}}}
	for _, devs := range []*libvirtxml.DomainDeviceList{nil, {}, {Channels: []libvirtxml.DomainChannel{other, {}}}} {
		if HasAgentChannel(devs) {
			t.Errorf("HasAgentChannel(%+v) = true", devs)
		}
	}
}
