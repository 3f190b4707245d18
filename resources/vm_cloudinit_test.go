package resources_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/cloudinit"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/testguest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// ciGuest is one cloud-init test's world on qemu:///system: a dir pool of
// its own, the tiny guest as a base volume and a qcow2 overlay per VM.
type ciGuest struct {
	*vmEnv
	name, pool, dir string
	image           string
}

func newCIGuest(t *testing.T) *ciGuest {
	e := newVMEnv(t, acctest.QemuURI)
	name := acctest.Name("ci")
	t.Cleanup(func() { e.removeDomain(name); removePool(e, name, "/var/lib/virtumancer-test/"+name) })
	return &ciGuest{vmEnv: e, name: name, pool: name, dir: "/var/lib/virtumancer-test/" + name, image: testguest.Image(t)}
}

// config is the pool, the volumes and the VM; cloudInit is the body of
// its cloud_init block ("" for none).
func (g *ciGuest) config(running bool, memory int, cloudInit string) string {
	return g.storage() + g.vm(running, memory, cloudInit)
}

// storage is the host, the pool, the guest image as a base volume and the
// VM's overlay on it.
func (g *ciGuest) storage() string {
	return g.hostHCL() + guestStorageHCL(g.pool, g.dir, g.name+"-base.raw", g.image, g.name+"-root.qcow2")
}

func (g *ciGuest) vm(running bool, memory int, cloudInit string) string {
	block := ""
	if cloudInit != "" {
		block = "\n  cloud_init {\n" + cloudInit + "    pool = virtumancer_pool.p.name\n  }\n"
	}
	return fmt.Sprintf(`
resource "virtumancer_vm" "t" {
  host_id          = virtumancer_host.h.id
  name             = %[1]q
  domain_type      = "qemu"
  memory           = %[2]d
  vcpu             = 1
  graphics         = "none"
  running          = %[3]t
  shutdown_timeout = "2s"

  disk {
    pool   = virtumancer_volume.root.pool
    volume = virtumancer_volume.root.name
  }
%[4]s}
`, g.name, memory, running, block)
}

// userDataText is the user_data a test marks with marker; userData is it
// as the block's attribute.
func userDataText(marker string) string { return "#cloud-config\n# marker: " + marker + "\n" }

func userData(marker string) string { return fmt.Sprintf("    user_data = %q\n", userDataText(marker)) }

// instanceID is the default instance-id of a VM whose seed has only the
// user_data marked with marker.
func instanceID(uuid, marker string) string {
	return uuid + "-" + cloudinit.ShortDigest(cloudinit.Seed{UserData: userDataText(marker)})
}

