package benchfloor_test

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/benchfloor"
	"github.com/virtumancer/terraform-provider-virtumancer/resources"
)

func TestEchoNullsUnknownsAndKeepsKnowns(t *testing.T) {
	nested := tftypes.Object{AttributeTypes: map[string]tftypes.Type{"mac": tftypes.String, "model": tftypes.String}}
	typ := tftypes.Object{AttributeTypes: map[string]tftypes.Type{
		"name": tftypes.String, "uuid": tftypes.String, "nic": tftypes.List{ElementType: nested},
	}}
	plan := tftypes.NewValue(typ, map[string]tftypes.Value{
		"name": tftypes.NewValue(tftypes.String, "a"),
		"uuid": tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
		"nic": tftypes.NewValue(tftypes.List{ElementType: nested}, []tftypes.Value{tftypes.NewValue(nested, map[string]tftypes.Value{
			"mac":   tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
			"model": tftypes.NewValue(tftypes.String, "virtio"),
		})}),
	})
	want := tftypes.NewValue(typ, map[string]tftypes.Value{
		"name": tftypes.NewValue(tftypes.String, "a"),
		"uuid": tftypes.NewValue(tftypes.String, nil),
		"nic": tftypes.NewValue(tftypes.List{ElementType: nested}, []tftypes.Value{tftypes.NewValue(nested, map[string]tftypes.Value{
			"mac":   tftypes.NewValue(tftypes.String, nil),
			"model": tftypes.NewValue(tftypes.String, "virtio"),
		})}),
	})
	if got := benchfloor.Echo(plan); !got.Equal(want) {
		t.Fatalf("Echo(plan) = %v, want %v", got, want)
	}
}

// TestVMFloorPlansAndAppliesTheBenchConfig drives benchfloor_vm through the
// protocol as the CLI does for the bench's HCL: the plan must accept the
// VM's schema (defaults and plan modifiers run) and apply must return a
// wholly known state that keeps every planned value.
func TestVMFloorPlansAndAppliesTheBenchConfig(t *testing.T) {
	ctx := context.Background()
	srv, err := providerserver.NewProtocol6WithError(benchfloor.New())()
	if err != nil {
		t.Fatal(err)
	}
	typ := resources.VMSchema(ctx).Type().TerraformType(ctx).(tftypes.Object)
	config := benchConfig(typ)
	planResp, err := srv.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName: "benchfloor_vm", Config: dynamic(t, typ, config),
		PriorState: dynamic(t, typ, tftypes.NewValue(typ, nil)), ProposedNewState: dynamic(t, typ, config),
	})
	mustNoDiags(t, "plan", err, planResp.Diagnostics)
	applyResp, err := srv.ApplyResourceChange(ctx, &tfprotov6.ApplyResourceChangeRequest{
		TypeName: "benchfloor_vm", Config: dynamic(t, typ, config),
		PriorState: dynamic(t, typ, tftypes.NewValue(typ, nil)), PlannedState: planResp.PlannedState,
	})
	mustNoDiags(t, "apply", err, applyResp.Diagnostics)
	state, err := applyResp.NewState.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	if !state.IsFullyKnown() {
		t.Fatalf("applied state has unknown values: %v", state)
	}
	var attrs map[string]tftypes.Value
	if err := state.As(&attrs); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]tftypes.Value{
		"name":       tftypes.NewValue(tftypes.String, "bench-0"),
		"graphics":   tftypes.NewValue(tftypes.String, "none"),
		"max_memory": tftypes.NewValue(tftypes.Number, 64), // the VM's own plan modifier: defaults to memory
		"running":    tftypes.NewValue(tftypes.Bool, true), // its default
		"uuid":       tftypes.NewValue(tftypes.String, nil),
	} {
		if !attrs[name].Equal(want) {
			t.Errorf("state %s = %v, want %v", name, attrs[name], want)
		}
	}
}

// benchConfig is the bench's virtumancer_vm HCL as the CLI sends it: set
// attributes, nulls elsewhere, empty lists for absent list blocks.
func benchConfig(typ tftypes.Object) tftypes.Value {
	set := map[string]tftypes.Value{
		"host_id":  tftypes.NewValue(tftypes.String, "bench"),
		"name":     tftypes.NewValue(tftypes.String, "bench-0"),
		"vcpu":     tftypes.NewValue(tftypes.Number, 1),
		"memory":   tftypes.NewValue(tftypes.Number, 64),
		"graphics": tftypes.NewValue(tftypes.String, "none"),
	}
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		switch v, ok := set[name]; {
		case ok:
			vals[name] = v
		case name == "disk" || name == "network_interface":
			vals[name] = tftypes.NewValue(at, []tftypes.Value{})
		default:
			vals[name] = tftypes.NewValue(at, nil)
		}
	}
	return tftypes.NewValue(typ, vals)
}

