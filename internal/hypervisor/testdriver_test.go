package hypervisor

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

func TestIntegrationTestDriverFacts(t *testing.T) {
	c := connect(t, testURI)
	f, err := c.Facts(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("facts: %+v", f)
	if f.Driver != "TEST" || f.Hostname == "" || f.CPUs <= 0 || f.MemoryKiB == 0 || f.Arch == "" {
		t.Errorf("implausible facts: %+v", f)
	}
	if strings.Count(f.LibvirtVersion, ".") != 2 || f.LibvirtVersion == "0.0.0" {
		t.Errorf("LibvirtVersion = %q, want like 9.0.0", f.LibvirtVersion)
	}
	if f.KVM {
		t.Error("the test driver offers no kvm domains, KVM = true")
	}
}

// logRecorder collects Logger messages.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) log(msg string, kv ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
}

func (r *logRecorder) has(sub string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

func TestIntegrationTestDriverDomainLifecycle(t *testing.T) {
	requireDaemon(t)
	logs := &logRecorder{}
	c, err := newPool(t, Options{Logger: logs.log}).Get(ctx(t), "local", testURI)
	if err != nil {
		t.Fatal(err)
	}
	name := uniqueName("life")
	d := defineTest(t, c, name)
	if d.Name != name || len(d.UUID) != 36 || d.ID != 0 {
		t.Fatalf("defined %+v", d)
	}
	checkLookups(t, c, d)
	checkInactive(t, c, d)

	if err := c.SetAutostart(ctx(t), d, true); err != nil {
		t.Fatal(err)
	}
	if rt, err := c.Runtime(ctx(t), d); err != nil || !rt.Autostart {
		t.Fatalf("after SetAutostart(true): %+v, %v", rt, err)
	}
	checkStartStop(t, c, d)

	if err := c.Undefine(ctx(t), d); err != nil {
		t.Fatal(err)
	}
	if !logs.has("undefine flags refused") {
		t.Error("the test driver accepted every undefine flag: the fallback was not exercised")
	}
	_, err = c.LookupDomain(ctx(t), name)
	checkNotFound(t, err, name)
}

func checkLookups(t *testing.T, c *Conn, d Domain) {
	t.Helper()
	if got, err := c.LookupDomain(ctx(t), d.Name); err != nil || got != d {
		t.Errorf("LookupDomain = %+v, %v; want %+v", got, err, d)
	}
	if got, err := c.LookupDomainByUUID(ctx(t), d.UUID); err != nil || got != d {
		t.Errorf("LookupDomainByUUID = %+v, %v; want %+v", got, err, d)
	}
	list, err := c.ListDomains(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var found, foundRunning bool
	for _, x := range list {
		found = found || x == d
		foundRunning = foundRunning || (x.Name == "test" && x.ID > 0) // the driver's own running domain
	}
	if !found || !foundRunning {
		t.Errorf("ListDomains = %+v: want %s and the running domain 'test'", list, d.Name)
	}
}

func checkInactive(t *testing.T, c *Conn, d Domain) {
	t.Helper()
	x, err := c.DomainXML(ctx(t), d, true)
	if err != nil || !strings.Contains(x, "<name>"+d.Name+"</name>") || !strings.Contains(x, d.UUID) {
		t.Fatalf("DomainXML(inactive) = %q, %v", x, err)
	}
	rt, err := c.Runtime(ctx(t), d)
	rt.CPUTime = 0 // the test driver reports the wall clock as cpu time of a stopped domain
	want := vminfo.Runtime{State: vminfo.StateShutoff, Persistent: true}
	if err != nil || rt != want {
		t.Errorf("Runtime = %+v, %v; want %+v", rt, err, want)
	}
	// Redefining with the UUID updates the same domain.
	redef := strings.Replace(testDomainXML(d.Name), "<name>", "<uuid>"+d.UUID+"</uuid><name>", 1)
	if d2, err := c.DefineXML(ctx(t), redef); err != nil || d2 != d {
		t.Errorf("redefine = %+v, %v; want %+v", d2, err, d)
	}
}

func checkStartStop(t *testing.T, c *Conn, d Domain) {
	t.Helper()
	started, err := c.Start(ctx(t), d)
	if err != nil || started.ID <= 0 || started.UUID != d.UUID {
		t.Fatalf("Start = %+v, %v", started, err)
	}
	if again, err := c.Start(ctx(t), d); err != nil || again.ID != started.ID {
		t.Errorf("starting a running domain: %+v, %v", again, err)
	}
	if st, err := c.State(ctx(t), d); err != nil || st != vminfo.StateRunning {
		t.Errorf("State = %d, %v; want running", st, err)
	}
	if rt, err := c.Runtime(ctx(t), d); err != nil || rt.ID != started.ID || rt.State != vminfo.StateRunning {
		t.Errorf("Runtime of running domain = %+v, %v", rt, err)
	}
	addrs, err := c.InterfaceAddresses(ctx(t), d, "lease")
	t.Logf("InterfaceAddresses(lease) on the test driver: %v, %v", addrs, err)
	forced, err := c.Shutdown(ctx(t), d, 2*time.Second)
	if err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	t.Logf("test driver shutdown forced=%t", forced)
	if st, err := c.State(ctx(t), d); err != nil || st != vminfo.StateShutoff {
		t.Errorf("State after Shutdown = %d, %v; want shut off", st, err)
	}
	if forced, err := c.Shutdown(ctx(t), d, time.Second); err != nil || forced {
		t.Errorf("Shutdown of a stopped domain = %t, %v; want false, nil", forced, err)
	}
	if err := c.Destroy(ctx(t), d); err != nil {
		t.Errorf("Destroy of a stopped domain: %v", err)
	}
}

func checkNotFound(t *testing.T, err error, name string) {
	t.Helper()
	if !errors.Is(err, ErrDomainNotFound) || !IsNotFound(err) {
		t.Fatalf("err = %v, want ErrDomainNotFound", err)
	}
	var le libvirt.Error
	if !errors.As(err, &le) || le.Code != uint32(libvirt.ErrNoDomain) {
		t.Errorf("err = %v does not carry libvirt's ERR_NO_DOMAIN", err)
	}
	for _, w := range []string{`host "local"`, testURI, name} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %q, want it to mention %q", err, w)
		}
	}
}