// TestAccVM_cloudInit boots the tiny guest from a qcow2 overlay with a
// cloud_init seed: the guest takes its hostname from the default meta_data
// (read back through the agent) and prints the user-data on its console,
// which console_log holds; config_json records the seed's digest and not
// its content. A new user_data rewrites the seed without a restart; the
// next boot reads it as a new instance, and the console log keeps both
// boots. Removing the block detaches and deletes the seed; destroy leaves
// no domain, seed or console log.
func TestAccVM_cloudInit(t *testing.T) {
	acctest.PreCheck(t)
	g := newCIGuest(t)
	seedName, logPath := g.name+"-cidata.iso", g.dir+"/"+g.name+"-console.log"
	sameUUID := statecheck.CompareValue(compare.ValuesSame())
	sameDomainID := statecheck.CompareValue(compare.ValuesSame())
	sameAfterRestart := statecheck.CompareValue(compare.ValuesSame())

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			func(*terraform.State) error {
				if g.domainExists(g.name) {
					return fmt.Errorf("domain %s still defined", g.name)
				}
				for _, p := range []string{logPath, logPath + ".0"} {
					if _, err := os.Stat(p); !os.IsNotExist(err) {
						return fmt.Errorf("console log %s left behind (stat: %w)", p, err)
					}
				}
				return nil
			},
			checkPoolGone(acctest.QemuURI, g.pool),
		),
		Steps: []resource.TestStep{
			{
				// Defined, not started: the seed and the log exist already.
				Config: g.config(false, 128, userData("first-"+g.name)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectUnknownValue(vmRes, attr("console_log"))},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("console_log", knownvalue.StringExact(logPath)),
					expect("disk", knownvalue.ListSizeExact(1)), // the seed cdrom is not one of the disk blocks
					expect("config_json", configJSON(recordsDigestOnly("first-"+g.name))),
					sameUUID.AddStateValue(vmRes, attr("uuid")),
				},
				Check: resource.ComposeTestCheckFunc(
					g.checkSeedVolume(seedName, "first-"+g.name),
					g.checkRow(g.name, func(vm store.VM) error {
						return recordsDigestOnly("first-" + g.name)(vm.Config)
					}),
				),
			},
			{
				// The agent channel is wait_for_ip's (source = "agent") to
				// add; this test asks the agent without waiting on it, so it
				// adds the channel out of band, which the plan must ignore.
				PreConfig: func() { g.addAgentChannel(g.name) },
				Config:    g.config(true, 128, userData("first-"+g.name)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("state", knownvalue.StringExact("running")),
					sameUUID.AddStateValue(vmRes, attr("uuid")),
					sameDomainID.AddStateValue(vmRes, attr("domain_id")),
				},
				Check: g.checkBoot(logPath, "first-"+g.name),
			},
			{
				// A new user_data: the seed is rewritten, the VM keeps running.
				Config: g.config(true, 128, userData("second-"+g.name)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(vmRes, attr("config_json")),
						plancheck.ExpectKnownValue(vmRes, attr("console_log"), knownvalue.StringExact(logPath)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("config_json", configJSON(recordsDigestOnly("second-"+g.name))),
					sameDomainID.AddStateValue(vmRes, attr("domain_id")), // not restarted
				},
				Check: g.checkSeedVolume(seedName, "second-"+g.name),
			},
			{
				// A change that restarts the VM: the guest reads the new seed
				// as a new instance, and the log keeps the first boot.
				Config:            g.config(true, 144, userData("second-"+g.name)),
				ConfigStateChecks: []statecheck.StateCheck{sameAfterRestart.AddStateValue(vmRes, attr("domain_id"))},
				Check: func(s *terraform.State) error {
					c := testguest.WaitConsole(t, logPath, 3*time.Minute, "the end of the second boot", func(testguest.Console) bool {
						raw, _ := os.ReadFile(logPath)
						return strings.Count(string(raw), testguest.LinePrefix+"ready") >= 2
					})
					if !strings.Contains(c.Sections[cloudinit.UserDataFile], "second-"+g.name) {
						return fmt.Errorf("after the restart the guest read user-data %q, want the new seed's", c.Sections[cloudinit.UserDataFile])
					}
					raw, err := os.ReadFile(logPath)
					if err != nil || !strings.Contains(string(raw), "first-"+g.name) {
						return fmt.Errorf("the console log lost the first boot (err %w)", err)
					}
					if want := instanceID(s.RootModule().Resources[vmRes].Primary.Attributes["uuid"], "second-"+g.name); c.InstanceID != want {
						return fmt.Errorf("instance-id %s after the restart, want the new seed's %s", c.InstanceID, want)
					}
					return nil
				},
			},
			{
				ResourceName: vmRes, ImportState: true, ImportStateVerify: true,
				// An import cannot read the seed back, nor the provider's own settings.
				ImportStateVerifyIgnore: []string{"cloud_init", "shutdown_timeout"},
			},
			{
				// Forget the VM without destroying it, to import it for real.
				Config: g.storage() + "\nremoved {\n  from = virtumancer_vm.t\n  lifecycle {\n    destroy = false\n  }\n}\n",
				Check:  func(*terraform.State) error { return g.checkDomain() },
			},
			{
				// Imported, the block is new to state: apply rewrites the seed
				// the domain already attaches, without a restart.
				Config: g.config(true, 144, userData("second-"+g.name)) +
					fmt.Sprintf("\nimport {\n  to = %s\n  id = %q\n}\n", vmRes, g.hostID+"/"+g.name),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("config_json", configJSON(recordsDigestOnly("second-"+g.name))),
					sameAfterRestart.AddStateValue(vmRes, attr("domain_id")),
				},
				Check: g.checkSeedVolume(seedName, "second-"+g.name),
			},
			{
				// Without the block: the seed is detached and deleted.
				Config: g.config(true, 144, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("console_log", knownvalue.StringExact(logPath)),
					expect("config_json", configJSON(func(v vminfo.VMInfo) error {
						if v.SeedDigest != "" || len(v.Disks) != 1 {
							return fmt.Errorf("config_json still records a seed: digest %q, disks %+v", v.SeedDigest, v.Disks)
						}
						return nil
					})),
				},
				Check: resource.ComposeTestCheckFunc(
					checkVolumeGone(acctest.QemuURI, g.pool, seedName),
					// A copy as virtlogd rotates a full log: destroy deletes it too.
					func(*terraform.State) error { return os.WriteFile(logPath+".0", []byte("old boot\n"), 0o600) },
				),
			},
		},
	})
}

