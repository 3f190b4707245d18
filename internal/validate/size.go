package validate

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/sizes"
)

// atMost refuses values above a limit that may depend on the rest of the
// configuration; limit returns the bound and the sentence that explains it.
type atMost struct {
	desc  string
	limit func(ctx context.Context, req validator.Int64Request) (int64, string)
}

func (v atMost) Description(context.Context) string         { return v.desc }
func (v atMost) MarkdownDescription(context.Context) string { return v.desc }

func (v atMost) ValidateInt64(ctx context.Context, req validator.Int64Request, resp *validator.Int64Response) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	n := req.ConfigValue.ValueInt64()
	limit, why := v.limit(ctx, req)
	if n <= limit {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Value too large",
		fmt.Sprintf("%s is %d; %s. Use a smaller value.", req.Path, n, why))
}

func fixed(limit int64, why string) func(context.Context, validator.Int64Request) (int64, string) {
	return func(context.Context, validator.Int64Request) (int64, string) { return limit, why }
}

// MemoryMiB bounds a domain memory size in MiB by what libvirt parses.
func MemoryMiB() validator.Int64 {
	return atMost{desc: fmt.Sprintf("at most %d MiB", sizes.MaxMemoryMiB),
		limit: fixed(sizes.MaxMemoryMiB, fmt.Sprintf("libvirt holds at most %d MiB (2^53-1 KiB) of domain memory", sizes.MaxMemoryMiB))}
}

// Vcpus bounds a vcpu count (see sizes.MaxVcpus for why).
func Vcpus() validator.Int64 {
	return atMost{desc: fmt.Sprintf("at most %d", sizes.MaxVcpus),
		limit: fixed(sizes.MaxVcpus, fmt.Sprintf("at most %d, the largest QEMU machine type limit "+
			"(libvirt has no bound of its own, and a huge count exhausts libvirtd's memory)", sizes.MaxVcpus))}
}

// VolumeMiB bounds a volume capacity in MiB by what its format can hold;
// the format is read from the attribute at formatPath (defaultFormat when
// unset).
func VolumeMiB(formatPath path.Path, defaultFormat string) validator.Int64 {
	return atMost{desc: fmt.Sprintf("at most %d MiB (%d MiB for qcow2)", sizes.MaxVolumeMiB, sizes.MaxQcow2MiB),
		limit: func(ctx context.Context, req validator.Int64Request) (int64, string) {
			var format types.String
			req.Config.GetAttribute(ctx, formatPath, &format) // a bad format is reported by its own validator
			f := format.ValueString()
			if format.IsNull() {
				f = defaultFormat
			}
			if f == "qcow2" {
				return sizes.MaxQcow2MiB, fmt.Sprintf("a qcow2 volume holds at most %d MiB (2 PiB, with the 64 KiB clusters "+
					"libvirt creates); use format = \"raw\" for a larger one", sizes.MaxQcow2MiB)
			}
			return sizes.MaxVolumeMiB, fmt.Sprintf("libvirt holds at most %d MiB (2^63-1 bytes) per volume", sizes.MaxVolumeMiB)
		}}
}
