package datasources

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// TestShownOf: each verdict's live side, as every data source shows it.
func TestShownOf(t *testing.T) {
	live := &observe.Live{Domain: hypervisor.Domain{ID: 7, UUID: "u-1"}, Info: vminfo.VMInfo{State: vminfo.StateRunning}}
	rec := &vminfo.VMInfo{State: vminfo.StateShutoff}
	for _, tc := range []struct {
		verdict         observe.Verdict
		live            *observe.Live
		rec             *vminfo.VMInfo
		reachable, read bool
		state           types.String
		domainID        types.Int64
	}{
		{observe.InStep, live, rec, true, true, types.StringValue("running"), types.Int64Value(7)},
		{observe.Drifted, live, rec, true, true, types.StringValue("running"), types.Int64Value(7)},
		{observe.RecordUnreadable, live, nil, true, true, types.StringValue("running"), types.Int64Value(7)},
		{observe.Missing, nil, rec, true, true, types.StringValue(stateMissing), types.Int64Null()},
		{observe.Missing, nil, nil, true, true, types.StringValue(stateMissing), types.Int64Null()},
		{observe.DomainUnreadable, nil, rec, true, false, types.StringValue("shut off"), types.Int64Null()},
		{observe.HostUnreachable, nil, rec, false, false, types.StringValue("shut off"), types.Int64Null()},
		{observe.HostUnreachable, nil, nil, false, false, types.StringNull(), types.Int64Null()},
	} {
		s := shownOf(observe.Result{Verdict: tc.verdict, Live: tc.live}, tc.rec)
		if s.Reachable != tc.reachable || s.Live != tc.read || !s.State.Equal(tc.state) || !s.DomainID.Equal(tc.domainID) {
			t.Errorf("%s (record %v): shown %+v; want reachable %v, live %v, state %s, domain_id %s",
				tc.verdict, tc.rec != nil, s, tc.reachable, tc.read, tc.state, tc.domainID)
		}
	}
}

// TestDriftRender: the report as virtumancer_drift shows it: in_step, every
// VM needing attention with its verdict, drift in the user's words beside
// the config_json path, missing VMs also in `missing`, hosts by id.
func TestDriftRender(t *testing.T) {
	row := store.VM{ID: 4, HostID: "h1", Name: "web"}
	results := []observe.Result{
		{HostID: "h1", Name: "web", Verdict: observe.Drifted, Row: &row,
			Live:  &observe.Live{Info: vminfo.VMInfo{State: vminfo.StateRunning}},
			Drift: []vminfo.Drift{{Field: "max_mem", Recorded: "262144", Live: "524288"}}},
		{HostID: "h1", Name: "db", Verdict: observe.Missing, Row: &store.VM{ID: 5}},
		{HostID: "h1", Name: "ok", Verdict: observe.InStep, Row: &store.VM{ID: 6}},
	}
	rep := observe.NewReport(results, []observe.HostError{{Host: "h2", Error: "down"}})
	var m driftDataModel
	m.render(rep)
	if m.InStep.ValueBool() {
		t.Error("in_step true with a drifted VM and an unreachable host")
	}
	if len(m.VMs) != 2 || m.VMs[0].Name.ValueString() != "db" || m.VMs[1].Name.ValueString() != "web" {
		t.Fatalf("vms %+v; want db (missing) then web (drifted)", m.VMs)
	}
	db, web := m.VMs[0], m.VMs[1]
	if db.Verdict.ValueString() != "missing" || !db.State.IsNull() || db.Fields == nil || len(db.Fields) != 0 || !db.Error.IsNull() {
		t.Errorf("missing entry %+v; want verdict missing, null state and error, fields []", db)
	}
	want := driftModel{Attribute: types.StringValue("max_memory"), Recorded: types.StringValue("256 MiB"), Live: types.StringValue("512 MiB"),
		Path: types.StringValue("max_mem"), Field: types.StringValue("max_mem")}
	if web.Verdict.ValueString() != "drifted" || web.State.ValueString() != "running" || web.RowID.ValueInt64() != 4 ||
		len(web.Fields) != 1 || web.Fields[0] != want {
		t.Errorf("drifted entry %+v; want verdict drifted, state running, row 4, fields [%+v]", web, want)
	}
	if len(m.Missing) != 1 || m.Missing[0].Name.ValueString() != "db" {
		t.Errorf("missing %+v; want [db]", m.Missing)
	}
	if fmt.Sprint(m.UnreachableHosts) != "[h2]" {
		t.Errorf("unreachable_hosts %v; want [h2]", m.UnreachableHosts)
	}

	m.render(observe.NewReport([]observe.Result{results[2]}, nil))
	if !m.InStep.ValueBool() || len(m.VMs) != 0 || m.Missing == nil || m.UnreachableHosts == nil {
		t.Errorf("in step: %+v; want in_step true and empty (not null) lists", m)
	}
}

