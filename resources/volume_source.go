package resources

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/diskimage"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
)

// What virtumancer_volume does with `source`: inspect it at plan time, upload
// it at apply, and cache its hash in private state between the two.

// planSource fills source_sha256 from the source file, and on create or
// when the content changed checks that the volume can hold the image and
// defaults capacity to its size. prior is nil on create. It reports whether
// the content changed, which replaces the volume. A source file missing for
// an existing volume is a warning: the volume is fine and plans must not
// fail because a CI runner lacks the image.
func planSource(ctx context.Context, plan, prior *volumeModel, capacity types.Int64, cached diskimage.Sum, diags *diag.Diagnostics) (changed bool) {
	switch {
	case plan.Source.IsNull():
		plan.SourceSHA256 = types.StringNull()
		return false
	case plan.Source.IsUnknown():
		plan.SourceSHA256 = types.StringUnknown()
		return false
	}
	img, err := diskimage.Inspect(plan.Source.ValueString(), cached)
	switch {
	case err != nil && prior == nil:
		diags.AddAttributeError(path.Root("source"), "Unable to read the source image", err.Error())
		return false
	case err != nil:
		diags.AddAttributeWarning(path.Root("source"), "Unable to read the source image",
			fmt.Sprintf("%s. The volume keeps its uploaded content and the recorded source_sha256; make the file readable again to detect changes to it.", err))
		plan.SourceSHA256 = prior.SourceSHA256
		return false
	}
	tflog.Debug(ctx, "inspected source", map[string]any{"source": img.Path, "format": img.Format, "sha256": img.SHA256, "cached": img.FromCache})
	plan.SourceSHA256 = types.StringValue(img.SHA256)
	changed = prior != nil && !plan.SourceSHA256.Equal(prior.SourceSHA256)
	// The checks below concern the upload, so they matter only when one
	// will happen: on create or when the content changed.
	if prior == nil || changed {
		diags.Append(checkSourceFits(img, plan.Format, capacity)...)
		if capacity.IsNull() {
			plan.Capacity = types.Int64Value(img.CapacityMiB())
		}
	}
	return changed
}

// checkSourceFits reports a source image that the planned volume cannot
// hold as it is: a format mismatch or a capacity below the image's size.
func checkSourceFits(img diskimage.Image, format types.String, capacity types.Int64) diag.Diagnostics {
	var diags diag.Diagnostics
	if !format.IsUnknown() && format.ValueString() != img.Format {
		diags.AddAttributeError(path.Root("format"), "Source image format does not match",
			fmt.Sprintf("%s is a %s image but format is %q; set format = %q.", img.Path, img.Format, format.ValueString(), img.Format))
		return diags
	}
	if capacity.IsNull() || capacity.IsUnknown() {
		return diags
	}
	need := img.CapacityMiB()
	switch got := capacity.ValueInt64(); {
	case img.Format == diskimage.FormatQcow2 && got != need:
		// The upload replaces the whole qcow2 file, header included, so the
		// volume takes the image's own virtual size whatever was asked.
		diags.AddAttributeError(path.Root("capacity"), "Capacity does not match the qcow2 image",
			fmt.Sprintf("%s is a qcow2 image of %d MiB and an uploaded qcow2 image keeps its own size. "+
				"Remove capacity (it defaults to %d) or resize the image first (qemu-img resize).", img.Path, need, need))
	case got < need:
		diags.AddAttributeError(path.Root("capacity"), "Capacity too small for the source image",
			fmt.Sprintf("%s holds %d bytes, which needs a capacity of at least %d MiB; capacity is %d.", img.Path, img.VirtualSize, need, got))
	}
	return diags
}

// fillVolume uploads src into the new volume vol, records the hash in the
// plan and the private state, and returns the volume as the pool now
// reports it (a qcow2 image brings its own size). On failure it deletes the
// volume, adds the diagnostic and returns false.
func fillVolume(ctx context.Context, conn *hypervisor.Conn, vol hypervisor.Volume, src *os.File, size uint64, plan *volumeModel, resp *resource.CreateResponse) (hypervisor.Volume, bool) {
	sum, err := uploadSource(ctx, conn, vol, src, size, plan.SourceSHA256)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("source"), "Unable to upload the source image",
			fmt.Sprintf("Uploading into volume %q of pool %q on host %q failed: %s.%s", vol.Name, vol.Pool, plan.HostID.ValueString(), err, cleanupVolume(ctx, conn, vol)))
		return vol, false
	}
	plan.SourceSHA256 = types.StringValue(sum)
	if fi, err := src.Stat(); err == nil {
		resp.Diagnostics.Append(saveSourceCache(ctx, resp.Private.SetKey, diskimage.SumOf(plan.Source.ValueString(), fi, sum))...)
	}
	tflog.Info(ctx, "uploaded source", map[string]any{"bytes": size, "sha256": sum})
	filled, err := conn.LookupVolume(ctx, vol.Pool, vol.Name)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read the volume", fmt.Sprintf("The volume was created and filled but reading it back failed: %s", err))
		return vol, false
	}
	return filled, true
}

// uploadSource streams f into vol, hashing what it sends, and fails when the
// content is not what the plan hashed.
func uploadSource(ctx context.Context, conn *hypervisor.Conn, vol hypervisor.Volume, f *os.File, size uint64, planned types.String) (string, error) {
	w, sum := diskimage.NewHasher()
	if err := conn.UploadVolume(ctx, vol, io.TeeReader(f, w), size); err != nil {
		return "", err
	}
	got := sum()
	if !planned.IsUnknown() && got != planned.ValueString() {
		return "", fmt.Errorf("the file %s changed between plan and apply (planned sha256 %s, uploaded %s); run the plan again",
			f.Name(), planned.ValueString(), got)
	}
	return got, nil
}

// cleanupVolume deletes a volume whose upload failed and says what
// happened, as a sentence to append to the error.
func cleanupVolume(ctx context.Context, conn *hypervisor.Conn, vol hypervisor.Volume) string {
	if err := conn.DeleteVolume(ctx, vol); err != nil && !hypervisor.IsNotFound(err) {
		return fmt.Sprintf(" Deleting the partly written volume failed too (%s); delete %s by hand.", err, vol.Path)
	}
	return " The partly written volume was deleted."
}

// sourceCacheKey keys the private state that caches the hash of the source
// by path, size and mtime, so plans hash a large image only when the file
// actually changed.
const sourceCacheKey = "source"

// sourceCache is the private-state form of a diskimage.Sum (the same fields,
// so the two convert). States hold these JSON names: never rename them.
type sourceCache struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
}

// loadSourceCache returns the cached hash, or a zero Sum (hash again) when
// there is none or it cannot be read.
func loadSourceCache(ctx context.Context, get func(context.Context, string) ([]byte, diag.Diagnostics)) diskimage.Sum {
	b, diags := get(ctx, sourceCacheKey)
	var c sourceCache
	if diags.HasError() || len(b) == 0 || json.Unmarshal(b, &c) != nil {
		return diskimage.Sum{}
	}
	return diskimage.Sum(c)
}

func saveSourceCache(ctx context.Context, set func(context.Context, string, []byte) diag.Diagnostics, s diskimage.Sum) diag.Diagnostics {
	b, err := json.Marshal(sourceCache(s))
	if err != nil {
		return diag.Diagnostics{providerdata.Bug("virtumancer_volume: encoding the source cache: " + err.Error())}
	}
	return set(ctx, sourceCacheKey, b)
}
