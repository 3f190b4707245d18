package resources

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
)

func TestParsePoolID(t *testing.T) {
	for id, want := range map[string][2]string{
		"local/images":       {"local", "images"},
		"site/rack-1/images": {"site/rack-1", "images"},
	} {
		h, n, err := parsePoolID(id)
		if err != nil || [2]string{h, n} != want {
			t.Errorf("parsePoolID(%q) = %q %q %v, want %q", id, h, n, err, want)
		}
	}
	for _, bad := range []string{"", "images", "/images", "local/"} {
		if _, _, err := parsePoolID(bad); err == nil || !strings.Contains(err.Error(), "host_id/name") {
			t.Errorf("parsePoolID(%q): err %v, want one naming host_id/name", bad, err)
		}
	}
}

func TestCreatePoolDiag(t *testing.T) {
	plan := poolModel{HostID: types.StringValue("local"), Name: types.StringValue("images")}
	cases := []struct {
		err      error
		attr     string // "" = no attribute
		contains string
	}{
		{fmt.Errorf("x: %w", hypervisor.ErrPoolExists), "name", "import virtumancer_pool.<name> local/images"},
		{fmt.Errorf("x: %w", hypervisor.ErrNotDirectory), "path", "Nothing was defined"},
		{errors.New("permission denied"), "", "permission denied"},
	}
	for _, c := range cases {
		d := createPoolDiag(plan, c.err)
		var attr string
		if wp, ok := d.(diag.DiagnosticWithPath); ok {
			attr = wp.Path().String()
		}
		if attr != c.attr || !strings.Contains(d.Detail(), c.contains) {
			t.Errorf("createPoolDiag(%v) = path %q, %q; want path %q, detail with %q", c.err, attr, d.Detail(), c.attr, c.contains)
		}
	}
}

func TestPoolPathValidator(t *testing.T) {
	for in, wantErr := range map[string]bool{"/srv/pools/a": false, "srv": true, "/srv/": true, "/": true} {
		resp := &validator.StringResponse{}
		poolPathValidator{}.ValidateString(context.Background(), validator.StringRequest{
			Path: path.Root("path"), ConfigValue: types.StringValue(in),
		}, resp)
		if resp.Diagnostics.HasError() != wantErr {
			t.Errorf("path %q: diagnostics %v, want error %t", in, resp.Diagnostics, wantErr)
		}
	}
	resp := &validator.StringResponse{}
	poolPathValidator{}.ValidateString(context.Background(), validator.StringRequest{ConfigValue: types.StringUnknown()}, resp)
	if resp.Diagnostics.HasError() {
		t.Error("an unknown path (known only at apply) was rejected at plan time")
	}
}
