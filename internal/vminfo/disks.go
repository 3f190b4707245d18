package vminfo

import (
	"slices"
	"strings"
)

// diskDefaults picks device, bus and target where the caller left them
// empty. Targets are assigned after the explicit ones are reserved, in the
// bus's own namespace (vdX, sdX, hdX), as libvirt itself names disks.
func diskDefaults(in []Disk) []Disk {
	out := make([]Disk, len(in))
	used := map[string]bool{}
	for i, d := range in {
		if d.Device == "" {
			d.Device = "disk"
		}
		if d.Bus == "" {
			d.Bus = DefaultBus(d.Device)
		}
		if d.Format == "" && d.Path != "" {
			d.Format = DefaultPathFormat
		}
		// libvirt forces CD-ROMs read-only and reads them back that way.
		d.ReadOnly = d.ReadOnly || d.Device == "cdrom"
		used[d.Target] = true
		out[i] = d
	}
	for i := range out {
		if out[i].Target == "" {
			out[i].Target = nextTarget(busPrefix(out[i].Bus), used)
		}
	}
	return out
}

// LibvirtDiskOrder returns disks in the order libvirt stores them on define
// (virDomainDiskInsert): each disk goes after the last disk on its bus, or
// before the first one on its bus with a higher target index. Both drivers
// read disks back in this order, whatever order they were defined in; use
// it to line a spec's disks up with what FromXML returns.
func LibvirtDiskOrder(in []Disk) []Disk {
	out := make([]Disk, 0, len(in))
	for _, d := range in {
		at := -1
		for i := len(out) - 1; i >= 0; i-- {
			switch {
			case out[i].Bus != d.Bus:
			case diskIndex(out[i].Target) > diskIndex(d.Target):
				at = i
			case at == -1:
				at = i + 1
			}
		}
		if at == -1 {
			at = len(out)
		}
		out = slices.Insert(out, at, d)
	}
	return out
}

// diskIndex is libvirt's virDiskNameToIndex: vda -> 0, vdz -> 25,
// vdaa -> 26; -1 for names it cannot parse.
func diskIndex(name string) int {
	rest := ""
	for _, p := range []string{"fd", "hd", "vd", "sd", "xvd", "ubd"} {
		if after, ok := strings.CutPrefix(name, p); ok {
			rest = after
			break
		}
	}
	idx, n := 0, 0
	for ; n < len(rest) && rest[n] >= 'a' && rest[n] <= 'z'; n++ {
		if n > 0 {
			idx++
		}
		idx = idx*26 + int(rest[n]-'a')
	}
	if n == 0 {
		return -1
	}
	return idx
}

// DefaultBus is the bus BuildXML gives a disk of this device kind when none
// is set: virtio for disks; CD-ROMs get sata, which works on both the pc and
// q35 machine types (virtio cannot carry a CD-ROM, q35 has no IDE).
func DefaultBus(device string) string {
	if device == "cdrom" {
		return "sata"
	}
	return "virtio"
}

func busPrefix(bus string) string {
	switch bus {
	case "sata", "scsi":
		return "sd"
	case "ide":
		return "hd"
	default:
		return "vd"
	}
}

func nextTarget(prefix string, used map[string]bool) string {
	for i := 0; ; i++ {
		name := prefix + diskSuffix(i)
		if !used[name] {
			used[name] = true
			return name
		}
	}
}

// diskSuffix maps 0 -> a, 25 -> z, 26 -> aa, like libvirt's
// virIndexToDiskName.
func diskSuffix(i int) string {
	var b []byte
	for ; i >= 0; i = i/26 - 1 {
		b = append([]byte{byte('a' + i%26)}, b...)
	}
	return string(b)
}
