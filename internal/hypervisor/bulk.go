package hypervisor

import (
	"context"

	"github.com/digitalocean/go-libvirt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Runtimes reports the runtime facts of every domain of the host in three
// calls (all-domain stats for state and CPU time, and two filtered listings
// for persistence and autostart) instead of the four calls per domain that
// Runtime costs. A full sync of thousands of domains then asks libvirt
// little more than each domain's XML. The map is keyed by canonical UUID.
func (c *Conn) Runtimes(ctx context.Context) (map[string]vminfo.Runtime, error) {
	var out map[string]vminfo.Runtime
	err := c.callRead(ctx, "read runtime of all domains", func(l *libvirt.Libvirt) error {
		var err error
		out, err = readRuntimes(l)
		return err
	})
	return out, err
}

func readRuntimes(l *libvirt.Libvirt) (map[string]vminfo.Runtime, error) {
	stats, err := l.ConnectGetAllDomainStats(nil, uint32(libvirt.DomainStatsState|libvirt.DomainStatsCPUTotal), 0)
	if err != nil {
		return nil, err
	}
	persistent, err := domainSet(l, libvirt.ConnectListDomainsPersistent)
	if err != nil {
		return nil, err
	}
	autostart, err := domainSet(l, libvirt.ConnectListDomainsAutostart)
	if err != nil {
		return nil, err
	}
	out := make(map[string]vminfo.Runtime, len(stats))
	for _, st := range stats {
		rt := vminfo.Runtime{
			ID:         fromRemote(st.Dom).ID,
			Persistent: persistent[st.Dom.UUID],
			Autostart:  autostart[st.Dom.UUID],
		}
		for _, p := range st.Params {
			switch p.Field {
			case "state.state":
				rt.State = int(typedInt(p.Value))
			case "state.reason":
				rt.Reason = int(typedInt(p.Value))
			case "cpu.time":
				rt.CPUTime = uint64(typedInt(p.Value))
			}
		}
		out[formatUUID(st.Dom.UUID)] = rt
	}
	return out, nil
}

func domainSet(l *libvirt.Libvirt, flags libvirt.ConnectListAllDomainsFlags) (map[libvirt.UUID]bool, error) {
	doms, _, err := l.ConnectListAllDomains(1, flags)
	if err != nil {
		return nil, err
	}
	m := make(map[libvirt.UUID]bool, len(doms))
	for _, d := range doms {
		m[d.UUID] = true
	}
	return m, nil
}

// typedInt reads an integer typed parameter whatever width the daemon chose
// (the wire union carries int32, uint32, int64 or uint64); others read as 0.
func typedInt(v libvirt.TypedParamValue) int64 {
	switch n := v.I.(type) {
	case int32:
		return int64(n)
	case uint32:
		return int64(n)
	case int64:
		return n
	case uint64:
		return int64(n) //nolint:gosec // cpu time in ns fits until the year 2262
	}
	return 0
}
