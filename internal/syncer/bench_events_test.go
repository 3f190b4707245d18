package syncer_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/go-hclog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// eventHostURIs are 20 distinct host URIs that all open the daemon's
// test:///default: both schemes the parser takes for it, with and without
// socket= (the same socket by its two paths, /var/run being /run) and mode=,
// in both parameter orders. The pool keys connections by the URI text, so
// each host gets its own connection and its own event subscription.
func eventHostURIs() []string {
	var queries []string
	queries = append(queries, "", "?mode=legacy", "?mode=auto")
	for _, sock := range []string{"/var/run/libvirt/libvirt-sock", "/run/libvirt/libvirt-sock"} {
		queries = append(queries, "?socket="+sock)
		for _, mode := range []string{"legacy", "auto"} {
			queries = append(queries, "?socket="+sock+"&mode="+mode, "?mode="+mode+"&socket="+sock)
		}
	}
	var uris []string
	for _, scheme := range []string{"test", "test+unix"} {
		for _, q := range queries {
			uris = append(uris, scheme+":///default"+q)
		}
	}
	return uris[:20]
}

// BenchmarkEventToRow20Hosts is BenchmarkEventToRow with 20 host rows
// (eventHostURIs) on one engine: 1,000 events (500 domains defined, then
// undefined), one at a time. The 20 hosts share one driver, so each event
// reaches every host and lands in 20 rows: "p99-ms" is the latency until
// all 20 are committed, "p99-own-ms" until the row of the host the event
// is assigned to round-robin (event i -> host i%20).
func BenchmarkEventToRow20Hosts(b *testing.B) {
	requireDaemon(b)
	l, err := acctest.Dial(testURI)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = l.Disconnect() }()
	var all, own []time.Duration
	for range b.N {
		a, o := eventRun20(b, l, 1000)
		all, own = append(all, a...), append(own, o...)
	}
	slices.Sort(all)
	slices.Sort(own)
	b.ReportMetric(ms(all[len(all)/2]), "p50-ms")
	b.ReportMetric(ms(all[len(all)*99/100]), "p99-ms")
	b.ReportMetric(ms(all[len(all)-1]), "max-ms")
	b.ReportMetric(ms(own[len(own)*99/100]), "p99-own-ms")
}

type hostCommit struct {
	host  string
	names []string
}

func eventRun20(b *testing.B, l *libvirt.Libvirt, events int) (all, own []time.Duration) {
	b.StopTimer()
	uris := eventHostURIs()
	hosts := make([]store.Host, len(uris))
	for i, u := range uris {
		hosts[i] = store.Host{ID: fmt.Sprintf("ev%02d", i), URI: u}
	}
	e := newEngine(b, syncertest.NewStore(b, hosts...))
	e.Logger = hclog.NewNullLogger()
	committed := make(chan hostCommit, 4096)
	e.OnCommit = func(host string, names []string) { committed <- hostCommit{host, names} }
	openEngine(b, e)
	waitReady(b, e, 60*time.Second)
	drain20(committed)

	prefix := syncertest.Name("ev20")
	doms := make([]libvirt.Domain, events/2)
	b.Cleanup(func() {
		for _, d := range doms {
			_ = l.DomainUndefine(d)
		}
	})
	b.StartTimer()
	for i := range events {
		k := i % len(doms)
		name := fmt.Sprintf("%s-%04d", prefix, k)
		var err error
		if i < len(doms) {
			doc, _ := vminfo.BuildXML(vminfo.Spec{Name: name, DomainType: "test", MemoryKiB: 65536, Vcpu: 1, Graphics: "none"})
			doms[k], err = l.DomainDefineXML(doc)
		} else {
			err = l.DomainUndefine(doms[k])
		}
		if err != nil {
			b.Fatal(err)
		}
		a, o := waitCommits(b, committed, name, hosts[i%len(hosts)].ID, len(hosts))
		all, own = append(all, a), append(own, o)
	}
	b.StopTimer()
	closeEngine(b, e)
	return all, own
}

// waitCommits waits until hosts distinct hosts committed name and returns
// how long that took and how long until ownHost's commit.
func waitCommits(b *testing.B, ch <-chan hostCommit, name, ownHost string, hosts int) (all, own time.Duration) {
	start := time.Now()
	seen := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for len(seen) < hosts {
		select {
		case c := <-ch:
			if !slices.Contains(c.names, name) || seen[c.host] {
				continue
			}
			seen[c.host] = true
			if c.host == ownHost {
				own = time.Since(start)
			}
		case <-timeout:
			b.Fatalf("commits for %s from %d of %d hosts within 10s", name, len(seen), hosts)
		}
	}
	return time.Since(start), own
}

func drain20(ch <-chan hostCommit) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// TestEventHostURIsAreDistinctAndOpenTheTestDriver checks what
// BenchmarkEventToRow20Hosts relies on: 20 different URI texts (one pool
// connection each) that all open the daemon's test:///default locally.
func TestEventHostURIsAreDistinctAndOpenTheTestDriver(t *testing.T) {
	uris := eventHostURIs()
	if len(uris) != 20 {
		t.Fatalf("got %d URIs, want 20", len(uris))
	}
	seen := map[string]bool{}
	for _, u := range uris {
		if seen[u] {
			t.Errorf("URI %q appears twice", u)
		}
		seen[u] = true
		tg, err := hypervisor.ParseURI("ev", u)
		if err != nil {
			t.Errorf("ParseURI(%q): %v", u, err)
			continue
		}
		if tg.RemoteName != "test:///default" || tg.Transport != "unix" {
			t.Errorf("%q opens %s over %s, want test:///default over unix", u, tg.RemoteName, tg.Transport)
		}
	}
}
