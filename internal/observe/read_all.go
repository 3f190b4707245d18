package observe

import (
	"context"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

type runtimesAnswer struct {
	m   map[string]vminfo.Runtime
	err error
}

// allOverlapped is All when runtimes come in bulk and no live definition
// is needed: the bulk runtime calls (three listings of every domain) run
// beside the listing and the definitions' reads instead of before them,
// since neither needs the other. Each definition is read without its
// runtime and given it after (withRuntime), which reads the same as
// FromXML with it. A domain the runtimes did not know (defined meanwhile)
// is read again the one-by-one way, as All always did.
func (rd Reader) allOverlapped(ctx context.Context, src Source, rl RuntimeLister) ([]Observation, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rts := make(chan runtimesAnswer, 1)
	go func() {
		m, err := rl.Runtimes(ctx)
		rts <- runtimesAnswer{m, err}
	}()
	doms, err := src.ListDomains(ctx)
	if err != nil {
		return nil, err
	}
	obs, err := parallel(ctx, rd.workers(), len(doms), func(ctx context.Context, i int) (Observation, error) {
		o := Observation{Name: doms[i].Name}
		inactive, err := src.DomainXML(ctx, doms[i], true)
		o.At = time.Now()
		if err != nil {
			return o.failed(ctx, err)
		}
		return o.parsed(doms[i], inactive, "", vminfo.Runtime{}), nil
	})
	ans := <-rts
	switch {
	case err != nil:
		return nil, err
	case ans.err != nil:
		return nil, ans.err
	}
	var again []int
	for i := range obs {
		rt, ok := ans.m[doms[i].UUID]
		switch {
		case obs[i].Gone:
		case !ok:
			again = append(again, i)
		case obs[i].Live != nil:
			withRuntime(&obs[i].Live.Info, rt)
		}
	}
	return obs, rd.readAgain(ctx, src, doms, obs, again)
}

// readAgain rereads obs[i] for each i in idx, asking libvirt the runtime.
func (rd Reader) readAgain(ctx context.Context, src Source, doms []hypervisor.Domain, obs []Observation, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	sub := make([]hypervisor.Domain, len(idx))
	for k, i := range idx {
		sub[k] = doms[i]
	}
	redo, err := rd.read(ctx, src, sub, func(_ context.Context, d hypervisor.Domain) (hypervisor.Domain, *vminfo.Runtime, error) {
		return d, nil, nil
	})
	if err != nil {
		return err
	}
	for k, i := range idx {
		obs[i] = redo[k]
	}
	return nil
}

// withRuntime sets the fields vminfo.FromXML takes from its Runtime.
func withRuntime(v *vminfo.VMInfo, rt vminfo.Runtime) {
	v.ID, v.State, v.CPUTime, v.Persistent, v.Autostart = rt.ID, rt.State, rt.CPUTime, rt.Persistent, rt.Autostart
}
