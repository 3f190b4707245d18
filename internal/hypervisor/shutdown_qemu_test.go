package hypervisor

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/testguest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// TestIntegrationQemuShutdownWhileBooting asks the tiny guest to shut down
// the moment it starts, before its kernel or acpid can take the power
// button: the first press is lost, so only a repeated request powers it off
// within the grace instead of a forced stop after it.
func TestIntegrationQemuShutdownWhileBooting(t *testing.T) {
	c := connect(t, qemuURI)
	dir := t.TempDir()
	name := uniqueName("boot-shutdown")
	g := testguest.Domain{
		Name:    name,
		Disk:    testguest.Overlay(t, filepath.Join(dir, name+".qcow2")),
		Console: filepath.Join(dir, name+"-console.log"),
	}
	x, err := g.XML()
	if err != nil {
		t.Fatal(err)
	}
	d := startXML(t, c, x)
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	begin := time.Now()
	forced, err := c.Shutdown(sctx, d, 2*time.Minute)
	took := time.Since(begin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("shut off %s after the first request (forced %t)", took.Round(10*time.Millisecond), forced)
	if forced {
		t.Fatalf("the guest was forced off after %s: the shutdown request was not repeated once it could hear it; console:\n%s",
			took.Round(time.Second), testguest.ConsoleTail(g.Console, 20))
	}
	if st, err := c.State(ctx(t), d); err != nil || st != vminfo.StateShutoff {
		t.Errorf("State after Shutdown = %d, %v; want shut off", st, err)
	}
}
