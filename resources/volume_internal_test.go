package resources

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/diskimage"
)

func TestParseVolumeID(t *testing.T) {
	for id, want := range map[string][3]string{
		"local/default/disk.qcow2":  {"local", "default", "disk.qcow2"},
		"site/rack-1/default/a.raw": {"site/rack-1", "default", "a.raw"},
	} {
		h, p, n, err := parseVolumeID(id)
		if err != nil || [3]string{h, p, n} != want {
			t.Errorf("parseVolumeID(%q) = %q %q %q %v, want %q", id, h, p, n, err, want)
		}
	}
	for _, bad := range []string{"", "a", "a/b", "/pool/name", "host//name", "host/pool/", "a/b/"} {
		if _, _, _, err := parseVolumeID(bad); err == nil || !strings.Contains(err.Error(), "host_id/pool/name") {
			t.Errorf("parseVolumeID(%q): err %v, want one naming host_id/pool/name", bad, err)
		}
	}
}

func TestCheckSourceFits(t *testing.T) {
	raw := diskimage.Image{Sum: diskimage.Sum{Path: "r.img"}, Format: "raw", VirtualSize: 3*bytesPerMiB + 1}
	qcow := diskimage.Image{Sum: diskimage.Sum{Path: "q.qcow2"}, Format: "qcow2", VirtualSize: 8 * bytesPerMiB}
	null := types.Int64Null()
	cases := []struct {
		name     string
		img      diskimage.Image
		format   string
		capacity types.Int64
		want     string // "" = fits
	}{
		{"raw default capacity", raw, "raw", null, ""},
		{"raw larger capacity", raw, "raw", types.Int64Value(100), ""},
		{"raw capacity too small", raw, "raw", types.Int64Value(3), "at least 4 MiB"},
		{"raw as qcow2", raw, "qcow2", null, `set format = "raw"`},
		{"qcow2 as raw", qcow, "raw", null, `set format = "qcow2"`},
		{"qcow2 own size", qcow, "qcow2", types.Int64Value(8), ""},
		{"qcow2 other size", qcow, "qcow2", types.Int64Value(16), "qemu-img resize"},
	}
	for _, tc := range cases {
		diags := checkSourceFits(tc.img, types.StringValue(tc.format), tc.capacity)
		switch {
		case tc.want == "" && diags.HasError():
			t.Errorf("%s: unexpected %v", tc.name, diags)
		case tc.want != "" && (!diags.HasError() || !strings.Contains(diags[0].Detail(), tc.want)):
			t.Errorf("%s: got %v, want an error containing %q", tc.name, diags, tc.want)
		}
	}
}

func sourcePlanModel(src string) *volumeModel {
	return &volumeModel{Source: types.StringValue(src), Format: types.StringValue("raw"), Capacity: types.Int64Unknown()}
}

func TestPlanSource(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(src, make([]byte, bytesPerMiB+1), 0o600); err != nil {
		t.Fatal(err)
	}

	var diags diag.Diagnostics
	plan := sourcePlanModel(src)
	if planSource(ctx, plan, nil, types.Int64Null(), diskimage.Sum{}, &diags) || diags.HasError() {
		t.Fatalf("create: changed or diagnostics %v", diags)
	}
	if plan.Capacity.ValueInt64() != 2 || len(plan.SourceSHA256.ValueString()) != 64 {
		t.Errorf("create: capacity %v, sha256 %v; want 2 MiB (the image's size) and a hash", plan.Capacity, plan.SourceSHA256)
	}

	same := sourcePlanModel(src)
	if planSource(ctx, same, plan, types.Int64Null(), diskimage.Sum{}, &diags) || diags.HasError() {
		t.Errorf("same content: changed or diagnostics %v, want neither", diags)
	}
	prior := *plan
	prior.SourceSHA256 = types.StringValue("other")
	if !planSource(ctx, sourcePlanModel(src), &prior, types.Int64Null(), diskimage.Sum{}, &diags) {
		t.Error("new content: not reported as changed")
	}

	gone := filepath.Join(t.TempDir(), "gone.img")
	kept := sourcePlanModel(gone)
	if planSource(ctx, kept, plan, types.Int64Null(), diskimage.Sum{}, &diags); diags.HasError() || diags.WarningsCount() != 1 || !kept.SourceSHA256.Equal(plan.SourceSHA256) {
		t.Errorf("missing file of an existing volume: %v, sha %v; want one warning and the recorded hash kept", diags, kept.SourceSHA256)
	}
	diags = nil
	if planSource(ctx, sourcePlanModel(gone), nil, types.Int64Null(), diskimage.Sum{}, &diags); !diags.HasError() || !strings.Contains(diags[0].Detail(), gone) {
		t.Errorf("missing file on create: %v, want an error naming it", diags)
	}
}

