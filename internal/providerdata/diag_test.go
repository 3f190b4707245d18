package providerdata

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

func TestConfigured(t *testing.T) {
	var diags diag.Diagnostics
	if Configured(nil, &diags) || !diags.HasError() || diags[0].Summary() != "Provider not configured" {
		t.Errorf("Configured(nil): diagnostics %v, want false and one \"Provider not configured\" error", diags)
	}
	diags = nil
	if !Configured(&Data{}, &diags) || diags.HasError() {
		t.Errorf("Configured(data): diagnostics %v, want true and none", diags)
	}
}

func TestFrom(t *testing.T) {
	var diags diag.Diagnostics
	if d := From(nil, &diags); d != nil || diags.HasError() {
		t.Errorf("From(nil) = %v, %v; want nil and no diagnostic (not configured yet is not an error)", d, diags)
	}
	want := &Data{}
	if d := From(want, &diags); d != want || diags.HasError() {
		t.Errorf("From(data) = %v, %v; want the same data", d, diags)
	}
	if d := From("not data", &diags); d != nil || !diags.HasError() || !strings.Contains(diags[0].Detail(), "got string") {
		t.Errorf("From(string) = %v, %v; want nil and a bug diagnostic naming the type", d, diags)
	}
}
