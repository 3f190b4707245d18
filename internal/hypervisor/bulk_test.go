package hypervisor

import "testing"

// Runtimes must agree with Runtime, domain by domain, across the states
// and flags it reads in bulk: running with autostart, shut off, transient.
func TestIntegrationRuntimesMatchRuntime(t *testing.T) {
	c := connect(t, testURI)
	running := defineTest(t, c, uniqueName("bulk-run"))
	if err := c.SetAutostart(ctx(t), running, true); err != nil {
		t.Fatal(err)
	}
	running, err := c.Start(ctx(t), running)
	if err != nil {
		t.Fatal(err)
	}
	off := defineTest(t, c, uniqueName("bulk-off"))

	all, err := c.Runtimes(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []Domain{running, off} {
		one, err := c.Runtime(ctx(t), d)
		if err != nil {
			t.Fatal(err)
		}
		bulk, ok := all[d.UUID]
		if !ok {
			t.Fatalf("Runtimes lacks %s (%s)", d.Name, d.UUID)
		}
		if bulk.ID != one.ID || bulk.State != one.State || bulk.Persistent != one.Persistent || bulk.Autostart != one.Autostart {
			t.Errorf("%s: Runtimes %+v, Runtime %+v", d.Name, bulk, one)
		}
	}
	if rt := all[running.UUID]; rt.State != 1 || !rt.Autostart || rt.ID == 0 || !rt.Persistent {
		t.Errorf("running domain reads %+v, want running, autostart, persistent, with an id", rt)
	}
	if rt := all[off.UUID]; rt.State != 5 || rt.Autostart || rt.ID != 0 {
		t.Errorf("shut-off domain reads %+v, want shut off, no autostart, id 0", rt)
	}
}