// recordsDigestOnly checks that config_json records a seed digest and not
// the user_data (marker).
func recordsDigestOnly(marker string) func(vminfo.VMInfo) error {
	return func(v vminfo.VMInfo) error {
		raw, _ := v.Marshal()
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(v.SeedDigest) || strings.Contains(string(raw), marker) {
			return fmt.Errorf("config_json %s: want a seed_digest and no user_data", raw)
		}
		return nil
	}
}

// checkSeedVolume checks that the seed volume exists, read-only on the
// domain, and holds the user_data with marker.
func (g *ciGuest) checkSeedVolume(name, marker string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		img, err := os.ReadFile(g.dir + "/" + name)
		if err != nil {
			return fmt.Errorf("seed volume: %w", err)
		}
		if !strings.Contains(string(img), marker) || !strings.Contains(string(img), "CD001") {
			return fmt.Errorf("seed volume %s (%d bytes) is not an ISO with the user_data %q", name, len(img), marker)
		}
		g.t.Logf("seed volume %s: %d bytes", name, len(img))
		var dom libvirtxml.Domain
		if err := dom.Unmarshal(g.inactiveXML(g.name)); err != nil {
			return err
		}
		for _, d := range dom.Devices.Disks {
			if d.Source != nil && d.Source.Volume != nil && d.Source.Volume.Volume == name {
				if d.Device != "cdrom" || d.ReadOnly == nil || d.Target.Bus != "scsi" {
					return fmt.Errorf("seed attached as %s on %s, read-only %t", d.Device, d.Target.Bus, d.ReadOnly != nil)
				}
				return nil
			}
		}
		return fmt.Errorf("domain %s does not attach %s", g.name, name)
	}
}

// checkBoot waits for the guest: its console shows the user_data and the
// default instance-id (uuid and the seed's short digest), and its agent
// reports the VM's name as the hostname, from local-hostname.
func (g *ciGuest) checkBoot(logPath, marker string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		c := testguest.WaitConsole(g.t, logPath, 3*time.Minute, "the user-data", func(c testguest.Console) bool {
			return c.Ready && c.Sections[cloudinit.UserDataFile] != ""
		})
		if !strings.Contains(c.Sections[cloudinit.UserDataFile], marker) {
			return fmt.Errorf("the guest read user-data %q, want the marker %s", c.Sections[cloudinit.UserDataFile], marker)
		}
		if want := instanceID(s.RootModule().Resources[vmRes].Primary.Attributes["uuid"], marker); c.InstanceID != want {
			return fmt.Errorf("instance-id %q, want %s (the uuid and the seed's short digest)", c.InstanceID, want)
		}
		g.t.Logf("guest ready after %s of uptime; seed on %s, instance-id %s", c.ReadyAfter, c.SeedDevice, c.InstanceID)
		host, err := testguest.AgentHostName(g.lv, g.domain(g.name), 2*time.Minute)
		if err != nil {
			return err
		}
		if host != g.name || c.Hostname != g.name {
			return fmt.Errorf("guest hostname %q (console %q), want the VM name %s", host, c.Hostname, g.name)
		}
		return nil
	}
}

// checkDomain fails unless the VM's domain is still defined.
func (g *ciGuest) checkDomain() error {
	if !g.domainExists(g.name) {
		return fmt.Errorf("domain %s is gone", g.name)
	}
	return nil
}

// addAgentChannel gives the domain the guest agent's channel, behind
// Terraform's back.
func (g *ciGuest) addAgentChannel(name string) {
	g.redefine(name, func(d *libvirtxml.Domain) {
		for _, c := range d.Devices.Channels {
			if c.Target != nil && c.Target.VirtIO != nil && c.Target.VirtIO.Name == testguest.AgentChannel {
				return
			}
		}
		d.Devices.Channels = append(d.Devices.Channels, libvirtxml.DomainChannel{
			Source: &libvirtxml.DomainChardevSource{UNIX: &libvirtxml.DomainChardevSourceUNIX{Mode: "bind"}},
			Target: &libvirtxml.DomainChannelTarget{VirtIO: &libvirtxml.DomainChannelTargetVirtIO{Name: testguest.AgentChannel}},
		})
	})
}

