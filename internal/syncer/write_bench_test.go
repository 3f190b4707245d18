package syncer

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// BenchmarkWriteFull1000 times only the store side of a full sync of 1,000
// domains (no libvirt): the first sync (every row inserted) and a resync
// (rows exist; statuses rewritten).
func BenchmarkWriteFull1000(b *testing.B) {
	obs := make([]observe.Observation, 1000)
	for i := range obs {
		name := fmt.Sprintf("vm-%04d", i)
		doc, _ := vminfo.BuildXML(vminfo.Spec{Name: name, DomainType: "test", MemoryKiB: 65536, Vcpu: 1, Graphics: "none"})
		info, _ := vminfo.FromXML(doc, vminfo.Runtime{State: 5, Persistent: true})
		obs[i] = observe.Observation{Name: name, Live: &observe.Live{Info: info}, At: time.Now()}
	}
	for _, phase := range []string{"first", "resync"} {
		b.Run(phase, func(b *testing.B) {
			ctx := context.Background()
			h := store.Host{ID: "h", URI: "test:///default"}
			for range b.N {
				b.StopTimer()
				st, err := store.Open(filepath.Join(b.TempDir(), "v.db"), store.Options{})
				if err != nil {
					b.Fatal(err)
				}
				_ = st.CreateHost(ctx, h)
				e := NewEngine(st, nil)
				if phase == "resync" {
					if _, err := e.writeFull(ctx, h, obs, time.Now(), store.HostStatus{HostID: "h"}); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				if _, err := e.writeFull(ctx, h, obs, time.Now(), store.HostStatus{HostID: "h"}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_ = st.Close()
				b.StartTimer()
			}
		})
	}
}
