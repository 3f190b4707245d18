package datasources_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
	"github.com/virtumancer/terraform-provider-virtumancer/provider"
)

// unreachableURI: nothing listens on port 1 of loopback.
const unreachableURI = "qemu+ssh://root@127.0.0.1:1/system"

// liveEnv is a store with two hosts and five VM rows, set up out of band:
//
//	up   (test:///default): run  - running domain, recorded as defined
//	                        off  - shut-off domain, recorded with vcpu 2 (live 1): drift
//	                        gone - row only: its domain is missing
//	                        bad  - shut-off domain whose row has a corrupt config_json
//	down (unreachable):     far  - row only, recorded state "shut off"
type liveEnv struct {
	t                        *testing.T
	db                       string
	up, down                 string
	run, off, gone, bad, far string
	badRow                   int64 // the virtual_machines id of bad
}

// badConfigJSON is bad's config_json: cut short, and memory is no number.
const badConfigJSON = `{"name": "oops", "memory": "lots"`

// vcpuDrift is off's drift: recorded vcpu 2, live 1.
var vcpuDrift = knownvalue.ObjectExact(map[string]knownvalue.Check{
	"attribute": str("vcpu"), "recorded": str("2"), "live": str("1"), "path": str("vcpu"), "field": str("vcpu"),
})

func newLiveEnv(t *testing.T) *liveEnv {
	t.Helper()
	p := acctest.Name("acc-ds")
	e := &liveEnv{
		t: t, db: acctest.StoreLocation(t), up: p + "-up", down: p + "-down",
		run: p + "-run", off: p + "-off", gone: p + "-gone", bad: p + "-bad", far: p + "-far",
	}
	st := storetest.Open(t, e.db)
	ctx := storetest.Ctx(t)
	for _, h := range []store.Host{{ID: e.up, URI: acctest.TestURI}, {ID: e.down, URI: unreachableURI}} {
		if err := st.CreateHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	record := func(host, name string, edit func(*vminfo.VMInfo)) {
		cfg := spec(name).Expected()
		if edit != nil {
			edit(&cfg)
		}
		if _, err := st.UpsertVM(ctx, host, name, cfg); err != nil {
			t.Fatal(err)
		}
	}
	e.define(e.run, true)
	e.define(e.off, false)
	e.define(e.bad, false)
	record(e.up, e.run, func(c *vminfo.VMInfo) { c.State = vminfo.StateRunning })
	record(e.up, e.off, func(c *vminfo.VMInfo) { c.Vcpu, c.State = 2, vminfo.StateShutoff })
	record(e.up, e.gone, func(c *vminfo.VMInfo) { c.State = vminfo.StateRunning })
	record(e.down, e.far, func(c *vminfo.VMInfo) { c.State = vminfo.StateShutoff })
	now := store.FormatTime(time.Now())
	storetest.Exec(t, e.db, "INSERT INTO virtual_machines (created_at, updated_at, name, host_id, config_json) VALUES (?, ?, ?, ?, ?)",
		now, now, e.bad, e.up, badConfigJSON)
	bad, err := st.GetVM(ctx, e.up, e.bad)
	if err != nil || bad.ConfigErr == nil {
		t.Fatalf("corrupt row %s: %+v, %v; want a row whose config_json cannot be read", e.bad, bad, err)
	}
	e.badRow = bad.ID
	return e
}

func spec(name string) vminfo.Spec {
	return vminfo.Spec{Name: name, DomainType: "test", MemoryKiB: 65536, Vcpu: 1, Graphics: "none"}
}

// define creates a domain on the test driver, started when run, and
// removes it when the test ends.
func (e *liveEnv) define(name string, run bool) {
	t := e.t
	t.Helper()
	doc, err := vminfo.BuildXML(spec(name))
	if err != nil {
		t.Fatal(err)
	}
	l, err := acctest.Dial(acctest.TestURI)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Disconnect() }()
	dom, err := l.DomainDefineXML(doc)
	if err != nil {
		t.Fatalf("define %s: %v", name, err)
	}
	t.Cleanup(func() {
		l, err := acctest.Dial(acctest.TestURI)
		if err != nil {
			t.Error(err)
			return
		}
		defer func() { _ = l.Disconnect() }()
		_ = l.DomainDestroy(dom)
		if err := l.DomainUndefine(dom); err != nil {
			t.Errorf("undefine %s: %v", name, err)
		}
	})
	if run {
		if err := l.DomainCreate(dom); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
	}
}

