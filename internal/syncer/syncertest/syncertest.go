// Package syncertest holds what the sync engine's tests and the
// virtumancer-sync command's tests share: domains changed behind the
// engine's back over a raw libvirt connection (as users change them), and
// polling the store until a change shows. It is imported by tests only.
package syncertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// URIs of the two local drivers.
const (
	TestURI = libvirttest.TestURI
	QemuURI = libvirttest.QemuURI
)

// EventDeadline is SPEC 5's promise: a domain defined, undefined, started
// or stopped shows in the store within one second.
const EventDeadline = time.Second

// Dial returns a raw connection to uri, closed at the end of the test. A
// missing libvirtd fails the test with the command that fixes it.
func Dial(t testing.TB, uri string) *libvirt.Libvirt {
	t.Helper()
	return libvirttest.Connect(t, uri)
}

var seq atomic.Int64

// Name is unique across test binaries sharing the daemon's test driver,
// with the sync- prefix the conventions give this package's tests.
func Name(what string) string {
	return fmt.Sprintf("sync-%s-%d-%d", what, os.Getpid(), seq.Add(1))
}

// NewUUID returns a random version 4 UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// VM is a test domain on one driver.
type VM struct {
	Spec vminfo.Spec

	t   testing.TB
	l   *libvirt.Libvirt
	dom libvirt.Domain
}

// DomainType is what each local driver accepts without /dev/kvm.
func DomainType(uri string) string {
	if uri == TestURI {
		return "test"
	}
	return "qemu"
}

// DefineVM defines a small domain on l and removes it at the end of the test.
func DefineVM(t testing.TB, l *libvirt.Libvirt, uri, name string, memMiB uint64) *VM {
	t.Helper()
	v := &VM{t: t, l: l, Spec: vminfo.Spec{
		Name: name, UUID: NewUUID(), DomainType: DomainType(uri),
		MemoryKiB: memMiB * 1024, Vcpu: 1, Graphics: "none",
	}}
	v.define()
	t.Cleanup(v.Remove)
	return v
}

// Name is the domain's name.
func (v *VM) Name() string { return v.Spec.Name }

func (v *VM) define() {
	v.t.Helper()
	doc, err := vminfo.BuildXML(v.Spec)
	if err != nil {
		v.t.Fatalf("build xml of %s: %v", v.Spec.Name, err)
	}
	if v.dom, err = v.l.DomainDefineXML(doc); err != nil {
		v.t.Fatalf("define %s: %v", v.Spec.Name, err)
	}
}

// SetMemory redefines the domain (same UUID, so libvirt updates it) with
// a new memory size.
func (v *VM) SetMemory(memMiB uint64) {
	v.t.Helper()
	v.Spec.MemoryKiB = memMiB * 1024
	v.define()
}

// Redefine defines the domain again under a new UUID (after Undefine).
func (v *VM) Redefine(memMiB uint64) {
	v.t.Helper()
	v.Spec.UUID = NewUUID()
	v.SetMemory(memMiB)
}

func (v *VM) do(what string, fn func(libvirt.Domain) error) {
	v.t.Helper()
	if err := fn(v.dom); err != nil {
		v.t.Fatalf("%s %s: %v", what, v.Spec.Name, err)
	}
}

// Lifecycle operations; each fails the test on error.
func (v *VM) Start()    { v.t.Helper(); v.do("start", v.l.DomainCreate) }
func (v *VM) Destroy()  { v.t.Helper(); v.do("destroy", v.l.DomainDestroy) }
func (v *VM) Suspend()  { v.t.Helper(); v.do("suspend", v.l.DomainSuspend) }
func (v *VM) Resume()   { v.t.Helper(); v.do("resume", v.l.DomainResume) }
func (v *VM) Undefine() { v.t.Helper(); v.do("undefine", v.l.DomainUndefine) }

