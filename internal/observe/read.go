package observe

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Source is what reading needs of a libvirt connection; *hypervisor.Conn
// implements it (and RuntimeLister and Snapshotter).
type Source interface {
	ListDomains(ctx context.Context) ([]hypervisor.Domain, error)
	LookupDomain(ctx context.Context, name string) (hypervisor.Domain, error)
	DomainXML(ctx context.Context, d hypervisor.Domain, inactive bool) (string, error)
	Runtime(ctx context.Context, d hypervisor.Domain) (vminfo.Runtime, error)
}

// RuntimeLister reports every domain's runtime facts in a few calls,
// keyed by UUID, instead of four calls per domain.
type RuntimeLister interface {
	Runtimes(ctx context.Context) (map[string]vminfo.Runtime, error)
}

// Snapshotter reads one domain's definitions and runtime in one bounded call.
type Snapshotter interface {
	Snapshot(ctx context.Context, d hypervisor.Domain) (hypervisor.DomainSnapshot, error)
}

// Defaults of Reader.
const (
	DefaultWorkers = 8
	// DefaultBulkAt is how many names make a listing plus bulk runtimes
	// cheaper than looking each one up.
	DefaultBulkAt = 8
)

// Reader reads domains. The zero value uses the defaults.
type Reader struct {
	// Workers bounds the RPCs in flight per host: go-libvirt multiplexes
	// calls over one connection, and a few in flight hide round trips
	// without flooding the daemon.
	Workers int
	// BulkAt: Names with at least this many names lists the host once and
	// reads runtimes in bulk.
	BulkAt int
	// Pending also reads each running domain's live definition and reports
	// the fields a restart would change (Live.Pending).
	Pending bool
}

func (rd Reader) workers() int { return cmpOr(rd.Workers, DefaultWorkers) }
func (rd Reader) bulkAt() int  { return cmpOr(rd.BulkAt, DefaultBulkAt) }

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// All reads every domain of the host, active and inactive. listedAt is
// taken before the listing: anything the store records after it is newer
// than this observation.
func (rd Reader) All(ctx context.Context, src Source) (obs []Observation, listedAt time.Time, err error) {
	listedAt = time.Now()
	if rl, ok := src.(RuntimeLister); ok && !rd.Pending {
		obs, err = rd.allOverlapped(ctx, src, rl)
		return obs, listedAt, err
	}
	doms, err := src.ListDomains(ctx)
	if err != nil {
		return nil, listedAt, err
	}
	rts, err := bulkRuntimes(ctx, src)
	if err != nil {
		return nil, listedAt, err
	}
	obs, err = rd.read(ctx, src, doms, func(_ context.Context, d hypervisor.Domain) (hypervisor.Domain, *vminfo.Runtime, error) {
		if rt, ok := rts[d.UUID]; ok {
			return d, &rt, nil
		}
		return d, nil, nil // defined since Runtimes answered: asked one by one
	})
	return obs, listedAt, err
}

// Names reads the named domains, in order; a name that does not exist
// comes back Gone. Many names share one listing and bulk runtimes; a few
// are looked up one by one.
func (rd Reader) Names(ctx context.Context, src Source, names []string) ([]Observation, error) {
	if len(names) >= rd.bulkAt() {
		if _, ok := src.(RuntimeLister); ok {
			return rd.namesBulk(ctx, src, names)
		}
	}
	if snap, ok := src.(Snapshotter); ok {
		return rd.namesBySnapshot(ctx, snap, names)
	}
	doms := named(names)
	return rd.read(ctx, src, doms, func(ctx context.Context, d hypervisor.Domain) (hypervisor.Domain, *vminfo.Runtime, error) {
		d, err := src.LookupDomain(ctx, d.Name)
		return d, nil, err
	})
}

func (rd Reader) namesBulk(ctx context.Context, src Source, names []string) ([]Observation, error) {
	all, err := src.ListDomains(ctx)
	if err != nil {
		return nil, err
	}
	rts, err := bulkRuntimes(ctx, src)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]hypervisor.Domain, len(all))
	for _, d := range all {
		byName[d.Name] = d
	}
	doms := named(names)
	return rd.read(ctx, src, doms, func(_ context.Context, d hypervisor.Domain) (hypervisor.Domain, *vminfo.Runtime, error) {
		found, ok := byName[d.Name]
		if !ok {
			return d, nil, hypervisor.ErrDomainNotFound
		}
		if rt, ok := rts[found.UUID]; ok {
			return found, &rt, nil
		}
		return found, nil, nil
	})
}

// Started reads a domain the caller has just started from its definition,
// whose runtime rt it therefore knows: only the persistent definition is
// asked (one call), and nothing is pending (the domain booted what it
// runs). It saves an apply the five other calls of a refresh's read.
func (rd Reader) Started(ctx context.Context, src Source, d hypervisor.Domain, rt vminfo.Runtime) (Observation, error) {
	return Reader{Workers: rd.Workers}.readOne(ctx, src, d, func(context.Context, hypervisor.Domain) (hypervisor.Domain, *vminfo.Runtime, error) {
		return d, &rt, nil
	})
}