func TestIntegrationTestDriverErrors(t *testing.T) {
	c := connect(t, testURI)
	_, err := c.DefineXML(ctx(t), "<domain type='test'><name>hv-bad</name><memory>x</memory></domain>")
	if err == nil || !strings.Contains(err.Error(), `define domain "hv-bad"`) || !strings.Contains(err.Error(), `host "local"`) {
		t.Errorf("defining bad XML: %v", err)
	}
	if _, err := c.LookupDomainByUUID(ctx(t), "not-a-uuid"); err == nil || IsNotFound(err) {
		t.Errorf("bad uuid: %v", err)
	}
	_, err = c.LookupDomainByUUID(ctx(t), "00000000-0000-0000-0000-00000000beef")
	if !errors.Is(err, ErrDomainNotFound) {
		t.Errorf("missing uuid: %v", err)
	}
	if _, err := c.InterfaceAddresses(ctx(t), Domain{Name: "test"}, "dhcp"); err == nil || !strings.Contains(err.Error(), "lease, agent or arp") {
		t.Errorf("bad address source: %v", err)
	}
}

func TestIntegrationTestDriverEvents(t *testing.T) {
	c := connect(t, testURI)
	events, err := c.LifecycleEvents(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	// A second subscriber on the same connection (libvirtd would refuse a
	// second registration) gets the same events; a third that leaves early
	// does not hold anyone up.
	second, err := c.LifecycleEvents(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	early, cancel := contextWithCancel(t)
	if _, err := c.LifecycleEvents(early); err != nil {
		t.Fatal(err)
	}
	cancel()
	name := uniqueName("ev")
	d := defineTest(t, c, name)
	expectEvent(t, events, name, "defined")
	expectEvent(t, second, name, "defined")
	if _, err := c.Start(ctx(t), d); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, name, "started")
	if err := c.Destroy(ctx(t), d); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, name, "stopped")
	if err := c.Undefine(ctx(t), d); err != nil {
		t.Fatal(err)
	}
	ev := expectEvent(t, events, name, "undefined")
	if ev.UUID != d.UUID || ev.Time.IsZero() {
		t.Errorf("event %+v: want uuid %s and a time", ev, d.UUID)
	}
}

