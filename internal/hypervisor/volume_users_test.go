package hypervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/digitalocean/go-libvirt"
)

func TestVolumeUsersString(t *testing.T) {
	for _, tc := range []struct {
		u    VolumeUsers
		want string
	}{
		{VolumeUsers{Domains: []string{"a"}}, `VM "a"`},
		{VolumeUsers{Domains: []string{"a", "b"}, Volumes: []string{"p/x.qcow2"}}, `VMs "a", "b" and volume "p/x.qcow2" (backed by it)`},
		{VolumeUsers{Volumes: []string{"p/x", "p/y"}}, `volumes "p/x", "p/y" (backed by it)`},
	} {
		if got := tc.u.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.u, got, tc.want)
		}
	}
	if !(VolumeUsers{}).Empty() || (VolumeUsers{Volumes: []string{"p/x"}}).Empty() {
		t.Error("Empty is wrong")
	}
}

func TestBlockField(t *testing.T) {
	for f, want := range map[string][2]string{
		"block.0.name": {"0", "name"}, "block.12.path": {"12", "path"},
		"block.0.capacity": {}, "block.count": {}, "state.state": {},
	} {
		idx, field, ok := blockField(f)
		if ok != (want[0] != "") || idx != want[0] || field != want[1] {
			t.Errorf("blockField(%q) = %q %q %t, want %q", f, idx, field, ok, want)
		}
	}
}

// volDomainXML is a TCG guest without a boot disk (it stays in the
// firmware) whose disks are the given <disk> elements.
func volDomainXML(name, disks string) string {
	return fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>%s</devices>
</domain>`, name, disks)
}

func volDisk(typ, source, format, target string) string {
	return fmt.Sprintf("<disk type='%s' device='disk'><driver name='qemu' type='%s'/>%s<target dev='%s' bus='virtio'/></disk>",
		typ, format, source, target)
}

// On qemu:///system: users by pool/volume in a definition, by path in a
// running domain, overlays of a base; a live resize through the running
// domain keeps the data and the guest's disk grows; an offline resize of
// an overlay smaller than its base (what compat 0.10 could not do); shrink
// refused; a base with an overlay is not deleted.
func TestIntegrationVolumeUsersAndResize(t *testing.T) {
	c := connect(t, qemuURI)
	const pool = "default"
	id := strings.TrimPrefix(uniqueName("x"), "hv-x-")
	base := createVolume(t, c, VolumeSpec{Pool: pool, Name: "vol-hv-base-" + id + ".qcow2", Format: "qcow2", CapacityBytes: 64 << 20})
	overlay := createVolume(t, c, VolumeSpec{Pool: pool, Name: "vol-hv-ovl-" + id + ".qcow2", BackingVolume: base.Name, CapacityBytes: 32 << 20})
	data := createVolume(t, c, VolumeSpec{Pool: pool, Name: "vol-hv-data-" + id + ".raw", Format: "raw", CapacityBytes: 1 << 20})
	content := bytes.Repeat([]byte("virtumancer-"), (1<<20)/12)
	if err := c.UploadVolume(ctx(t), data, bytes.NewReader(content), uint64(len(content))); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("qemu-img", "info", "-U", overlay.Path).CombinedOutput(); err != nil || !strings.Contains(string(out), "compat: 1.1") {
		t.Errorf("overlay is not compat 1.1 (%v):\n%s", err, out)
	}

	defined := defineXML(t, c, volDomainXML("vol-hv-def-"+id,
		volDisk("volume", fmt.Sprintf("<source pool='%s' volume='%s'/>", pool, overlay.Name), "qcow2", "vda")))
	running := startXML(t, c, volDomainXML("vol-hv-run-"+id,
		volDisk("file", fmt.Sprintf("<source file='%s'/>", data.Path), "raw", "vdb")))

	checkUsers(t, c, overlay.Name, VolumeUsers{Domains: []string{defined.Name}})
	checkUsers(t, c, base.Name, VolumeUsers{Volumes: []string{pool + "/" + overlay.Name}})
	checkUsers(t, c, data.Name, VolumeUsers{Domains: []string{running.Name}})

	how, err := c.ResizeVolume(ctx(t), pool, data.Name, 3<<20)
	if err != nil || how != (Resized{Domain: running.Name, Target: "vdb"}) {
		t.Fatalf("live resize: %+v, %v; want through vdb of %s", how, err, running.Name)
	}
	var guestSees uint64
	if err := c.call(ctx(t), "block info", func(l *libvirt.Libvirt) error {
		dom, err := l.DomainLookupByName(running.Name)
		if err == nil {
			_, guestSees, _, err = l.DomainGetBlockInfo(dom, "vdb", 0)
		}
		return err
	}); err != nil || guestSees != 3<<20 {
		t.Errorf("running domain's vdb: %d bytes, %v; want %d", guestSees, err, 3<<20)
	}
	checkHead(t, data.Path, content)
	if _, err := c.ResizeVolume(ctx(t), pool, data.Name, 2<<20); !errors.Is(err, ErrShrink) {
		t.Errorf("shrink: %v, want ErrShrink", err)
	}

	how, err = c.ResizeVolume(ctx(t), pool, overlay.Name, 48<<20)
	if err != nil || how != (Resized{}) {
		t.Fatalf("offline resize of the overlay: %+v, %v", how, err)
	}
	if v, err := c.LookupVolume(ctx(t), pool, overlay.Name); err != nil || v.CapacityBytes != 48<<20 {
		t.Errorf("overlay after resize: %+v, %v; want 48 MiB", v, err)
	}

	err = c.DeleteUnusedVolume(ctx(t), base)
	var inUse *VolumeInUseError
	if !errors.As(err, &inUse) || !strings.Contains(err.Error(), overlay.Name) {
		t.Fatalf("delete of the base: %v, want a VolumeInUseError naming %s", err, overlay.Name)
	}
	if _, err := c.LookupVolume(ctx(t), pool, base.Name); err != nil {
		t.Errorf("the base is gone after the refused delete: %v", err)
	}
	if _, err := c.VolumeUsers(ctx(t), pool, "vol-hv-none-"+id); !errors.Is(err, ErrVolumeNotFound) {
		t.Errorf("users of a volume that does not exist: %v, want ErrVolumeNotFound", err)
	}
	removeDomain(t, c, running)
	if err := c.DeleteUnusedVolume(ctx(t), data); err != nil {
		t.Errorf("delete of the unused data volume: %v", err)
	}
}

func checkUsers(t *testing.T, c *Conn, name string, want VolumeUsers) {
	t.Helper()
	for what, users := range map[string]func(context.Context, string, string) (VolumeUsers, error){
		"VolumeUsers": c.VolumeUsers, "PlanVolumeUsers": c.PlanVolumeUsers,
	} {
		got, err := users(ctx(t), "default", name)
		if err != nil || !slices.Equal(got.Domains, want.Domains) || !slices.Equal(got.Volumes, want.Volumes) {
			t.Errorf("%s(%s) = %+v, %v; want %+v", what, name, got, err, want)
		}
	}
}

func checkHead(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || len(got) < len(want) || !bytes.Equal(got[:len(want)], want) {
		t.Errorf("%s no longer starts with the uploaded bytes (read err %v)", path, err)
	}
}
