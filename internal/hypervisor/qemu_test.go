package hypervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// qemuDomainXML is a TCG guest without disk: it boots to the firmware and
// stays running, which is all a lifecycle test needs (SPEC section 6).
func qemuDomainXML(name string) string {
	return fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
  </devices>
</domain>`, name)
}

func TestIntegrationQemuFacts(t *testing.T) {
	c := connect(t, qemuURI)
	f, err := c.Facts(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("facts: %+v", f)
	if f.Driver != "QEMU" || f.Arch != "x86_64" || f.CPUs <= 0 || f.MemoryKiB == 0 || f.HypervisorVersion == "0.0.0" {
		t.Errorf("implausible facts: %+v", f)
	}
	_, kvmErr := os.Stat("/dev/kvm")
	if f.KVM != (kvmErr == nil) {
		t.Errorf("KVM = %t but /dev/kvm present = %t", f.KVM, kvmErr == nil)
	}
}

func TestIntegrationQemuLifecycle(t *testing.T) {
	c := connect(t, qemuURI)
	name := uniqueName("tcg")
	d, err := c.DefineXML(ctx(t), qemuDomainXML(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeDomain(t, c, d) })
	x, err := c.DomainXML(ctx(t), d, true)
	if err != nil || !strings.Contains(x, "type='qemu'") || !strings.Contains(x, "<name>"+name+"</name>") {
		t.Fatalf("inactive XML: %v\n%s", err, x)
	}
	started, err := c.Start(ctx(t), d)
	if err != nil {
		t.Fatal(err)
	}
	if started.ID <= 0 {
		t.Errorf("started domain has id %d", started.ID)
	}
	rt, err := c.Runtime(ctx(t), d)
	if err != nil || rt.State != vminfo.StateRunning || rt.ID != started.ID || !rt.Persistent {
		t.Fatalf("Runtime = %+v, %v; want running with id %d", rt, err, started.ID)
	}
	// Nothing in the guest answers ACPI, so the grace runs out and the
	// domain is destroyed.
	begin := time.Now()
	forced, err := c.Shutdown(ctx(t), d, 2*time.Second)
	if err != nil || !forced {
		t.Fatalf("Shutdown = forced %t, %v; want forced after the grace", forced, err)
	}
	if took := time.Since(begin); took < 2*time.Second || took > 15*time.Second {
		t.Errorf("Shutdown took %s for a 2s grace", took)
	}
	if st, err := c.State(ctx(t), d); err != nil || st != vminfo.StateShutoff {
		t.Errorf("State after Shutdown = %d, %v", st, err)
	}
	if err := c.Undefine(ctx(t), d); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LookupDomain(ctx(t), name); !errors.Is(err, ErrDomainNotFound) {
		t.Errorf("after undefine: %v", err)
	}
}

func TestIntegrationQemuStorage(t *testing.T) {
	c := connect(t, qemuURI)
	const pool = "default"
	raw := createVolume(t, c, VolumeSpec{Pool: pool, Name: uniqueName("raw") + ".img", Format: "raw", CapacityBytes: 1 << 20})
	data := bytes.Repeat([]byte("virtumancer-"), (1<<20)/12)
	if err := c.UploadVolume(ctx(t), raw, bytes.NewReader(data), uint64(len(data))); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(raw.Path)
	if err != nil || !bytes.Equal(onDisk[:len(data)], data) {
		t.Fatalf("volume content differs from the upload (read err %v)", err)
	}
	short := bytes.NewReader(data[:100])
	if err := c.UploadVolume(ctx(t), raw, short, 1000); err == nil || !strings.Contains(err.Error(), "100 of 1000") {
		t.Errorf("short source: %v", err)
	}

	base := createVolume(t, c, VolumeSpec{Pool: pool, Name: uniqueName("base") + ".qcow2", Format: "qcow2", CapacityBytes: 2 << 20})
	overlay := createVolume(t, c, VolumeSpec{Pool: pool, Name: uniqueName("ovl") + ".qcow2", BackingVolume: base.Name})
	if overlay.BackingPath != base.Path || overlay.Format != "qcow2" || overlay.CapacityBytes != base.CapacityBytes {
		t.Errorf("overlay %+v on base %+v", overlay, base)
	}
	for _, v := range []Volume{overlay, base, raw} {
		if err := c.DeleteVolume(ctx(t), v); err != nil {
			t.Fatal(err)
		}
		if _, err := c.LookupVolume(ctx(t), pool, v.Name); !errors.Is(err, ErrVolumeNotFound) {
			t.Errorf("after delete: %v", err)
		}
	}
}

func createVolume(t *testing.T, c *Conn, spec VolumeSpec) Volume {
	t.Helper()
	v, err := c.CreateVolume(ctx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.DeleteVolume(ctx(t), v); err != nil && !IsNotFound(err) {
			t.Errorf("cleanup: %v", err)
		}
	})
	got, err := c.LookupVolume(ctx(t), spec.Pool, spec.Name)
	if err != nil || got != v {
		t.Fatalf("LookupVolume = %+v, %v; want %+v", got, err, v)
	}
	return v
}

// slowReader yields chunk bytes per Read after pause.
type slowReader struct {
	left, chunk int
	pause       time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	n := min(r.chunk, r.left, len(p))
	r.left -= n
	return n, nil
}

// An upload longer than CallTimeout succeeds while data flows; a source
// that stalls longer than CallTimeout times out.
func TestIntegrationQemuUploadStallTimeout(t *testing.T) {
	requireDaemon(t)
	c, err := newPool(t, Options{CallTimeout: 400 * time.Millisecond}).Get(ctx(t), "local", qemuURI)
	if err != nil {
		t.Fatal(err)
	}
	v := createVolume(t, c, VolumeSpec{Pool: "default", Name: uniqueName("slow") + ".img", Format: "raw", CapacityBytes: 1 << 20})
	flowing := &slowReader{left: 10 << 16, chunk: 1 << 16, pause: 150 * time.Millisecond}
	begin := time.Now()
	if err := c.UploadVolume(ctx(t), v, flowing, 10<<16); err != nil {
		t.Fatalf("a 1.5s upload with a 400ms call timeout: %v", err)
	}
	if took := time.Since(begin); took < time.Second {
		t.Errorf("upload took %s, want over 1s so that it outlasted the call timeout", took)
	}
	stalled := &slowReader{left: 1 << 16, chunk: 1 << 16, pause: 2 * time.Second}
	err = c.UploadVolume(ctx(t), v, stalled, 1<<16)
	checkTimeout(t, err, "local", qemuURI, "upload 65536 bytes")
}
