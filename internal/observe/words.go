package observe

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Field is one drifted field in the user's words: the virtumancer_vm
// attribute and its unit, with the config_json path beside it for those
// who read the store.
type Field struct {
	// Attribute is the HCL attribute (`max_memory`, `disk[vda].bus`); a
	// field the schema does not model keeps its config_json path.
	Attribute string `json:"attribute"`
	// Recorded and Live are in the attribute's unit (`256 MiB`).
	Recorded string `json:"recorded"`
	Live     string `json:"live"`
	// Path is the config_json path (`max_mem`) and its raw values' unit.
	Path string `json:"path"`
}

// String renders f as `max_memory 256 MiB -> 512 MiB (config_json max_mem)`.
func (f Field) String() string {
	s := fmt.Sprintf("%s %s -> %s", f.Attribute, shown(f.Recorded), shown(f.Live))
	if f.Path != f.Attribute {
		s += " (config_json " + f.Path + ")"
	}
	return s
}

// Say renders one vminfo drift entry in the user's words.
func Say(d vminfo.Drift) Field {
	f := Field{Attribute: attributeOf(d.Field), Recorded: d.Recorded, Live: d.Live, Path: d.Field}
	if d.Field == "memory" || d.Field == "max_mem" {
		f.Recorded, f.Live = kibText(d.Recorded), kibText(d.Live)
	}
	return f
}

// Words renders every drift entry; nil for none.
func Words(drift []vminfo.Drift) []Field {
	if len(drift) == 0 {
		return nil
	}
	out := make([]Field, len(drift))
	for i, d := range drift {
		out[i] = Say(d)
	}
	return out
}

// Summary renders drift on one line, fields separated by "; ".
func Summary(drift []vminfo.Drift) string {
	if len(drift) == 0 {
		return "no drift"
	}
	parts := make([]string, len(drift))
	for i, d := range drift {
		parts[i] = Say(d).String()
	}
	return strings.Join(parts, "; ")
}

// attributes maps config_json paths to virtumancer_vm attributes where the
// name differs; list prefixes are renamed to the HCL block names.
var attributes = map[string]string{"max_mem": "max_memory"}

func attributeOf(path string) string {
	if a, ok := attributes[path]; ok {
		return a
	}
	switch {
	case strings.HasPrefix(path, "disks["):
		return "disk[" + strings.TrimPrefix(path, "disks[")
	case strings.HasPrefix(path, "interfaces["):
		return "network_interface[" + strings.TrimPrefix(path, "interfaces[")
	}
	return path
}

// kibText renders a KiB count in the schema's unit, MiB, keeping KiB where
// the value is not a whole MiB (a domain defined outside Terraform).
func kibText(s string) string {
	kib, err := strconv.ParseUint(s, 10, 64)
	switch {
	case err != nil:
		return s
	case kib%1024 == 0:
		return strconv.FormatUint(kib/1024, 10) + " MiB"
	}
	return strconv.FormatUint(kib, 10) + " KiB"
}

// shown makes an empty value visible.
func shown(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
