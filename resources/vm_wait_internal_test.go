package resources

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

func TestUsableAddrs(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{nil, nil},
		// What the agent of the tiny guest reports: lo first, then eth0.
		{[]string{"127.0.0.1", "::1", "10.77.41.23", "fe80::5054:ff:fe12:3456"}, []string{"10.77.41.23"}},
		{[]string{"fd00::23", "10.0.0.5", "169.254.3.4", "10.0.0.6", "10.0.0.5", "::ffff:10.0.0.7"}, []string{"10.0.0.5", "10.0.0.6", "10.0.0.7", "fd00::23"}},
		{[]string{"not an ip", "0.0.0.0", "224.0.0.1"}, nil},
	} {
		if got := usableAddrs(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("usableAddrs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLastAnswer(t *testing.T) {
	for _, tc := range []struct {
		addrs []string
		err   error
		want  string
	}{
		{nil, errors.New("Guest agent is not responding"), "its last answer was an error: Guest agent is not responding"},
		{[]string{"127.0.0.1", "fe80::1"}, nil, "only loopback or link-local addresses (127.0.0.1, fe80::1)"},
		{nil, nil, "its last answer was empty (the lease source knows no address"},
	} {
		if got := lastAnswer("lease", tc.addrs, tc.err); !strings.Contains(got, tc.want) {
			t.Errorf("lastAnswer(%q, %v) = %q, want %q in it", tc.addrs, tc.err, got, tc.want)
		}
	}
	for _, src := range vmAddressSources {
		if sourceHint(src) == "" || strings.HasSuffix(sourceHint(src), ".") {
			t.Errorf("sourceHint(%q) = %q: want a sentence the caller ends", src, sourceHint(src))
		}
	}
	if !strings.Contains(sourceHint("arp"), "wrong nlmsg len") {
		t.Error("the arp hint does not name libvirt's error in a namespace")
	}
}

// Waiting on the agent adds its channel to an existing definition once
// (a redefinition), and keeps it when the plan no longer asks for it.
func TestMergeDefinitionAgentChannel(t *testing.T) {
	s := testSpec()
	s.GuestAgent = true
	d, changed := mergeSpec(t, s)
	if !changed || !vminfo.HasAgentChannel(d.Devices) {
		t.Fatalf("agent channel not merged (changed=%t): %+v", changed, d.Devices.Channels)
	}
	if len(d.Devices.Videos) != 1 || d.Devices.Disks[0].Address == nil {
		t.Error("adding the channel changed other devices")
	}
	again, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, agent := range []bool{true, false} {
		s.GuestAgent = agent
		built, err := vminfo.BuildXML(s)
		if err != nil {
			t.Fatal(err)
		}
		merged, changed, err := mergeDefinition(again, built, []string{""})
		if err != nil || changed || merged != again {
			t.Errorf("GuestAgent=%t on a domain with the channel: changed=%t err=%v", agent, changed, err)
		}
	}
}