func dynamic(t testing.TB, typ tftypes.Type, v tftypes.Value) *tfprotov6.DynamicValue {
	t.Helper()
	dv, err := tfprotov6.NewDynamicValue(typ, v)
	if err != nil {
		t.Fatal(err)
	}
	return &dv
}

func mustNoDiags(t testing.TB, step string, err error, diags []*tfprotov6.Diagnostic) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	for _, d := range diags {
		t.Errorf("%s: %s: %s: %s", step, d.Severity, d.Summary, d.Detail)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// BenchmarkFloorRefreshPlan is what one instance of each floor resource
// costs its provider in a `plan` with nothing to change: per op, the four
// requests the CLI sends (ValidateResourceConfig, UpgradeResourceState,
// ReadResource, PlanResourceChange), as resources.BenchmarkVMRefreshPlan
// does for virtumancer_vm, so their allocs/op compare directly. vm against
// min is what the VM's schema costs in the framework alone.
func BenchmarkFloorRefreshPlan(b *testing.B) {
	ctx := context.Background()
	srv, err := providerserver.NewProtocol6WithError(benchfloor.New())()
	if err != nil {
		b.Fatal(err)
	}
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		config func(tftypes.Object) tftypes.Value
	}{
		{"vm", benchConfig},
		{"min", func(typ tftypes.Object) tftypes.Value {
			return tftypes.NewValue(typ, map[string]tftypes.Value{
				"input": tftypes.NewValue(tftypes.String, "bench-0"), "id": tftypes.NewValue(tftypes.String, nil),
			})
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			typeName := "benchfloor_" + c.name
			typ := schemas.ResourceSchemas[typeName].ValueType().(tftypes.Object)
			cfg := dynamic(b, typ, c.config(typ))
			null := dynamic(b, typ, tftypes.NewValue(typ, nil))
			plan, err := srv.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
				TypeName: typeName, Config: cfg, PriorState: null, ProposedNewState: cfg,
			})
			mustNoDiags(b, "plan", err, plan.Diagnostics)
			applied, err := srv.ApplyResourceChange(ctx, &tfprotov6.ApplyResourceChangeRequest{
				TypeName: typeName, Config: cfg, PriorState: null, PlannedState: plan.PlannedState,
			})
			mustNoDiags(b, "apply", err, applied.Diagnostics)
			state, err := applied.NewState.Unmarshal(typ)
			if err != nil {
				b.Fatal(err)
			}
			raw, err := benchfloor.StateJSON(state)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				refreshPlan(ctx, b, srv, typeName, cfg, raw, state)
			}
		})
	}
}

// refreshPlan is one instance of a `plan`; the plan must be empty.
func refreshPlan(ctx context.Context, b *testing.B, srv tfprotov6.ProviderServer, typeName string, cfg *tfprotov6.DynamicValue, raw []byte, state tftypes.Value) {
	v, err := srv.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: typeName, Config: cfg})
	mustNoDiags(b, "validate", err, v.Diagnostics)
	up, err := srv.UpgradeResourceState(ctx, &tfprotov6.UpgradeResourceStateRequest{
		TypeName: typeName, RawState: &tfprotov6.RawState{JSON: raw},
	})
	mustNoDiags(b, "upgrade", err, up.Diagnostics)
	read, err := srv.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: typeName, CurrentState: up.UpgradedState})
	mustNoDiags(b, "read", err, read.Diagnostics)
	plan, err := srv.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName: typeName, Config: cfg, PriorState: read.NewState, ProposedNewState: read.NewState,
	})
	mustNoDiags(b, "plan", err, plan.Diagnostics)
	planned, err := plan.PlannedState.Unmarshal(state.Type())
	if err != nil || !planned.Equal(state) || len(plan.RequiresReplace) > 0 {
		b.Fatalf("plan is not empty: %v (replace %v, %v)", planned, plan.RequiresReplace, err)
	}
}