// namesBySnapshot reads each name in one bounded call (lookup, both
// definitions and runtime), the cheapest path for one VM's refresh.
func (rd Reader) namesBySnapshot(ctx context.Context, src Snapshotter, names []string) ([]Observation, error) {
	return parallel(ctx, rd.workers(), len(names), func(ctx context.Context, i int) (Observation, error) {
		o := Observation{Name: names[i]}
		snap, err := src.Snapshot(ctx, hypervisor.Domain{Name: names[i]})
		o.At = time.Now()
		if err != nil {
			return o.failed(ctx, err)
		}
		active := ""
		if rd.Pending {
			active = snap.LiveXML
		}
		return o.parsed(snap.Domain, snap.InactiveXML, active, snap.Runtime), nil
	})
}

// named is the domains to look up by name.
func named(names []string) []hypervisor.Domain {
	doms := make([]hypervisor.Domain, len(names))
	for i, n := range names {
		doms[i] = hypervisor.Domain{Name: n}
	}
	return doms
}

func bulkRuntimes(ctx context.Context, src Source) (map[string]vminfo.Runtime, error) {
	if rl, ok := src.(RuntimeLister); ok {
		return rl.Runtimes(ctx)
	}
	return nil, nil
}

// resolver completes a domain before it is read: it may look it up, and
// may already know its runtime facts (nil: ask libvirt).
type resolver func(context.Context, hypervisor.Domain) (hypervisor.Domain, *vminfo.Runtime, error)

// read reads doms in parallel after resolve, keeping their order.
func (rd Reader) read(ctx context.Context, src Source, doms []hypervisor.Domain, resolve resolver) ([]Observation, error) {
	return parallel(ctx, rd.workers(), len(doms), func(ctx context.Context, i int) (Observation, error) {
		return rd.readOne(ctx, src, doms[i], resolve)
	})
}

// readOne reads one domain's persistent definition and runtime facts (and
// its live definition when Pending is asked and it runs).
func (rd Reader) readOne(ctx context.Context, src Source, d hypervisor.Domain, resolve resolver) (Observation, error) {
	o := Observation{Name: d.Name}
	d, known, err := resolve(ctx, d)
	var inactive, active string
	var rt vminfo.Runtime
	if err == nil {
		inactive, err = src.DomainXML(ctx, d, true)
	}
	switch {
	case err != nil:
	case known != nil:
		rt = *known
	default:
		rt, err = src.Runtime(ctx, d)
	}
	if err == nil && rd.Pending && vminfo.Active(rt.State) {
		active, err = src.DomainXML(ctx, d, false)
	}
	o.At = time.Now()
	if err != nil {
		return o.failed(ctx, err)
	}
	return o.parsed(d, inactive, active, rt), nil
}

// failed sorts a read error: not-found is an answer (Gone); the connection
// or the caller giving up fails the whole read; anything else is a problem
// of this one domain, kept on it so one bad domain never fails a host.
func (o Observation) failed(ctx context.Context, err error) (Observation, error) {
	switch {
	case hypervisor.IsNotFound(err):
		o.Gone = true
		return o, nil
	case connectionLevel(ctx, err):
		return o, err
	}
	o.Err = err
	return o, nil
}

// parsed turns the definitions into a Live (or an Err on this domain).
func (o Observation) parsed(d hypervisor.Domain, inactive, active string, rt vminfo.Runtime) Observation {
	info, err := vminfo.FromXML(inactive, rt)
	if err != nil {
		o.Err = err
		return o
	}
	live := &Live{Domain: d, Info: info, CreateMarked: hypervisor.HasCreateMark(inactive)}
	if active != "" {
		running, err := vminfo.FromXML(active, rt)
		if err != nil {
			o.Err = err
			return o
		}
		live.Pending = info.PendingRestart(running)
	}
	if live.Unmanaged, err = vminfo.Unmanaged(inactive); err != nil {
		o.Err = err
		return o
	}
	o.Live = live
	return o
}

// connectionLevel reports errors that say nothing about one domain: the
// connection or the caller gave up.
func connectionLevel(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, hypervisor.ErrConnectionLost) ||
		errors.Is(err, hypervisor.ErrTimeout) || errors.Is(err, hypervisor.ErrPoolClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// parallel runs fn for 0..n-1 with at most workers at once and returns the
// results in order. The first error cancels the rest and is returned.
func parallel[T any](ctx context.Context, workers, n int, fn func(context.Context, int) (T, error)) ([]T, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]T, n)
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				v, err := fn(ctx, i)
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					continue
				}
				out[i] = v
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
