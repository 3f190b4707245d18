package datasources

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// What the data sources share: provider data, libvirt state names, and the
// live side of VM rows (which domains exist, their state or definition),
// fetched per host with bounded concurrency.

// stateMissing is the state of a VM whose row exists but whose domain does
// not, on a host that answered.
const stateMissing = "missing"

// stateFilterValues are what the `state` filter of virtumancer_vms accepts.
var stateFilterValues = append(append([]string{}, vminfo.StateNames...), stateMissing)

// liveWorkers bounds the concurrent RPCs per host: go-libvirt multiplexes
// calls over one connection, and a few in flight hide the round trips
// without flooding the daemon.
const liveWorkers = 8

// liveVM is what a reachable host says about one row's domain.
type liveVM struct {
	Exists bool
	Domain hypervisor.Domain
	State  int
	// Info is the domain's configuration (persistent definition plus
	// runtime); set only when definitions were asked for.
	Info vminfo.VMInfo
	Err  error // reading this one domain failed (the host answered)
}

// hostLive is the live side of one host's rows.
type hostLive struct {
	HostID string
	Err    error // the host could not be reached: VMs is nil
	VMs    map[string]liveVM
}

// fetchLive asks every host that has rows in vms about their domains, the
// hosts in parallel. With definitions it reads each domain's persistent
// definition and runtime (for drift); otherwise only its state.
func fetchLive(ctx context.Context, d *providerdata.Data, vms []store.VM, definitions bool) map[string]*hostLive {
	byHost := map[string][]string{}
	for _, vm := range vms {
		byHost[vm.HostID] = append(byHost[vm.HostID], vm.Name)
	}
	out := make(map[string]*hostLive, len(byHost))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for hostID, names := range byHost {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hl := fetchHost(ctx, d, hostID, names, definitions)
			mu.Lock()
			out[hostID] = hl
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func fetchHost(ctx context.Context, d *providerdata.Data, hostID string, names []string, definitions bool) *hostLive {
	hl := &hostLive{HostID: hostID}
	conn, _, err := d.HostConn(ctx, hostID)
	if err != nil {
		hl.Err = err
		return hl
	}
	doms, err := conn.ListDomains(ctx)
	if err != nil {
		hl.Err = err
		return hl
	}
	byName := make(map[string]hypervisor.Domain, len(doms))
	for _, dom := range doms {
		byName[dom.Name] = dom
	}

	hl.VMs = make(map[string]liveVM, len(names))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, liveWorkers)
	for _, name := range names {
		dom, ok := byName[name]
		if !ok {
			hl.VMs[name] = liveVM{}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			lv := readDomain(ctx, conn, dom, definitions)
			mu.Lock()
			hl.VMs[name] = lv
			mu.Unlock()
		}()
	}
	wg.Wait()
	return hl
}

func readDomain(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, definitions bool) liveVM {
	lv := liveVM{Exists: true, Domain: dom}
	if !definitions {
		lv.State, lv.Err = conn.State(ctx, dom)
		lv.notFoundIsGone()
		return lv
	}
	rt, err := conn.Runtime(ctx, dom)
	if err == nil {
		var doc string
		if doc, err = conn.DomainXML(ctx, dom, true); err == nil {
			lv.Info, err = vminfo.FromXML(doc, rt)
		}
	}
	lv.State, lv.Err = rt.State, err
	lv.notFoundIsGone()
	return lv
}

// notFoundIsGone: a domain undefined between the listing and the read is
// simply gone.
func (lv *liveVM) notFoundIsGone() {
	if errors.Is(lv.Err, hypervisor.ErrDomainNotFound) {
		*lv = liveVM{}
	}
}

// unreachableWarning is the one warning per host that did not answer.
func unreachableWarning(diags *diag.Diagnostics, hostID string, err error, consequence string) {
	diags.AddWarning("Host unreachable",
		fmt.Sprintf("Host %q could not be asked about its domains: %s. %s", hostID, err, consequence))
}

// sortedUnreachable lists the hosts that did not answer, sorted.
func sortedUnreachable(live map[string]*hostLive) []string {
	out := []string{}
	for id, hl := range live {
		if hl.Err != nil {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// corruptRowWarning names a row whose config_json cannot be read.
func corruptRowWarning(diags *diag.Diagnostics, vm store.VM, consequence string) {
	diags.AddWarning("Unreadable config_json",
		fmt.Sprintf("VM %q on host %q (row %d) has a config_json that cannot be read: %s. %s "+
			"Import the VM with a virtumancer_vm resource (or fix the row in Virtumancer) to record its configuration again.",
			vm.Name, vm.HostID, vm.ID, vm.ConfigErr, consequence))
}
