package hypervisor

import (
	"strings"
	"testing"
)

// An empty volume (a console log) is a raw file of no bytes, and a volume
// remembered only by its path is deleted by that path with its rotated
// copies; a second delete finds it gone.
func TestIntegrationEmptyVolumeDeletedByPath(t *testing.T) {
	c := connect(t, testURI)
	const pool = "default-pool"
	name := "ci-" + uniqueName("log") + ".log"
	v, err := c.CreateVolume(ctx(t), VolumeSpec{Pool: pool, Name: name, Format: "raw", Empty: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.DeleteVolume(ctx(t), v) })
	if v.CapacityBytes != 0 || v.Path == "" {
		t.Errorf("empty volume: %+v", v)
	}
	// Rotated copies as virtlogd names them; one beyond the count stays.
	for _, n := range []string{name + ".0", name + ".2", name + ".3"} {
		r, err := c.CreateVolume(ctx(t), VolumeSpec{Pool: pool, Name: n, Format: "raw", Empty: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.DeleteVolume(ctx(t), r) })
	}
	gone, err := c.DeleteVolumeAt(ctx(t), v.Path, 3)
	if err != nil || gone {
		t.Fatalf("DeleteVolumeAt(%s) = gone %t, %v; want deleted", v.Path, gone, err)
	}
	for n, want := range map[string]bool{name: false, name + ".0": false, name + ".2": false, name + ".3": true} {
		if _, err := c.LookupVolume(ctx(t), pool, n); IsNotFound(err) == want {
			t.Errorf("after DeleteVolumeAt: %s: %v, want it kept %t", n, err, want)
		}
	}
	if gone, err := c.DeleteVolumeAt(ctx(t), v.Path, 3); err != nil || !gone {
		t.Errorf("second DeleteVolumeAt = gone %t, %v; want gone", gone, err)
	}
	_, err = c.CreateVolume(ctx(t), VolumeSpec{Pool: pool, Name: name, Format: "raw", Empty: true, CapacityBytes: 1})
	if err == nil || !strings.Contains(err.Error(), "an empty volume is a raw file of capacity 0") {
		t.Errorf("empty with a capacity: %v", err)
	}
}
