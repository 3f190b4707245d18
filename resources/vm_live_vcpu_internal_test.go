package resources

import (
	"strings"
	"testing"
)

// TestVcpuUnplugChange: a decrease below the vCPUs the running domain
// booted with (hotpluggable="no") is a restart naming both counts; down
// to them, an increase, or the test driver (which unplugs any) is not.
func TestVcpuUnplugChange(t *testing.T) {
	const booted2 = `<domain type="qemu"><name>x</name><vcpu current="3">4</vcpu><vcpus>` +
		`<vcpu id="0" enabled="yes" hotpluggable="no" order="1"/><vcpu id="1" enabled="yes" hotpluggable="no" order="2"/>` +
		`<vcpu id="2" enabled="yes" hotpluggable="yes" order="3"/><vcpu id="3" enabled="no" hotpluggable="yes"/></vcpus></domain>`
	const neverPlugged = `<domain type="qemu"><name>x</name><vcpu current="2">4</vcpu></domain>`
	const testDriver = `<domain type="test"><name>x</name><vcpu current="2">4</vcpu></domain>`
	for doc, want := range map[string]uint{booted2: 2, neverPlugged: 2, testDriver: 0,
		`<domain type="kvm"><name>x</name><vcpu>2</vcpu></domain>`: 2} {
		if n := bootVcpus(doc); n != want {
			t.Errorf("bootVcpus(%s) = %d, want %d", doc, n, want)
		}
	}
	for _, c := range []struct {
		doc        string
		have, want uint
		restart    bool
	}{
		{booted2, 3, 1, true},
		{booted2, 3, 2, false},
		{booted2, 2, 3, false},
		{neverPlugged, 2, 1, true},
		{testDriver, 2, 1, false},
		{"not xml", 3, 1, false},
	} {
		got, ok := vcpuUnplugChange(c.doc, c.have, c.want)
		if ok != c.restart {
			t.Errorf("%d -> %d: restart %v, want %v", c.have, c.want, ok, c.restart)
			continue
		}
		if ok && (got.field != "vcpu" || got.rule.Mode != vmRestart || !strings.HasSuffix(got.rule.Why, ": it booted with 2 and is to have 1")) {
			t.Errorf("%d -> %d: %+v", c.have, c.want, got)
		}
	}
}