// removePool deletes a pool a failed test left behind, with its volumes
// and directory.
func removePool(e *vmEnv, name, dir string) {
	p, err := e.lv.StoragePoolLookupByName(name)
	if err != nil {
		return
	}
	vols, _, _ := e.lv.StoragePoolListAllVolumes(p, 1, 0)
	for _, v := range vols {
		_ = e.lv.StorageVolDelete(v, 0)
	}
	_ = e.lv.StoragePoolDestroy(p)
	_ = e.lv.StoragePoolUndefine(p)
	_ = os.RemoveAll(dir)
}

// TestAccVM_cloudInitBadInput: mistakes in the block are plan-time errors
// on the attribute (user_data over 1 MiB, meta_data that is not a mapping,
// no pool, a disk on the seed's target); a pool the host lacks and a host
// that cannot take uploads (the test driver) fail the apply before the
// domain is defined. Nothing is left: no domain, row, seed or console log.
func TestAccVM_cloudInitBadInput(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	name := "ci-" + e.name()
	t.Cleanup(func() { e.removeDomain(name) })
	st := storetest.Open(t, e.db)
	if err := st.PutHost(storetest.Ctx(t), store.Host{ID: "h", URI: acctest.TestURI}); err != nil {
		t.Fatal(err)
	}
	before := storetest.Snapshot(t, e.db)
	big := t.TempDir() + "/user-data"
	if err := os.WriteFile(big, []byte("#cloud-config\n"+strings.Repeat("#", cloudinit.MaxPartBytes)), 0o600); err != nil {
		t.Fatal(err)
	}
	vm := func(disk, block string) string {
		return acctest.ProviderConfig(e.db) + fmt.Sprintf(`
resource "virtumancer_vm" "t" {
  host_id = "h"
  name    = %q
  memory  = 64
  vcpu    = 1
  running = false
%s
  cloud_init {
%s  }
}
`, name, disk, block)
	}
	const pathDisk = "  disk {\n    path = \"/var/lib/ci-none.img\"\n  }\n"
	// The CLI wraps messages: a space in want matches any white space.
	step := func(config, want string) resource.TestStep {
		return resource.TestStep{Config: config, ExpectError: regexp.MustCompile(strings.ReplaceAll(want, " ", `\s+`))}
	}
	seedGone := func(*terraform.State) error {
		for _, v := range []string{name + "-cidata.iso", name + "-console.log"} {
			if ok, err := volumeExists(acctest.TestURI, "default-pool", v); err != nil || ok {
				return fmt.Errorf("volume %s left in default-pool (err %w)", v, err)
			}
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			step(vm("", fmt.Sprintf("    user_data = file(%q)\n    pool = \"default-pool\"\n", big)),
				`(?s)Invalid cloud_init.user_data.*is 1048590 bytes, over the limit of 1048576 bytes \(1 MiB\) by 14`),
			step(vm("", "    meta_data = \"instance-id x\\n\"\n    pool = \"default-pool\"\n"),
				`(?s)Invalid cloud_init.meta_data.*line 1 is not "key: value"`),
			step(vm("", "    meta_data = \"local-hostname: x\\n\"\n    pool = \"default-pool\"\n"),
				`(?s)Invalid cloud_init.meta_data.*has no instance-id`),
			step(vm("", "    user_data = \"#cloud-config\\n\"\n"), `(?s)Missing cloud_init.pool.*storage pool the seed volume goes to`),
			step(vm("  disk {\n    path   = \"/a.img\"\n    bus    = \"scsi\"\n    target = \"sdg\"\n  }\n", "    pool = \"default-pool\"\n"),
				`(?s)Disk target reserved for the seed.*"sdg" is the cloud_init seed's cdrom`),
			step(vm(pathDisk, "    user_data = \"#cloud-config\\n\"\n    pool = \"ci-no-such-pool\"\n"),
				`(?s)Storage pool not found.*cloud_init.pool "ci-no-such-pool".*Nothing was created`),
			step(vm(pathDisk, "    user_data = \"#cloud-config\\n\"\n    pool = \"default-pool\"\n"),
				`(?s)Unable to write the cloud-init seed.*cannot upload volumes.*partly written volume was deleted`),
			{Config: acctest.ProviderConfig(e.db), Check: resource.ComposeTestCheckFunc(e.unchanged(before, name), seedGone)},
		},
	})
}
