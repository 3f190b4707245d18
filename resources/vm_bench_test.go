package resources_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/benchfloor"
)

// BenchmarkVMRefreshPlan is what one virtumancer_vm costs the provider in a
// `tofu plan` that has nothing to change: per op, the requests the CLI sends
// for one resource instance (ValidateResourceConfig, UpgradeResourceState,
// ReadResource, PlanResourceChange) go through the protocol-6 server, as
// served to the CLI, for a running VM on test:///default. Each op also
// checks that the plan is empty. scripts/bench-plan.sh measures the same
// path end to end through the CLI.
func BenchmarkVMRefreshPlan(b *testing.B) {
	acctest.RequireLibvirt(b)
	p := newProtoBench(b)
	host := p.create("virtumancer_host", map[string]tftypes.Value{
		"id":  tftypes.NewValue(tftypes.String, "h"),
		"uri": tftypes.NewValue(tftypes.String, acctest.TestURI),
	})
	b.Cleanup(func() { p.destroy("virtumancer_host", host) })

	cases := []struct {
		name  string
		attrs func(vm string) map[string]tftypes.Value
	}{
		// The VM of scripts/bench-plan.sh.
		{"bare", func(string) map[string]tftypes.Value { return nil }},
		{"disk+nic", func(vm string) map[string]tftypes.Value {
			disk := p.blockType("virtumancer_vm", "disk")
			nic := p.blockType("virtumancer_vm", "network_interface")
			return map[string]tftypes.Value{
				"disk": tftypes.NewValue(tftypes.List{ElementType: disk}, []tftypes.Value{p.object(disk, map[string]tftypes.Value{
					"path": tftypes.NewValue(tftypes.String, "/var/lib/libvirt/images/"+vm+".img"),
				})}),
				"network_interface": tftypes.NewValue(tftypes.List{ElementType: nic}, []tftypes.Value{p.object(nic, map[string]tftypes.Value{
					"network": tftypes.NewValue(tftypes.String, "default"),
				})}),
			}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p.b = b
			name := acctest.Name("acc-bench")
			attrs := map[string]tftypes.Value{
				"host_id":  tftypes.NewValue(tftypes.String, "h"),
				"name":     tftypes.NewValue(tftypes.String, name),
				"vcpu":     tftypes.NewValue(tftypes.Number, 1),
				"memory":   tftypes.NewValue(tftypes.Number, 64),
				"graphics": tftypes.NewValue(tftypes.String, "none"),
			}
			for k, v := range c.attrs(name) {
				attrs[k] = v
			}
			cfg := p.config("virtumancer_vm", attrs)
			state := p.apply("virtumancer_vm", cfg)
			defer p.destroy("virtumancer_vm", state)
			b.ResetTimer()
			for b.Loop() {
				state = p.refreshPlan("virtumancer_vm", cfg, state)
			}
		})
	}
}

// newProtoServer serves the provider over protocol 6, not configured yet
// (validation needs no configuration), and returns the provider
// configuration's type.
func newProtoServer(t testing.TB) (*protoBench, tftypes.Object) {
	ctx := context.Background()
	srv, err := acctest.ProtoV6ProviderFactories["virtumancer"]()
	if err != nil {
		t.Fatal(err)
	}
	s, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || diagErr(s.Diagnostics) != nil {
		t.Fatalf("GetProviderSchema: %v %v", err, diagErr(s.Diagnostics))
	}
	return &protoBench{b: t, ctx: ctx, srv: srv, schemas: s.ResourceSchemas}, s.Provider.ValueType().(tftypes.Object)
}

// protoBench drives the provider's protocol-6 server the way the CLI does.
type protoBench struct {
	b       testing.TB
	ctx     context.Context
	srv     tfprotov6.ProviderServer
	schemas map[string]*tfprotov6.Schema
}

func newProtoBench(b *testing.B) *protoBench {
	p, provider := newProtoServer(b)
	provCfg := p.object(provider, map[string]tftypes.Value{
		"database": tftypes.NewValue(tftypes.String, acctest.StorePath(b)),
	})
	resp, err := p.srv.ConfigureProvider(p.ctx, &tfprotov6.ConfigureProviderRequest{
		TerraformVersion: "1.12.0", Config: p.dynamic(provCfg),
	})
	if err != nil || diagErr(resp.Diagnostics) != nil {
		b.Fatalf("ConfigureProvider: %v %v", err, diagErr(resp.Diagnostics))
	}
	return p
}