// SetAutostart changes the domain's autostart flag, which libvirt reports
// with no lifecycle event.
func (v *VM) SetAutostart(on bool) {
	v.t.Helper()
	v.do("set autostart of", func(d libvirt.Domain) error { return v.l.DomainSetAutostart(d, int32(b2i(on))) })
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Remove deletes the domain whatever its state; errors mean it is gone.
func (v *VM) Remove() {
	d, err := v.l.DomainLookupByName(v.Spec.Name)
	if err != nil {
		return
	}
	_ = v.l.DomainDestroy(d)
	_ = v.l.DomainUndefine(d)
}

// DefineMany defines n test-driver domains named prefix-00000... over a
// few connections at once (one connection is round-trip bound), and
// undefines them at the end of the test.
func DefineMany(t testing.TB, prefix string, n int) []string {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	t.Cleanup(func() { UndefineMany(t, names) })
	onDomains(t, names, func(l *libvirt.Libvirt, name string) error {
		doc, err := vminfo.BuildXML(vminfo.Spec{Name: name, DomainType: "test", MemoryKiB: 65536, Vcpu: 1, Graphics: "none"})
		if err == nil {
			_, err = l.DomainDefineXML(doc)
		}
		return err
	})
	return names
}

// UndefineMany undefines test-driver domains; absent ones are fine.
func UndefineMany(t testing.TB, names []string) {
	t.Helper()
	onDomains(t, names, func(l *libvirt.Libvirt, name string) error {
		d, err := l.DomainLookupByName(name)
		if libvirt.IsNotFound(err) {
			return nil // already gone
		}
		if err == nil {
			err = l.DomainUndefine(d)
		}
		return err
	})
}

func onDomains(t testing.TB, names []string, fn func(*libvirt.Libvirt, string) error) {
	t.Helper()
	const conns = 4
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := libvirttest.Dial(TestURI)
			if err != nil {
				errs[w] = err
				return
			}
			defer func() { _ = l.Disconnect() }()
			for i := w; i < len(names); i += conns {
				if err := fn(l, names[i]); err != nil {
					errs[w] = fmt.Errorf("%s: %w", names[i], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// NewStore creates a store with the given hosts on the backend
// VIRTUMANCER_TEST_STORE chooses (pgtest.StoreLocation): a SQLite file in
// a temp dir by default; st.Path() is its location either way.
func NewStore(t testing.TB, hosts ...store.Host) *store.Store {
	t.Helper()
	return OpenStore(t, pgtest.StoreLocation(t, "sync"), hosts)
}

// NewSQLiteStore is NewStore on a SQLite file whatever
// VIRTUMANCER_TEST_STORE says, for tests about the file (deleted, locked,
// written by sqlite3 or a second process).
func NewSQLiteStore(t testing.TB, hosts ...store.Host) *store.Store {
	t.Helper()
	return OpenStore(t, filepath.Join(t.TempDir(), "virtumancer.db"), hosts)
}

// NewPostgresStore is NewStore on a PostgreSQL database of the test's own
// (internal/pgtest); it also returns the database's URL, for a second
// client. A test calling it needs PostgreSQL: a TestIntegration….
func NewPostgresStore(t testing.TB, hosts ...store.Host) (*store.Store, string) {
	t.Helper()
	u := pgtest.NewDatabase(t, "sync")
	return OpenStore(t, u, hosts), u
}

// OpenStore opens (creating and migrating) the store at location, a path
// or a postgres:// URL, closed when t ends, with hosts created in it.
func OpenStore(t testing.TB, location string, hosts []store.Host) *store.Store {
	t.Helper()
	st, err := store.Open(location, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for _, h := range hosts {
		if err := st.CreateHost(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// Eventually polls cond until it holds or within passes, and returns how
// long it took; cond describes what it saw for the failure message.
func Eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, seen := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: not true within %s; last seen: %s", what, within, seen)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Row returns the host's row for name, soft-deleted or not.
func Row(t testing.TB, st *store.Store, host, name string) (store.VM, bool) {
	t.Helper()
	var out store.VM
	var found bool
	err := st.Read(context.Background(), func(tx *store.Tx) error {
		rows, err := tx.ListVMsWithDeleted(host)
		for _, r := range rows {
			if r.Name == name {
				out, found = r, true
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, found
}

// Status returns the sync status of one VM.
func Status(t testing.TB, st *store.Store, host, name string) (store.VMStatus, bool) {
	t.Helper()
	all, err := st.ListVMStatus(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.Name == name {
			return s, true
		}
	}
	return store.VMStatus{}, false
}

// Live: the row exists and is not soft-deleted.
func Live(r store.VM, ok bool) bool { return ok && r.DeletedAt == nil }

// SoftDeleted: the row exists and is soft-deleted.
func SoftDeleted(r store.VM, ok bool) bool { return ok && r.DeletedAt != nil }

// Describe renders a Row result for failure messages.
func Describe(r store.VM, ok bool) string {
	switch {
	case !ok:
		return "no row"
	case r.DeletedAt != nil:
		return fmt.Sprintf("row %d soft-deleted at %s", r.ID, r.DeletedAt)
	}
	return fmt.Sprintf("row %d live, memory %d KiB", r.ID, r.Config.Memory)
}

// WaitRow waits up to EventDeadline for the row of name to satisfy want.
func WaitRow(t testing.TB, st *store.Store, host, name, what string, want func(store.VM, bool) bool) store.VM {
	t.Helper()
	var r store.VM
	took := Eventually(t, EventDeadline, fmt.Sprintf("%s: %s", name, what), func() (bool, string) {
		var ok bool
		r, ok = Row(t, st, host, name)
		return want(r, ok), Describe(r, ok)
	})
	t.Logf("%s: %s after %s", name, what, took.Round(time.Millisecond))
	return r
}

// WaitState waits up to EventDeadline for the VM's status to show state.
func WaitState(t testing.TB, st *store.Store, host, name string, state int) {
	t.Helper()
	took := Eventually(t, EventDeadline, fmt.Sprintf("%s: status state %d", name, state), func() (bool, string) {
		s, ok := Status(t, st, host, name)
		return ok && s.State == state, fmt.Sprintf("status present=%t state=%d", ok, s.State)
	})
	t.Logf("%s: state %d after %s", name, state, took.Round(time.Millisecond))
}

// Drifted waits up to EventDeadline for the VM's status to show a drift
// of field from recorded to live.
func Drifted(t testing.TB, st *store.Store, host, name string, want vminfo.Drift) {
	t.Helper()
	took := Eventually(t, EventDeadline, fmt.Sprintf("%s: drift %+v", name, want), func() (bool, string) {
		s, ok := Status(t, st, host, name)
		return ok && HasDrift(s.Drift, want), fmt.Sprintf("drift %v", s.Drift)
	})
	t.Logf("%s: drift on %s after %s", name, want.Field, took.Round(time.Millisecond))
}

// HasDrift reports whether d holds want.
func HasDrift(d []vminfo.Drift, want vminfo.Drift) bool {
	for _, x := range d {
		if x == want {
			return true
		}
	}
	return false
}