// expectEvent waits up to 1s for an event of typ about name; other
// domains' events (parallel tests share the driver) are skipped.
func expectEvent(t *testing.T, events <-chan Event, name, typ string) Event {
	t.Helper()
	deadline := time.After(time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("event channel closed while waiting for %s %s", name, typ)
			}
			if ev.Name == name && ev.Type == typ {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %q event for %s within 1s", typ, name)
		}
	}
}

func TestIntegrationEventsCloseWithContextAndConnection(t *testing.T) {
	c := connect(t, testURI)
	cctx, cancel := contextWithCancel(t)
	events, err := c.LifecycleEvents(cctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	expectClosed(t, events, "context cancelled")

	events, err = c.LifecycleEvents(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := c.s.client(ctx(t))
	_ = cl.l.Disconnect()
	expectClosed(t, events, "connection dropped")

	// Subscribing again re-dials and events flow.
	events, err = c.LifecycleEvents(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	name := uniqueName("resub")
	defineTest(t, c, name)
	expectEvent(t, events, name, "defined")
}

func expectClosed(t *testing.T, events <-chan Event, why string) {
	t.Helper()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("event channel still open 2s after %s", why)
		}
	}
}

func TestIntegrationTestDriverStorage(t *testing.T) {
	c := connect(t, testURI)
	const pool = "default-pool"
	name := uniqueName("vol") + ".img"
	v, err := c.CreateVolume(ctx(t), VolumeSpec{Pool: pool, Name: name, Format: "raw", CapacityBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.DeleteVolume(ctx(t), v) })
	if v.Name != name || v.Pool != pool || v.CapacityBytes != 1<<20 || v.Path == "" {
		t.Errorf("created %+v", v)
	}
	if got, err := c.LookupVolume(ctx(t), pool, name); err != nil || got.Path != v.Path {
		t.Errorf("LookupVolume = %+v, %v", got, err)
	}
	if _, err := c.CreateVolume(ctx(t), VolumeSpec{Pool: pool, Name: name, Format: "raw", CapacityBytes: 1}); !errors.Is(err, ErrVolumeExists) {
		t.Errorf("creating it twice: %v, want ErrVolumeExists", err)
	}
	// The test driver lacks virStorageVolUpload: the error must say so.
	err = c.UploadVolume(ctx(t), v, bytes.NewReader(make([]byte, 4096)), 4096)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "upload 4096 bytes") {
		t.Errorf("upload on the test driver: %v, want ErrUnsupported", err)
	}
	if err := c.DeleteVolume(ctx(t), v); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LookupVolume(ctx(t), pool, name); !errors.Is(err, ErrVolumeNotFound) || !IsNotFound(err) {
		t.Errorf("after delete: %v, want ErrVolumeNotFound", err)
	}
	if _, err := c.LookupVolume(ctx(t), "hv-no-such-pool", name); !errors.Is(err, ErrPoolNotFound) {
		t.Errorf("missing pool: %v, want ErrPoolNotFound", err)
	}
	if _, err := c.CreateVolume(ctx(t), VolumeSpec{Pool: pool, Name: "x", Format: "vmdk", CapacityBytes: 1}); err == nil ||
		!strings.Contains(err.Error(), "qcow2 or raw") {
		t.Errorf("bad format: %v", err)
	}
}