// TestWarnObserved: one warning per unreachable host, sorted, naming the
// host once; one per unreadable record or domain with the row, the cause,
// the remedy and what the data source shows; none for drift or missing.
func TestWarnObserved(t *testing.T) {
	results := []observe.Result{
		{HostID: "h1", Name: "bad", Verdict: observe.RecordUnreadable, Row: &store.VM{ID: 9}, Err: errors.New(`store s.db: virtual_machines row 9 (host "h1", vm "bad"): config_json is not a readable VMInfo`)},
		{HostID: "h1", Name: "odd", Verdict: observe.DomainUnreadable, Row: &store.VM{ID: 10}, Err: errors.New("no <memory>")},
		{HostID: "h1", Name: "web", Verdict: observe.Drifted, Row: &store.VM{ID: 11}},
		{HostID: "h1", Name: "db", Verdict: observe.Missing, Row: &store.VM{ID: 12}},
	}
	failures := []observe.HostFailure{
		{HostID: "zz", Err: errors.New(`host "zz" (qemu+ssh://kvm/system): connect: refused`)},
		{HostID: "aa", Err: errors.New("connect: refused")},
	}
	shown := map[observe.Verdict]string{observe.HostUnreachable: "SHOWN-HOST", observe.RecordUnreadable: "SHOWN-RECORD", observe.DomainUnreadable: "SHOWN-DOMAIN"}
	var diags diag.Diagnostics
	warnObserved(&diags, results, failures, shown)
	if diags.HasError() || len(diags) != 4 {
		t.Fatalf("diagnostics %v; want 4 warnings", diags)
	}
	for i, want := range []struct {
		summary string
		parts   []string
	}{
		{"Host unreachable", []string{`host "aa" could not be asked: connect: refused`, "asked again next time", "SHOWN-HOST"}},
		{"Host unreachable", []string{`host "zz" (qemu+ssh://kvm/system)`, "SHOWN-HOST"}},
		{"Unreadable recorded configuration", []string{`"bad"`, "row 9", "not a readable VMInfo", "next apply of this VM", "SHOWN-RECORD"}},
		{"Unreadable domain", []string{`"odd"`, "no <memory>", "virsh dumpxml", "SHOWN-DOMAIN"}},
	} {
		d := diags[i]
		if d.Summary() != want.summary {
			t.Errorf("warning %d: %q; want %q", i, d.Summary(), want.summary)
		}
		for _, p := range want.parts {
			if !strings.Contains(d.Detail(), p) {
				t.Errorf("warning %d (%s): %q lacks %q", i, d.Summary(), d.Detail(), p)
			}
		}
	}
	if n := strings.Count(diags[1].Detail(), `"zz"`); n != 1 {
		t.Errorf("host zz named %d times in %q; want once", n, diags[1].Detail())
	}
}

// TestStoreReadFailed: a missing store is its own error naming the
// absolute path and the apply that creates it; other errors pass through.
func TestStoreReadFailed(t *testing.T) {
	var diags diag.Diagnostics
	abs := filepath.Join(t.TempDir(), "virtumancer.db")
	st, err := store.Open(abs, store.Options{CreateOnWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	_, missing := st.ListHosts(context.Background())
	storeReadFailed(&diags, abs, missing)
	if len(diags) != 1 || diags[0].Summary() != "No Virtumancer store" ||
		!strings.Contains(diags[0].Detail(), abs) || !strings.Contains(diags[0].Detail(), "first apply of a virtumancer_host") {
		t.Errorf("missing store: %v; want one error naming %s and the first apply of a virtumancer_host", diags, abs)
	}
	diags = nil
	storeReadFailed(&diags, "virtumancer.db", errors.New("store virtumancer.db: database disk image is malformed"))
	if len(diags) != 1 || diags[0].Summary() != "Unable to read the Virtumancer store" || !strings.Contains(diags[0].Detail(), "malformed") {
		t.Errorf("other error: %v; want it passed through", diags)
	}
}

// TestDialerNoTypedNil: a host the store does not know comes back as a
// true nil Source with the store's error, never a nil *hypervisor.Conn
// inside a non-nil interface.
func TestDialerNoTypedNil(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "virtumancer.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	src, err := dialer(&providerdata.Data{Store: st})(context.Background(), "nowhere")
	if src != nil || !errors.Is(err, providerdata.ErrUnknownHost) {
		t.Errorf("dial of an unknown host: %#v, %v; want a nil Source and ErrUnknownHost", src, err)
	}
}
