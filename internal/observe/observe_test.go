package observe

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

func info(memKiB uint64) vminfo.VMInfo {
	return vminfo.VMInfo{Name: "web", State: vminfo.StateRunning, Memory: memKiB, MaxMem: memKiB, Vcpu: 1, Persistent: true}
}

func present(i vminfo.VMInfo) Observation { return Observation{Name: i.Name, Live: &Live{Info: i}} }

func TestClassifyEveryVerdict(t *testing.T) {
	row := &store.VM{ID: 7, Name: "web", HostID: "h", Config: info(262144), Recorded: info(262144)}
	corrupt := &store.VM{ID: 9, Name: "web", HostID: "h", ConfigErr: errors.New("got null, want a JSON object")}
	tests := []struct {
		name string
		row  *store.VM
		obs  Observation
		want Verdict
	}{
		{"in step", row, present(info(262144)), InStep},
		{"drifted", row, present(info(524288)), Drifted},
		{"missing", row, Observation{Name: "web", Gone: true}, Missing},
		{"record unreadable", corrupt, present(info(262144)), RecordUnreadable},
		{"no record", nil, present(info(262144)), NoRecord},
		{"domain unreadable", row, Observation{Name: "web", Err: errors.New("bad xml")}, DomainUnreadable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Classify("h", tt.row, tt.obs)
			if r.Verdict != tt.want {
				t.Fatalf("verdict = %s, want %s", r.Verdict, tt.want)
			}
			if (r.Remedy() == "") != (tt.want == InStep) || !strings.Contains(r.Problem(), `vm "web" on host "h"`) {
				t.Errorf("remedy %q / problem %q: want both, naming the VM", r.Remedy(), r.Problem())
			}
		})
	}
}

func TestClassifyUnreadableRecordNamesRowAndNextApply(t *testing.T) {
	row := &store.VM{ID: 42, Name: "web", HostID: "h", ConfigErr: errors.New(`store s.db: virtual_machines row 42 (host "h", vm "web"): config_json is not a readable VMInfo: vminfo: parse config_json: got null`)}
	r := Classify("h", row, present(info(1024)))
	if len(r.Drift) != 0 {
		t.Errorf("an unreadable record must not be compared, got drift %v", r.Drift)
	}
	if !strings.Contains(r.Problem(), "row 42") || !strings.Contains(r.Problem(), "got null") {
		t.Errorf("problem %q must name row 42 and the parse error", r.Problem())
	}
	if !strings.Contains(r.Remedy(), "next apply of this VM records its configuration again") {
		t.Errorf("remedy %q must say the next apply re-records", r.Remedy())
	}
}

func TestUnreachableClassifiesEveryRow(t *testing.T) {
	rows := []store.VM{{Name: "a"}, {Name: "b"}}
	rs := Unreachable("h", rows, errors.New("connection refused"))
	if len(rs) != 2 || rs[0].Verdict != HostUnreachable || rs[1].Name != "b" || rs[1].Err == nil {
		t.Fatalf("got %+v", rs)
	}
}

func TestSayUsesAttributeNamesAndUnits(t *testing.T) {
	tests := []struct {
		in   vminfo.Drift
		want string
	}{
		{vminfo.Drift{Field: "max_mem", Recorded: "262144", Live: "524288"}, "max_memory 256 MiB -> 512 MiB (config_json max_mem)"},
		{vminfo.Drift{Field: "memory", Recorded: "262144", Live: "1000"}, "memory 256 MiB -> 1000 KiB"},
		{vminfo.Drift{Field: "vcpu", Recorded: "1", Live: "2"}, "vcpu 1 -> 2"},
		{vminfo.Drift{Field: "graphics", Recorded: "vnc", Live: "none"}, "graphics vnc -> none"},
		{vminfo.Drift{Field: "disks[vda].bus", Recorded: "virtio", Live: "sata"}, "disk[vda].bus virtio -> sata (config_json disks[vda].bus)"},
		{vminfo.Drift{Field: "interfaces[0]", Recorded: "network:default", Live: ""}, "network_interface[0] network:default -> (none) (config_json interfaces[0])"},
	}
	for _, tt := range tests {
		if got := Say(tt.in).String(); got != tt.want {
			t.Errorf("Say(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReportShape(t *testing.T) {
	row := store.VM{ID: 3, Name: "web", HostID: "h", Config: info(262144), Recorded: info(262144)}
	results := []Result{
		Classify("h", &row, present(info(524288))),
		Classify("h", nil, present(info(1))),
		{HostID: "h", Name: "ok", Verdict: InStep},
	}
	rep := NewReport(results, []HostError{{Host: "down", Error: "refused"}})
	if rep.InStep || rep.Checked != 2 || len(rep.VMs) != 1 || len(rep.UnreachableHosts) != 1 {
		t.Fatalf("report = %+v", rep)
	}
	e := rep.VMs[0]
	if e.State != "running" || e.StateCode != 1 || e.RowID != 3 || e.Verdict != Drifted {
		t.Errorf("entry = %+v", e)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"in_step":false`, `"state":"running"`, `"state_code":1`, `"attribute":"memory"`, `"path":"memory"`, `"unreachable_hosts"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("json %s lacks %s", b, key)
		}
	}
	if empty := NewReport(nil, nil); !empty.InStep || empty.VMs == nil {
		t.Errorf("an empty report must be in step with an empty (not null) list: %+v", empty)
	}
}

func TestParallelKeepsOrderAndStopsOnError(t *testing.T) {
	got, err := parallel(context.Background(), 3, 50, func(_ context.Context, i int) (int, error) { return i * i, nil })
	if err != nil || len(got) != 50 || got[7] != 49 {
		t.Fatalf("got %v, %v", got, err)
	}
	boom := errors.New("boom")
	_, err = parallel(context.Background(), 3, 50, func(_ context.Context, i int) (int, error) {
		if i == 10 {
			return 0, boom
		}
		return i, nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}