// The cache's JSON is stored in users' states: its names must not change.
func TestSourceCacheFormat(t *testing.T) {
	ctx := context.Background()
	stored := map[string][]byte{}
	set := func(_ context.Context, k string, v []byte) diag.Diagnostics { stored[k] = v; return nil }
	get := func(_ context.Context, k string) ([]byte, diag.Diagnostics) { return stored[k], nil }

	if got := loadSourceCache(ctx, get); got != (diskimage.Sum{}) {
		t.Errorf("empty private state: %+v, want a zero Sum", got)
	}
	sum := diskimage.Sum{Path: "/img/a.qcow2", Size: 42, ModTime: 7, SHA256: "ab"}
	if diags := saveSourceCache(ctx, set, sum); diags.HasError() {
		t.Fatal(diags)
	}
	if want := `{"path":"/img/a.qcow2","size":42,"mtime_ns":7,"sha256":"ab"}`; string(stored[sourceCacheKey]) != want {
		t.Errorf("stored %s, want %s", stored[sourceCacheKey], want)
	}
	if got := loadSourceCache(ctx, get); got != sum {
		t.Errorf("loaded %+v, want %+v", got, sum)
	}
	stored[sourceCacheKey] = []byte("not json")
	if got := loadSourceCache(ctx, get); got != (diskimage.Sum{}) {
		t.Errorf("unreadable cache: %+v, want a zero Sum", got)
	}
}

// TestShrinkError: a smaller capacity is refused with the sizes; with users
// (what `-replace` meets, since it plans an update first) the message names
// them and says a replacement fails too; an equal or larger one, or one not
// known yet, is not refused.
func TestShrinkError(t *testing.T) {
	prior := &volumeModel{Name: types.StringValue("data.raw"), Capacity: types.Int64Value(8)}
	smaller := &volumeModel{Capacity: types.Int64Value(6)}
	d := shrinkError(smaller, prior, `VM "web"`)
	if len(d) != 1 || d[0].Summary() != "Volume capacity cannot shrink" ||
		!strings.Contains(d[0].Detail(), `capacity 6 MiB is less than the 8 MiB volume "data.raw" holds`) ||
		!strings.Contains(d[0].Detail(), "(`-replace` with the smaller capacity meets this check too)") ||
		!strings.HasSuffix(d[0].Detail(), `It is used now by VM "web": a replacement fails as well until nothing uses it, `+
			`since the apply never deletes a volume in use. Nothing was changed.`) {
		t.Errorf("shrink with a user: %v", d)
	}
	if d := shrinkError(smaller, prior, ""); len(d) != 1 || strings.Contains(d[0].Detail(), "used now") {
		t.Errorf("shrink without users: %v", d)
	}
	for _, c := range []types.Int64{types.Int64Value(8), types.Int64Value(9), types.Int64Unknown()} {
		if d := shrinkError(&volumeModel{Capacity: c}, prior, `VM "web"`); d != nil {
			t.Errorf("capacity %v refused: %v", c, d)
		}
	}
}
