package resources_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
)

// importShape is a domain written by hand, as someone else's tooling
// would, and the configuration that describes it.
type importShape struct {
	devices string // inside <devices>
	hcl     string // inside the resource block, beside host_id and name
	start   bool   // started (it has no disk: TCG boots to the firmware)
	// unmanaged is what unmanaged_devices must list.
	unmanaged []string
}

var importShapes = map[string]importShape{
	// An interface without <model>: imported as none, and kept so.
	"nic-nomodel": {
		devices: `<interface type='network'><source network='default'/></interface>`,
		hcl:     `network_interface { network = "default" }`,
	},
	// Disks given by path, outside any pool, raw and qcow2.
	"path-disks": {
		devices: `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/var/lib/libvirt/images/adopt-a.img'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/adopt-b.qcow2'/><target dev='vdb' bus='virtio'/></disk>`,
		hcl: `disk { path = "/var/lib/libvirt/images/adopt-a.img" }
  disk {
    path   = "/var/lib/libvirt/images/adopt-b.qcow2"
    format = "qcow2"
  }`,
	},
	// No graphics at all.
	"graphics-none": {hcl: `graphics = "none"`},
	// A cdrom drive without media.
	"cdrom-empty": {
		devices: `<disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>`,
		hcl:     `disk { device = "cdrom" }`,
	},
	// A cdrom with media, on ide.
	"cdrom-media": {
		devices: `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/var/lib/libvirt/images/adopt.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>`,
		hcl: `disk {
    device = "cdrom"
    path   = "/var/lib/libvirt/images/adopt.iso"
    bus    = "ide"
  }`,
	},
	// Neither disk nor interface.
	"no-disk": {},
	// Devices the schema does not model: a direct (macvtap) interface and
	// a 9p filesystem, beside a managed interface with a model and a MAC.
	"unmanaged": {
		devices: `<interface type='direct'><source dev='eth0' mode='bridge'/><model type='virtio'/></interface>
<interface type='bridge'><mac address='52:54:00:77:12:01'/><source bridge='br-adopt'/><model type='e1000'/></interface>
<filesystem type='mount' accessmode='passthrough'><source dir='/srv'/><target dir='share'/></filesystem>`,
		hcl: `network_interface {
    bridge = "br-adopt"
    model  = "e1000"
  }`,
		unmanaged: []string{"filesystem /srv -> share", "interface direct eth0"},
	},
	// Disks on four buses, spice graphics, autostart.
	"buses": {
		devices: `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/var/lib/libvirt/images/adopt-v.img'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/var/lib/libvirt/images/adopt-s.img'/><target dev='sda' bus='sata'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/var/lib/libvirt/images/adopt-c.img'/><target dev='sdb' bus='scsi'/><readonly/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/var/lib/libvirt/images/adopt-i.img'/><target dev='hda' bus='ide'/></disk>
<graphics type='spice' autoport='yes'><listen type='address' address='127.0.0.1'/></graphics>`,
		hcl: `graphics = "spice"
  disk { path = "/var/lib/libvirt/images/adopt-v.img" }
  disk {
    path = "/var/lib/libvirt/images/adopt-s.img"
    bus  = "sata"
  }
  disk {
    path      = "/var/lib/libvirt/images/adopt-c.img"
    bus       = "scsi"
    read_only = true
  }
  disk {
    path = "/var/lib/libvirt/images/adopt-i.img"
    bus  = "ide"
  }`,
	},
	// Running (no disk, TCG): adopting it must not restart it.
	// It has a user-mode interface, which starts without any network.
	"running": {start: true, devices: `<interface type='user'/>`, unmanaged: []string{"interface user"}},
}

// domainXML is the hand-written definition of shape s.
func (s importShape) domainXML(name string) string {
	graphics := ""
	if !strings.Contains(s.devices, "<graphics") && !strings.Contains(s.hcl, `graphics = "none"`) {
		graphics = `<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>`
	}
	return fmt.Sprintf(`<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type></os><devices>%s%s</devices></domain>`, name, s.devices, graphics)
}

// TestAccVMImport_shapes defines one domain per shape on qemu:///system
// (started for `running`) and imports each: with -generate-config-out (the
// import plan with the generated configuration must be a no-op), then with
// the hand-written configuration through import blocks, applied: the plan
// after it is empty, the running domain kept its id (never restarted), and
// unmanaged_devices lists what the schema does not model.
func TestAccVMImport_shapes(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.QemuURI)
	e.hostID = "adopt-h"
	keys := make([]string, 0, len(importShapes))
	for k := range importShapes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	names := map[string]string{}
	var runningID int32
	for _, k := range keys {
		n := acctest.Name("adopt-" + k)
		names[k] = n
		t.Cleanup(func() { e.removeDomain(n) })
		s := importShapes[k]
		d, err := e.lv.DomainDefineXML(s.domainXML(n))
		if err != nil {
			t.Fatalf("define %s: %v", k, err)
		}
		if s.start {
			if err := e.lv.DomainCreate(d); err != nil {
				t.Fatalf("start %s: %v", k, err)
			}
			d, _ = e.lv.DomainLookupByName(n)
			runningID = d.ID
		}
	}

	hand := e.hostHCL()
	steps := []resource.TestStep{{Config: e.hostHCL()}}
	var checks []statecheck.StateCheck
	for _, k := range keys {
		s, addr := importShapes[k], "virtumancer_vm."+strings.ReplaceAll(k, "-", "_")
		steps = append(steps, resource.TestStep{
			Config: e.hostHCL(), ResourceName: addr, ImportState: true, ImportStateKind: resource.ImportBlockWithID,
			ImportStateId: e.hostID + "/" + names[k], GenerateConfig: true,
		})
		running := ""
		if !s.start {
			running = "running = false"
		}
		hand += fmt.Sprintf(`
import {
  to = %[1]s
  id = "%[2]s/%[3]s"
}

resource "virtumancer_vm" %[4]q {
  host_id = virtumancer_host.h.id
  name    = %[3]q
  memory  = 64
  vcpu    = 1
  %[5]s
  %[6]s
}
`, addr, e.hostID, names[k], strings.TrimPrefix(addr, "virtumancer_vm."), running, s.hcl)
		want := []knownvalue.Check{}
		for _, u := range s.unmanaged {
			want = append(want, knownvalue.StringExact(u))
		}
		checks = append(checks, statecheck.ExpectKnownValue(addr, attr("unmanaged_devices"), knownvalue.ListExact(want)))
	}
	var noop []plancheck.PlanCheck
	for _, k := range keys {
		noop = append(noop, plancheck.ExpectResourceAction("virtumancer_vm."+strings.ReplaceAll(k, "-", "_"), plancheck.ResourceActionNoop))
	}
	steps = append(steps, resource.TestStep{
		Config: hand,
		ConfigPlanChecks: resource.ConfigPlanChecks{
			PreApply:             noop,
			PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
		},
		ConfigStateChecks: checks,
		Check: func(*terraform.State) error {
			d, err := e.lv.DomainLookupByName(names["running"])
			if err != nil {
				return err
			}
			if d.ID != runningID {
				return fmt.Errorf("running domain's id went from %d to %d: adopting restarted it", runningID, d.ID)
			}
			return nil
		},
	})
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories, Steps: steps})
}
