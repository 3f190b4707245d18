package benchfloor

import (
	"encoding/json"
	"math/big"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// StateJSON is v as the CLI stores it in a state file's `attributes`: what
// UpgradeResourceState receives on every plan. Benchmarks that drive a
// provider's protocol server as the CLI does use it.
func StateJSON(v tftypes.Value) ([]byte, error) { return json.Marshal(jsonOf(v)) }

func jsonOf(v tftypes.Value) any {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	switch t := v.Type(); {
	case t.Is(tftypes.String):
		var s string
		_ = v.As(&s)
		return s
	case t.Is(tftypes.Bool):
		var x bool
		_ = v.As(&x)
		return x
	case t.Is(tftypes.Number):
		var f big.Float
		_ = v.As(&f)
		return json.Number(f.Text('g', -1))
	case t.Is(tftypes.List{}), t.Is(tftypes.Set{}), t.Is(tftypes.Tuple{}):
		var xs []tftypes.Value
		_ = v.As(&xs)
		out := make([]any, len(xs))
		for i, x := range xs {
			out[i] = jsonOf(x)
		}
		return out
	default: // object, map
		var m map[string]tftypes.Value
		_ = v.As(&m)
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[k] = jsonOf(x)
		}
		return out
	}
}
