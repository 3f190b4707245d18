package observe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// TestIntegration* tests need the real libvirtd (scripts/testenv.sh) and
// fail, never skip, when it does not answer.

func connect(t *testing.T) *hypervisor.Conn {
	t.Helper()
	c, err := net.DialTimeout("unix", hypervisor.DefaultSocket, 5*time.Second)
	if err != nil {
		t.Fatalf("libvirtd does not answer on %s: %v; run `sudo scripts/testenv.sh`", hypervisor.DefaultSocket, err)
	}
	_ = c.Close()
	pool := hypervisor.NewPool(hypervisor.Options{})
	t.Cleanup(func() { _ = pool.Close() })
	conn, err := pool.Get(context.Background(), "obs", "test:///default")
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func define(t *testing.T, c *hypervisor.Conn, name string, memMiB int) {
	t.Helper()
	xml := fmt.Sprintf(`<domain type="test"><name>%s</name><memory unit="MiB">%d</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`, name, memMiB)
	d, err := c.DefineXML(context.Background(), xml)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Undefine(context.Background(), d) })
}

func uniq(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "obs-" + hex.EncodeToString(b)
}

// The bulk path (listing + bulk runtimes), the per-name path and the full
// listing read the same domains into the same VMInfo, and a name with no
// domain comes back Gone.
func TestIntegrationReadPathsAgree(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	p := uniq(t)
	var names []string
	for i := range 10 {
		n := fmt.Sprintf("%s-%d", p, i)
		define(t, c, n, 64+i)
		names = append(names, n)
	}
	asked := append(append([]string{}, names...), p+"-none")
	bulk, err := Reader{BulkAt: 2}.Names(ctx, c, asked)
	if err != nil {
		t.Fatal(err)
	}
	single, err := Reader{BulkAt: 1000}.Names(ctx, c, asked)
	if err != nil {
		t.Fatal(err)
	}
	all, listedAt, err := Reader{}.All(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if listedAt.IsZero() || time.Since(listedAt) > time.Minute {
		t.Errorf("listedAt = %v", listedAt)
	}
	byName := map[string]Observation{}
	for _, o := range all {
		byName[o.Name] = o
	}
	for i, n := range names {
		b, s, a := bulk[i], single[i], byName[n]
		if b.Live == nil || s.Live == nil || a.Live == nil {
			t.Fatalf("%s: bulk %+v single %+v all %+v: want all present", n, b, s, a)
		}
		if b.Live.Info.Memory != uint64(64+i)*1024 || b.Live.Info.UUID != s.Live.Info.UUID || a.Live.Info.UUID != s.Live.Info.UUID {
			t.Errorf("%s: paths disagree: bulk %+v single %+v all %+v", n, b.Live.Info, s.Live.Info, a.Live.Info)
		}
		if b.Live.Info.State != s.Live.Info.State || b.Live.Info.Persistent != s.Live.Info.Persistent {
			t.Errorf("%s: runtime differs between bulk and single", n)
		}
	}
	if last := len(asked) - 1; !bulk[last].Gone || !single[last].Gone {
		t.Errorf("a name with no domain: bulk %+v single %+v, want Gone", bulk[last], single[last])
	}
}

// Check classifies rows of a reachable and an unreachable host in one call.
func TestIntegrationCheckClassifiesHosts(t *testing.T) {
	c := connect(t)
	p := uniq(t)
	define(t, c, p+"-a", 64)
	rows := []store.VM{
		{ID: 1, HostID: "up", Name: p + "-a"},
		{ID: 2, HostID: "up", Name: p + "-gone"},
		{ID: 3, HostID: "down", Name: p + "-x"},
	}
	obs, err := Reader{}.Names(context.Background(), c, []string{p + "-a"})
	if err != nil {
		t.Fatal(err)
	}
	rows[0].Recorded = obs[0].Live.Info
	rows[0].Recorded.Memory *= 2 // recorded differently: drift
	dial := func(_ context.Context, hostID string) (Source, error) {
		if hostID == "down" {
			return nil, fmt.Errorf("host %q: connection refused", hostID)
		}
		return c, nil
	}
	res, failures := Reader{}.Check(context.Background(), rows, dial)
	want := []Verdict{Drifted, Missing, HostUnreachable}
	for i, r := range res {
		if r.Verdict != want[i] || r.Row == nil || r.Row.ID != rows[i].ID {
			t.Errorf("row %d: verdict %s (row %v), want %s", i, r.Verdict, r.Row, want[i])
		}
	}
	if len(failures) != 1 || failures[0].HostID != "down" {
		t.Errorf("failures = %+v, want host down once", failures)
	}
}