func (p *protoBench) objType(typeName string) tftypes.Object {
	return p.schemas[typeName].ValueType().(tftypes.Object)
}

func (p *protoBench) blockType(typeName, block string) tftypes.Object {
	return p.objType(typeName).AttributeTypes[block].(tftypes.List).ElementType.(tftypes.Object)
}

// object is a value of t with attrs set and every other attribute null.
func (p *protoBench) object(t tftypes.Object, attrs map[string]tftypes.Value) tftypes.Value {
	vals := make(map[string]tftypes.Value, len(t.AttributeTypes))
	for k, at := range t.AttributeTypes {
		vals[k] = tftypes.NewValue(at, nil)
		if v, ok := attrs[k]; ok {
			vals[k] = v
		}
	}
	return tftypes.NewValue(t, vals)
}

// config is a resource configuration as the CLI sends it: absent list
// blocks are empty lists, other absent attributes and blocks are null.
func (p *protoBench) config(typeName string, attrs map[string]tftypes.Value) tftypes.Value {
	t := p.objType(typeName)
	all := map[string]tftypes.Value{}
	for _, bl := range p.schemas[typeName].Block.BlockTypes {
		if bl.Nesting == tfprotov6.SchemaNestedBlockNestingModeList {
			all[bl.TypeName] = tftypes.NewValue(t.AttributeTypes[bl.TypeName], []tftypes.Value{})
		}
	}
	for k, v := range attrs {
		all[k] = v
	}
	return p.object(t, all)
}

func (p *protoBench) dynamic(v tftypes.Value) *tfprotov6.DynamicValue {
	dv, err := tfprotov6.NewDynamicValue(v.Type(), v)
	if err != nil {
		p.b.Fatal(err)
	}
	return &dv
}

func (p *protoBench) value(typeName string, dv *tfprotov6.DynamicValue) tftypes.Value {
	v, err := dv.Unmarshal(p.objType(typeName))
	if err != nil {
		p.b.Fatal(err)
	}
	return v
}

// create applies a new resource configured with attrs.
func (p *protoBench) create(typeName string, attrs map[string]tftypes.Value) tftypes.Value {
	return p.apply(typeName, p.config(typeName, attrs))
}

func (p *protoBench) apply(typeName string, cfg tftypes.Value) tftypes.Value {
	null := tftypes.NewValue(p.objType(typeName), nil)
	v, err := p.srv.ValidateResourceConfig(p.ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: typeName, Config: p.dynamic(cfg)})
	p.check("ValidateResourceConfig", err, v.Diagnostics)
	plan, err := p.srv.PlanResourceChange(p.ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName: typeName, PriorState: p.dynamic(null), ProposedNewState: p.dynamic(cfg), Config: p.dynamic(cfg),
	})
	p.check("PlanResourceChange", err, plan.Diagnostics)
	resp, err := p.srv.ApplyResourceChange(p.ctx, &tfprotov6.ApplyResourceChangeRequest{
		TypeName: typeName, PriorState: p.dynamic(null), PlannedState: plan.PlannedState, Config: p.dynamic(cfg),
		PlannedPrivate: plan.PlannedPrivate,
	})
	p.check("ApplyResourceChange", err, resp.Diagnostics)
	return p.value(typeName, resp.NewState)
}

func (p *protoBench) destroy(typeName string, state tftypes.Value) {
	null := tftypes.NewValue(p.objType(typeName), nil)
	resp, err := p.srv.ApplyResourceChange(p.ctx, &tfprotov6.ApplyResourceChangeRequest{
		TypeName: typeName, PriorState: p.dynamic(state), PlannedState: p.dynamic(null), Config: p.dynamic(null),
	})
	p.check("ApplyResourceChange (destroy)", err, resp.Diagnostics)
}

