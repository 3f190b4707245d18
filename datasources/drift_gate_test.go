package datasources_test

import (
	"testing"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
)

// gateConfig is the gate the virtumancer_drift documentation shows: a
// postcondition fails the plan; its message lists each VM in the user's
// words.
const gateConfig = `
data "virtumancer_drift" "gate" {
  host_id = %q

  lifecycle {
    postcondition {
      condition = self.in_step
      error_message = join("\n", concat(
        [for vm in self.vms : "${vm.host_id}/${vm.name}: ${vm.verdict} ${join("; ", [for f in vm.fields : "${f.attribute} ${f.recorded} -> ${f.live}"])}"],
        [for h in self.unreachable_hosts : "host ${h} did not answer"],
      ))
    }
  }
}
`

// checkConfig is the same condition in a check block, which only warns.
const checkConfig = `
data "virtumancer_drift" "gate" {
  host_id = %q
}

check "in_step" {
  assert {
    condition     = data.virtumancer_drift.gate.in_step
    error_message = "VMs need attention"
  }
}
`

// TestAccDataSourceDrift_gate: the documented postcondition passes a plan
// while the VM is in step, really fails it (an error, not a warning) once
// its memory is changed behind Terraform's back, and passes again once the
// domain is put back; a check block on the same drift lets the plan pass.
func TestAccDataSourceDrift_gate(t *testing.T) {
	acctest.PreCheck(t)
	p := acctest.Name("acc-ds-gate")
	host, vm := p+"-host", p+"-vm"
	db := acctest.StoreLocation(t)
	st := storetest.Open(t, db)
	ctx := storetest.Ctx(t)
	if err := st.CreateHost(ctx, store.Host{ID: host, URI: acctest.TestURI}); err != nil {
		t.Fatal(err)
	}
	e := &liveEnv{t: t, db: db}
	e.define(vm, false)
	if _, err := st.UpsertVM(ctx, host, vm, spec(vm).Expected()); err != nil {
		t.Fatal(err)
	}
	config := e.config(hcl(gateConfig, host))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					expectKnown("data.virtumancer_drift.gate", "in_step", knownvalue.Bool(true)),
					expectKnown("data.virtumancer_drift.gate", "vms", knownvalue.ListExact([]knownvalue.Check{})),
				},
			},
			{
				PreConfig:   func() { setMemoryMiB(t, vm, 128) }, // virsh setmaxmem/setmem --config 128M
				Config:      config,
				PlanOnly:    true,
				ExpectError: expectErr("Resource postcondition failed", host+"/"+vm+": drifted", "max_memory 64 MiB -> 128 MiB"),
			},
			{
				Config:   e.config(hcl(checkConfig, host)), // still drifted: a warning only
				PlanOnly: true,
			},
			{
				PreConfig: func() { setMemoryMiB(t, vm, 64) },
				Config:    config,
				PlanOnly:  true,
			},
		},
	})
}

// setMemoryMiB redefines a domain with another memory size, out of band.
func setMemoryMiB(t *testing.T, name string, mib uint) {
	t.Helper()
	l, err := acctest.Dial(acctest.TestURI)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Disconnect() }()
	d, err := l.DomainLookupByName(name)
	if err != nil {
		t.Fatalf("look up %s: %v", name, err)
	}
	x, err := l.DomainGetXMLDesc(d, libvirt.DomainXMLInactive)
	if err != nil {
		t.Fatal(err)
	}
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(x); err != nil {
		t.Fatal(err)
	}
	dom.Memory = &libvirtxml.DomainMemory{Value: mib, Unit: "MiB"}
	dom.CurrentMemory = &libvirtxml.DomainCurrentMemory{Value: mib, Unit: "MiB"}
	out, err := dom.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.DomainDefineXML(out); err != nil {
		t.Fatalf("redefine %s: %v", name, err)
	}
}
