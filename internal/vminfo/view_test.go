package vminfo

import (
	"reflect"
	"strings"
	"testing"
)

func TestConfigViewDropsRuntimeFields(t *testing.T) {
	v := VMInfo{ID: 7, Name: "web", State: 1, MaxMem: 262144, Memory: 131072, Vcpu: 2, CPUTime: 99, Uptime: 12,
		Persistent: true, Graphics: Graphics{VNC: true}, UUID: "u", Disks: []Disk{{Device: "disk", Target: "vda", Bus: "virtio"}}}
	got, err := v.ConfigView()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"id"`, `"state"`, `"cpu_time"`, `"uptime"`} {
		if strings.Contains(got, k) {
			t.Errorf("view %s keeps the runtime field %s", got, k)
		}
	}
	back, err := Parse([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	want := v
	want.ID, want.State, want.CPUTime, want.Uptime = 0, 0, 0, 0
	if !reflect.DeepEqual(back, want) {
		t.Errorf("view reads back as %+v, want %+v", back, want)
	}
	v.CPUTime, v.Uptime, v.ID, v.State = 5, 6, 8, 5
	if again, _ := v.ConfigView(); again != got {
		t.Errorf("runtime fields changed the view:\n%s\n%s", got, again)
	}
}
