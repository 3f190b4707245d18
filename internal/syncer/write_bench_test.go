package syncer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// BenchmarkWriteFull times only the store side of a full sync (no
// libvirt) of 1,000 and 5,000 domains: first (every row inserted), resync
// (rows in step, the same store: its parse memos warm, as in the daemon)
// and resync-cold (the store opened anew, as `virtumancer-sync --once` is).
// As in a full sync, the host's rows are read first (ReadHostRows, which
// the engine does while it reads libvirt): that read is untimed, reported
// apart as preread-cpu-ms. cpu-ms is the process's CPU time per write:
// steadier than the wall time on a shared machine.
func BenchmarkWriteFull(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		obs := benchObservations(n)
		for _, phase := range []string{"first", "resync", "resync-cold"} {
			b.Run(strconv.Itoa(n)+"/"+phase, func(b *testing.B) { benchWriteFull(b, obs, phase) })
		}
	}
}

func benchObservations(n int) []observe.Observation {
	obs := make([]observe.Observation, n)
	for i := range obs {
		name := fmt.Sprintf("vm-%05d", i)
		doc, _ := vminfo.BuildXML(vminfo.Spec{Name: name, DomainType: "test", MemoryKiB: 65536, Vcpu: 1, Graphics: "none"})
		info, _ := vminfo.FromXML(doc, vminfo.Runtime{State: 5, Persistent: true})
		obs[i] = observe.Observation{Name: name, Live: &observe.Live{Info: info}, At: time.Now()}
	}
	// In no particular order, as libvirt lists them.
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { obs[i], obs[j] = obs[j], obs[i] })
	return obs
}

func benchWriteFull(b *testing.B, obs []observe.Observation, phase string) {
	ctx := context.Background()
	h := store.Host{ID: "h", URI: "test:///default"}
	write := func(st *store.Store, pre *store.HostRows) {
		if _, err := NewEngine(st, nil).writeFull(ctx, h, obs, time.Now(), store.HostStatus{HostID: "h"}, pre); err != nil {
			b.Fatal(err)
		}
	}
	open := func(path string) *store.Store {
		st, err := store.Open(path, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	var cpu, preCPU time.Duration
	for range b.N {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "v.db")
		st := open(path)
		if err := st.CreateHost(ctx, h); err != nil {
			b.Fatal(err)
		}
		if phase != "first" {
			write(st, nil)
		}
		if phase == "resync-cold" {
			_ = st.Close()
			st = open(path)
		}
		c0 := cpuTime(b)
		pre, err := st.ReadHostRows(ctx, h.ID)
		if err != nil {
			b.Fatal(err)
		}
		c1 := cpuTime(b)
		preCPU += c1 - c0
		c0 = c1
		b.StartTimer()
		write(st, &pre)
		b.StopTimer()
		cpu += cpuTime(b) - c0
		_ = st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(preCPU.Microseconds())/1000/float64(b.N), "preread-cpu-ms/op")
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
