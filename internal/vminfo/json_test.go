package vminfo

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// readFixture returns a config_json row copied verbatim from
// internal/storetest/testdata/virtumancer-gorm.db (written by Virtumancer itself).
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/fixture/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseVirtumancerRows(t *testing.T) {
	tests := []struct {
		row  string
		want VMInfo
	}{
		{"alpha", VMInfo{
			Name: "alpha", State: StateShutoff, MaxMem: 65536, Memory: 65536, Vcpu: 1,
			Uptime: -1, Persistent: true, Graphics: Graphics{VNC: true},
		}},
		{"beta", VMInfo{
			ID: 3, Name: "beta", State: StateRunning, MaxMem: 65536, Memory: 65536, Vcpu: 1,
			CPUTime: 550000000, Uptime: -1, Persistent: true, Graphics: Graphics{VNC: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.row, func(t *testing.T) {
			data := readFixture(t, tt.row)
			got, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%s) =\n%+v\nwant\n%+v", data, got, tt.want)
			}
			if got.Disks != nil || got.Interfaces != nil {
				t.Error("a Virtumancer row must parse with nil Disks/Interfaces (not recorded)")
			}
			// Rewriting a Virtumancer row we did not change must give
			// Virtumancer's bytes back, so its own reader sees no difference.
			out, err := got.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(data) {
				t.Errorf("Marshal changed a Virtumancer row:\n got %s\nwant %s", out, data)
			}
		})
	}
}

func TestMarshalRoundTripKeepsNilVersusEmpty(t *testing.T) {
	full := VMInfo{
		Name: "web", State: StateRunning, MaxMem: 2097152, Memory: 1048576, Vcpu: 2, Uptime: -1,
		Persistent: true, Graphics: Graphics{Spice: true}, UUID: "c05f65a9-1e5a-45b3-932b-7b15497a6728",
		DomainType: "qemu", OSType: "hvm", Arch: "x86_64",
		Disks:      []Disk{{Device: "disk", Target: "vda", Bus: "virtio", Pool: "default", Volume: "web.qcow2", Format: "qcow2"}},
		Interfaces: []Interface{{Type: "network", Source: "default", Model: "virtio", MAC: "52:54:00:00:00:01"}},
	}
	recordedNone := full
	recordedNone.Disks, recordedNone.Interfaces = []Disk{}, []Interface{}
	notRecorded := full
	notRecorded.Disks, notRecorded.Interfaces = nil, nil

	for name, v := range map[string]VMInfo{"full": full, "recorded none": recordedNone, "not recorded": notRecorded} {
		t.Run(name, func(t *testing.T) {
			data, err := v.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			again, err := v.Marshal()
			if err != nil || string(again) != string(data) {
				t.Fatalf("Marshal is not stable: %s vs %s (%v)", data, again, err)
			}
			got, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, v) {
				t.Fatalf("round trip of %s:\n got %#v\nwant %#v", data, got, v)
			}
		})
	}

	data, _ := recordedNone.Marshal()
	if !strings.Contains(string(data), `"disks":[]`) || !strings.Contains(string(data), `"interfaces":[]`) {
		t.Errorf("recorded-none lists must be written as []: %s", data)
	}
	data, _ = notRecorded.Marshal()
	if strings.Contains(string(data), "disks") || strings.Contains(string(data), "interfaces") {
		t.Errorf("not-recorded lists must be omitted: %s", data)
	}
}

func TestMarshalFieldOrder(t *testing.T) {
	data, err := VMInfo{Name: "x", UUID: "u", Disks: []Disk{}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":0,"name":"x","state":0,"max_mem":0,"memory":0,"vcpu":0,"cpu_time":0,"uptime":0,` +
		`"persistent":false,"autostart":false,"graphics":{"vnc":false,"spice":false},"uuid":"u","disks":[]}`
	if string(data) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", data, want)
	}
}

func TestParseIgnoresUnknownFields(t *testing.T) {
	got, err := Parse([]byte(`{"name":"a","memory":1,"future":{"x":[1,2]},"disks":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "a" || got.Memory != 1 || got.Disks != nil {
		t.Errorf("got %+v", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, "empty value"},
		{"blank", " \n\t", "empty value"},
		{"null", `null`, "got null"},
		{"not an object", `[1,2]`, `field "(top level)"`},
		{"truncated", `{"name":"a",`, "invalid JSON at offset"},
		{"garbage", `{"name":"a"}x`, "invalid JSON at offset 13"},
		{"memory as string", `{"memory":"1024"}`, `field "memory" at offset`},
		{"negative vcpu", `{"vcpu":-1}`, `field "vcpu"`},
		{"nested type", `{"graphics":{"vnc":"yes"}}`, `field "graphics.vnc"`},
		{"disk type", `{"disks":[{"read_only":1}]}`, `field "disks.read_only"`},
		{"uptime float", `{"uptime":1.5}`, `field "uptime"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded", tt.in)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "vminfo: parse config_json: ") {
				t.Errorf("Parse(%q) error %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}
