package hypervisor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitalocean/go-libvirt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/dirpool"
)

// createPool creates a dir pool and removes it (and only it) when the test ends.
func createPool(t *testing.T, c *Conn, spec dirpool.Spec, autostart bool) (StoragePool, bool) {
	t.Helper()
	sp, made, err := c.CreateDirPool(ctx(t), spec, autostart)
	if err != nil {
		t.Fatalf("create pool %s: %v", spec.Name, err)
	}
	t.Cleanup(func() {
		if err := c.DeletePool(ctx(t), spec.Name, made); err != nil && !IsNotFound(err) {
			t.Errorf("cleanup: delete pool %s: %v", spec.Name, err)
		}
	})
	return sp, made
}

func poolDefined(t *testing.T, c *Conn, name string) bool {
	t.Helper()
	_, err := c.LookupPool(ctx(t), name)
	if err != nil && !errors.Is(err, ErrPoolNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestIntegrationQemuDirPool: a pool on a missing directory creates it;
// a volume in it blocks the delete, naming it, and leaves everything in
// place; once empty the delete removes the pool and the directory.
func TestIntegrationQemuDirPool(t *testing.T) {
	c := connect(t, qemuURI)
	dir := filepath.Join(t.TempDir(), "a", "pool")
	spec := dirpool.Spec{Name: uniqueName("pool"), Path: dir}
	sp, made, err := c.CreateDirPool(ctx(t), spec, true)
	if err != nil {
		t.Fatal(err)
	}
	if !made || !sp.Active || !sp.Autostart || sp.Path != dir || sp.Type != "dir" || sp.UUID == "" || sp.CapacityBytes == 0 {
		t.Errorf("CreateDirPool = %+v, made %t; want an active autostarted dir pool on %s that made its directory", sp, made, dir)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("the pool directory %s: %v", dir, err)
	}
	_, _, err = c.CreateDirPool(ctx(t), spec, false)
	if !errors.Is(err, ErrPoolExists) {
		t.Errorf("second create: %v, want ErrPoolExists", err)
	}

	vol, err := c.CreateVolume(ctx(t), VolumeSpec{Pool: spec.Name, Name: "held.qcow2", CapacityBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stray.img"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = c.DeletePool(ctx(t), spec.Name, true)
	var ne *PoolNotEmptyError
	if !errors.As(err, &ne) || !errors.Is(err, ErrPoolNotEmpty) || strings.Join(ne.Volumes, ",") != "held.qcow2,stray.img" {
		t.Fatalf("delete of a pool with volumes: %v; want a PoolNotEmptyError naming held.qcow2 and stray.img", err)
	}
	if got, err := c.LookupPool(ctx(t), spec.Name); err != nil || !got.Active || got.AllocationBytes == 0 {
		t.Fatalf("after the refused delete: %+v, %v; want the pool still active, with its volumes allocated", got, err)
	}

	if err := c.DeleteVolume(ctx(t), vol); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "stray.img")); err != nil {
		t.Fatal(err)
	}
	if err := c.DeletePool(ctx(t), spec.Name, made); err != nil {
		t.Fatal(err)
	}
	if poolDefined(t, c, spec.Name) {
		t.Error("the pool is still defined after DeletePool")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the directory the pool made is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(dir)); err != nil {
		t.Errorf("the parent directory was removed too: %v", err)
	}
}

// TestIntegrationQemuDirPoolExistingDir: an existing directory is used as
// is and survives the delete, with what it held.
func TestIntegrationQemuDirPoolExistingDir(t *testing.T) {
	c := connect(t, qemuURI)
	dir := t.TempDir()
	spec := dirpool.Spec{Name: uniqueName("pool"), Path: dir}
	sp, made, err := c.CreateDirPool(ctx(t), spec, false)
	if err != nil {
		t.Fatal(err)
	}
	if made || !sp.Active || sp.Autostart {
		t.Errorf("CreateDirPool = %+v, made %t; want active, not autostarted, directory not made", sp, made)
	}
	if err := c.DeletePool(ctx(t), spec.Name, made); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("the existing directory was removed: %v", err)
	}
}

// TestIntegrationQemuDirPoolOnFile: a path that is a file is refused
// before anything is defined; a path another pool uses is refused too.
func TestIntegrationQemuDirPoolOnFile(t *testing.T) {
	c := connect(t, qemuURI)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	name := uniqueName("pool")
	_, _, err := c.CreateDirPool(ctx(t), dirpool.Spec{Name: name, Path: file}, true)
	if !errors.Is(err, ErrNotDirectory) || !strings.Contains(err.Error(), file) {
		t.Fatalf("pool on a file: %v; want ErrNotDirectory naming %s", err, file)
	}
	if poolDefined(t, c, name) {
		t.Error("a pool was defined on a file")
	}

	dir := t.TempDir()
	createPool(t, c, dirpool.Spec{Name: name, Path: dir}, false)
	other := uniqueName("pool")
	_, _, err = c.CreateDirPool(ctx(t), dirpool.Spec{Name: other, Path: dir}, false)
	if err == nil || !strings.Contains(err.Error(), name) {
		t.Errorf("second pool on the same directory: %v; want an error naming pool %s", err, name)
	}
	if poolDefined(t, c, other) {
		t.Error("a second pool was defined on a directory in use")
	}
}

// TestIntegrationTestDriverDirPool records how the test driver differs:
// it touches no file system (a missing directory is not made, a file
// path is accepted) but keeps pools, volumes and the refusal the same.
func TestIntegrationTestDriverDirPool(t *testing.T) {
	c := connect(t, testURI)
	missing := filepath.Join(t.TempDir(), "never-made")
	spec := dirpool.Spec{Name: uniqueName("pool"), Path: missing}
	sp, made := createPool(t, c, spec, true)
	if made || !sp.Active || !sp.Autostart || sp.Path != missing {
		t.Errorf("test driver pool = %+v, made %t; want active and autostarted, directory not made", sp, made)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("the test driver made %s: %v", missing, err)
	}
	if _, err := c.CreateVolume(ctx(t), VolumeSpec{Pool: spec.Name, Name: "held.qcow2", CapacityBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	err := c.DeletePool(ctx(t), spec.Name, false)
	if !errors.Is(err, ErrPoolNotEmpty) || !strings.Contains(err.Error(), "held.qcow2") {
		t.Fatalf("delete of a pool with a volume: %v", err)
	}
	if err := c.DeleteVolume(ctx(t), Volume{Pool: spec.Name, Name: "held.qcow2"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPoolAutostart(ctx(t), spec.Name, false); err != nil {
		t.Fatal(err)
	}
	if got, err := c.LookupPool(ctx(t), spec.Name); err != nil || got.Autostart {
		t.Errorf("after autostart off: %+v, %v", got, err)
	}
}

// TestIntegrationTestDriverDirPoolInactive: a pool stopped behind our back reads as
// inactive and starts again.
func TestIntegrationTestDriverDirPoolInactive(t *testing.T) {
	c := connect(t, testURI)
	spec := dirpool.Spec{Name: uniqueName("pool"), Path: "/" + uniqueName("pool")}
	createPool(t, c, spec, false)
	if err := c.call(ctx(t), "stop", func(l *libvirt.Libvirt) error {
		p, err := l.StoragePoolLookupByName(spec.Name)
		if err == nil {
			err = l.StoragePoolDestroy(p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.LookupPool(ctx(t), spec.Name); err != nil || got.Active {
		t.Fatalf("stopped pool reads %+v, %v; want inactive", got, err)
	}
	if err := c.StartPool(ctx(t), spec.Name); err != nil {
		t.Fatal(err)
	}
	if got, err := c.LookupPool(ctx(t), spec.Name); err != nil || !got.Active {
		t.Errorf("restarted pool reads %+v, %v; want active", got, err)
	}
}

// TestIntegrationQemuDirPoolBuildFails: a directory libvirtd cannot make
// (/proc refuses mkdir) fails the create after the define; the half-made
// pool is undefined again.
func TestIntegrationQemuDirPoolBuildFails(t *testing.T) {
	c := connect(t, qemuURI)
	name := uniqueName("pool")
	path := "/proc/" + name
	_, _, err := c.CreateDirPool(ctx(t), dirpool.Spec{Name: name, Path: path}, true)
	if err == nil || !strings.Contains(err.Error(), "build (create the directory)") || !strings.Contains(err.Error(), "the pool was removed again") {
		t.Fatalf("pool under /proc: %v; want a build error saying the pool was removed again", err)
	}
	if poolDefined(t, c, name) {
		t.Error("the half-made pool is still defined")
	}
}
