package observe

import (
	"context"
	"sync"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// Dial returns the Source of a host, or why the host cannot be asked.
type Dial func(ctx context.Context, hostID string) (Source, error)

// HostFailure is a host Check could not ask; its rows are HostUnreachable.
type HostFailure struct {
	HostID string
	Err    error
}

// Check classifies store rows of any number of hosts against their live
// domains: each host is asked once, all hosts in parallel, and only about
// the domains its rows name (domains nobody recorded cost nothing). The
// results are in the order of rows; failures list each unreachable host once.
func (rd Reader) Check(ctx context.Context, rows []store.VM, dial Dial) (results []Result, failures []HostFailure) {
	byHost := map[string][]int{}
	var hosts []string
	for i, r := range rows {
		if _, ok := byHost[r.HostID]; !ok {
			hosts = append(hosts, r.HostID)
		}
		byHost[r.HostID] = append(byHost[r.HostID], i)
	}
	results = make([]Result, len(rows))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, hostID := range hosts {
		idx := byHost[hostID]
		wg.Add(1)
		go func() {
			defer wg.Done()
			hostRows := make([]store.VM, len(idx))
			for j, i := range idx {
				hostRows[j] = rows[i]
			}
			res, err := rd.checkHost(ctx, hostID, hostRows, dial)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, HostFailure{HostID: hostID, Err: err})
			}
			for j, i := range idx {
				results[i] = res[j]
				results[i].Row = &rows[i]
			}
		}()
	}
	wg.Wait()
	return results, failures
}

func (rd Reader) checkHost(ctx context.Context, hostID string, rows []store.VM, dial Dial) ([]Result, error) {
	src, err := dial(ctx, hostID)
	if err != nil {
		return Unreachable(hostID, rows, err), err
	}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	obs, err := rd.Names(ctx, src, names)
	if err != nil {
		return Unreachable(hostID, rows, err), err
	}
	return ClassifyRows(hostID, rows, obs), nil
}
