package resources

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/diskimage"
)

// volumeConfigValidator checks what virtumancer_volume's attributes say
// about each other.
type volumeConfigValidator struct{}

func (volumeConfigValidator) Description(context.Context) string {
	return "capacity is required unless base_volume or source is set; base_volume needs qcow2 and conflicts with source"
}

func (v volumeConfigValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (volumeConfigValidator) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var c volumeModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &c)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if c.Capacity.IsNull() && c.BaseVolume.IsNull() && c.Source.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("capacity"), "Missing capacity",
			"Set capacity (MiB) for an empty volume; it may be left out only with base_volume (defaults to the base's size) or source (defaults to the image's size).")
	}
	if !c.BaseVolume.IsNull() && !c.Source.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("source"), "Conflicting attributes",
			"A volume is either an overlay on base_volume or a copy of source, not both; remove one of them.")
	}
	if !c.BaseVolume.IsNull() && c.Format.ValueString() == diskimage.FormatRaw {
		resp.Diagnostics.AddAttributeError(path.Root("format"), "Raw volumes have no backing volume",
			"A volume with base_volume is a qcow2 overlay: remove format or set it to \"qcow2\".")
	}
}