// refreshPlan is one instance of a `tofu plan`: validate, upgrade the stored
// state, refresh it and plan it against cfg. The plan must be empty; the
// refreshed state is returned for the next round.
func (p *protoBench) refreshPlan(typeName string, cfg, state tftypes.Value) tftypes.Value {
	v, err := p.srv.ValidateResourceConfig(p.ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: typeName, Config: p.dynamic(cfg)})
	p.check("ValidateResourceConfig", err, v.Diagnostics)
	raw, err := benchfloor.StateJSON(state)
	if err != nil {
		p.b.Fatal(err)
	}
	up, err := p.srv.UpgradeResourceState(p.ctx, &tfprotov6.UpgradeResourceStateRequest{
		TypeName: typeName, Version: p.schemas[typeName].Version, RawState: &tfprotov6.RawState{JSON: raw},
	})
	p.check("UpgradeResourceState", err, up.Diagnostics)
	read, err := p.srv.ReadResource(p.ctx, &tfprotov6.ReadResourceRequest{TypeName: typeName, CurrentState: up.UpgradedState})
	p.check("ReadResource", err, read.Diagnostics)
	// With the configuration matching the state, the CLI's proposed new
	// state is the refreshed state itself.
	plan, err := p.srv.PlanResourceChange(p.ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName: typeName, PriorState: read.NewState, ProposedNewState: read.NewState, Config: p.dynamic(cfg),
		PriorPrivate: read.Private,
	})
	p.check("PlanResourceChange", err, plan.Diagnostics)
	refreshed, planned := p.value(typeName, read.NewState), p.value(typeName, plan.PlannedState)
	if !planned.Equal(refreshed) || len(plan.RequiresReplace) > 0 {
		diffs, _ := refreshed.Diff(planned)
		p.b.Fatalf("plan is not empty: %v (replace %v)", diffs, plan.RequiresReplace)
	}
	return refreshed
}

func (p *protoBench) check(rpc string, err error, diags []*tfprotov6.Diagnostic) {
	p.b.Helper()
	if err == nil {
		err = diagErr(diags)
	}
	if err != nil {
		p.b.Fatalf("%s: %v", rpc, err)
	}
}

func diagErr(diags []*tfprotov6.Diagnostic) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			msgs = append(msgs, d.Summary+": "+d.Detail)
		}
	}
	if msgs == nil {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

// BenchmarkVMCreate is what creating one virtumancer_vm costs the provider
// in a `tofu apply`: per op, the requests the CLI sends for one new instance
// (ValidateResourceConfig, PlanResourceChange, ApplyResourceChange) for the
// VM of scripts/bench-plan.sh on test:///default. The destroy of each VM is
// outside the timer. Each op checks that the VM runs.
func BenchmarkVMCreate(b *testing.B) {
	acctest.RequireLibvirt(b)
	p := newProtoBench(b)
	host := p.create("virtumancer_host", map[string]tftypes.Value{
		"id":  tftypes.NewValue(tftypes.String, "h"),
		"uri": tftypes.NewValue(tftypes.String, acctest.TestURI),
	})
	b.Cleanup(func() { p.destroy("virtumancer_host", host) })
	prefix := acctest.Name("acc-benchc")
	var created []tftypes.Value
	b.Cleanup(func() {
		for _, s := range created {
			p.destroy("virtumancer_vm", s)
		}
	})
	i := 0
	for b.Loop() {
		i++
		cfg := p.config("virtumancer_vm", map[string]tftypes.Value{
			"host_id":  tftypes.NewValue(tftypes.String, "h"),
			"name":     tftypes.NewValue(tftypes.String, fmt.Sprintf("%s-%d", prefix, i)),
			"vcpu":     tftypes.NewValue(tftypes.Number, 1),
			"memory":   tftypes.NewValue(tftypes.Number, 64),
			"graphics": tftypes.NewValue(tftypes.String, "none"),
		})
		state := p.apply("virtumancer_vm", cfg)
		created = append(created, state)
		var attrs map[string]tftypes.Value
		var st string
		if err := state.As(&attrs); err != nil || attrs["state"].As(&st) != nil || st != "running" {
			b.Fatalf("created vm is not running: state %q (%v)", st, err)
		}
	}
}