// config is the provider block for the env's store plus body.
func (e *liveEnv) config(body string) string {
	return acctest.ProviderConfig(e.db) + body
}

func expectKnown(addr, attr string, v knownvalue.Check) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(addr, tfjsonpath.New(attr), v)
}

// expectErr matches the parts in order anywhere in an error, whatever
// line wrapping the CLI applied to the diagnostic.
func expectErr(parts ...string) *regexp.Regexp {
	for i, p := range parts {
		parts[i] = strings.Join(strings.Fields(regexp.QuoteMeta(p)), `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, ".*"))
}

func str(s string) knownvalue.Check { return knownvalue.StringExact(s) }

func hcl(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// protoRead reads one data source through the provider's protocol server in
// this process, bypassing the CLI, so a test can see the warnings a read
// returns (terraform-plugin-testing only surfaces errors). attrs are the
// configured attributes; the rest are null.
func protoRead(t *testing.T, db, typeName string, attrs map[string]tftypes.Value) (map[string]tftypes.Value, []*tfprotov6.Diagnostic) {
	t.Helper()
	ctx := storetest.Ctx(t)
	srv, err := providerserver.NewProtocol6WithError(provider.New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || diagsHaveError(schemas.Diagnostics) {
		t.Fatalf("schema: %v %v", err, schemas.Diagnostics)
	}
	cfg := objectOf(t, schemas.Provider, map[string]tftypes.Value{"database": tftypes.NewValue(tftypes.String, db)})
	conf, err := srv.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: cfg})
	if err != nil || diagsHaveError(conf.Diagnostics) {
		t.Fatalf("configure: %v %v", err, conf.Diagnostics)
	}
	dsSchema := schemas.DataSourceSchemas[typeName]
	resp, err := srv.ReadDataSource(ctx, &tfprotov6.ReadDataSourceRequest{TypeName: typeName, Config: objectOf(t, dsSchema, attrs)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tftypes.Value{}
	if resp.State != nil {
		v, err := resp.State.Unmarshal(dsSchema.ValueType())
		if err != nil {
			t.Fatal(err)
		}
		if err := v.As(&out); err != nil {
			t.Fatal(err)
		}
	}
	return out, resp.Diagnostics
}

func objectOf(t *testing.T, s *tfprotov6.Schema, attrs map[string]tftypes.Value) *tfprotov6.DynamicValue {
	t.Helper()
	typ := s.ValueType().(tftypes.Object)
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		if v, ok := attrs[name]; ok {
			vals[name] = v
		} else {
			vals[name] = tftypes.NewValue(at, nil)
		}
	}
	dv, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, vals))
	if err != nil {
		t.Fatal(err)
	}
	return &dv
}

func diagsHaveError(ds []*tfprotov6.Diagnostic) bool {
	for _, d := range ds {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			return true
		}
	}
	return false
}

// requireWarning fails unless some warning's summary is summary and its
// detail mentions every one of mentions.
func requireWarning(t *testing.T, ds []*tfprotov6.Diagnostic, summary string, mentions ...string) {
	t.Helper()
	for _, d := range ds {
		if d.Severity != tfprotov6.DiagnosticSeverityWarning || d.Summary != summary {
			continue
		}
		all := true
		for _, m := range mentions {
			all = all && strings.Contains(d.Detail, m)
		}
		if all {
			return
		}
	}
	t.Errorf("no warning %q mentioning %q among %s", summary, mentions, diagString(ds))
}

func requireNoErrors(t *testing.T, ds []*tfprotov6.Diagnostic) {
	t.Helper()
	if diagsHaveError(ds) {
		t.Fatalf("unexpected errors: %s", diagString(ds))
	}
}

func diagString(ds []*tfprotov6.Diagnostic) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "\n  [%v] %s: %s", d.Severity, d.Summary, d.Detail)
	}
	return b.String()
}

func tfString(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
