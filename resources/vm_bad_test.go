package resources_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
)

// vmOn renders a VM on a literal host id (no virtumancer_host resource).
func (e *vmEnv) vmOn(hostID, name string) string {
	return acctest.ProviderConfig(e.db) + fmt.Sprintf(`
resource "virtumancer_vm" "t" {
  host_id = %q
  name    = %q
  memory  = 64
  vcpu    = 1
}
`, hostID, name)
}

// unchanged asserts the store's tables are as before and no domain of
// that name exists.
func (e *vmEnv) unchanged(before, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if after := storetest.Snapshot(e.t, e.db); after != before {
			return fmt.Errorf("store changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if e.domainExists(name) {
			return fmt.Errorf("domain %s was left on the host", name)
		}
		return nil
	}
}

// TestAccVM_hostProblems: an unknown host_id is an attribute error; a host
// whose libvirtd does not answer, or whose URI is invalid, is an error
// naming the host and its (redacted) URI; an import id without a slash or
// naming no domain is refused. Nothing is written or defined.
func TestAccVM_hostProblems(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	name := e.name()
	st := storetest.Open(t, e.db)
	ctx := storetest.Ctx(t)
	for _, h := range []store.Host{
		{ID: "h", URI: acctest.TestURI},
		{ID: "down", URI: "qemu+unix:///system?socket=/nonexistent/libvirt-sock"},
		{ID: "bogus", URI: "vbox+ftp://user:secret@x/system"},
	} {
		if err := st.PutHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	before := storetest.Snapshot(t, e.db)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      e.vmOn("nope", name),
				ExpectError: regexp.MustCompile(`(?s)Unknown host.*host_id "nope" is not in the store`),
			},
			{
				Config:      e.vmOn("down", name),
				ExpectError: regexp.MustCompile(`(?s)Unable to reach the host.*host "down" \(qemu\+unix:///system\?socket=/nonexistent/libvirt-sock\)`),
			},
			{
				Config:      e.vmOn("bogus", name),
				ExpectError: regexp.MustCompile(`(?s)Unable to reach the host.*bogus`),
			},
			{
				Config:        e.vmOn("h", name),
				ResourceName:  vmRes,
				ImportState:   true,
				ImportStateId: "h:" + name,
				ExpectError:   regexp.MustCompile("(?s)Invalid import id.*Expected `host_id/name`"),
			},
			{
				Config:        e.vmOn("h", name),
				ResourceName:  vmRes,
				ImportState:   true,
				ImportStateId: "h/" + name,
				ExpectError:   regexp.MustCompile(`(?s)Domain not found.*domain "` + name + `" does not exist on host "h"`),
			},
			{
				// Nothing left behind.
				Config: acctest.ProviderConfig(e.db),
				Check:  e.unchanged(before, name),
			},
		},
	})
}

// TestAccVM_nameTaken: a domain Terraform does not manage keeps its name;
// the error says how to import it, and the domain is left untouched.
// Importing it then records its configuration, and HCL matching it plans
// nothing.
func TestAccVM_nameTaken(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	name := e.name()
	const xml = `<domain type="test"><name>%s</name><memory unit="MiB">32</memory><vcpu>1</vcpu>` +
		`<os><type arch="x86_64">hvm</type></os></domain>`
	dom, err := e.lv.DomainDefineXML(fmt.Sprintf(xml, name))
	if err != nil {
		t.Fatal(err)
	}
	defBefore := e.inactiveXML(name)
	var before string
	adopted := e.testVM(name, 32, 1, `
  running  = false
  graphics = "none"`)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: e.hostHCL(),
				Check: func(*terraform.State) error {
					before = storetest.Snapshot(t, e.db)
					return nil
				},
			},
			{
				Config: e.testVM(name, 64, 1, ""),
				ExpectError: regexp.MustCompile(`(?s)Domain already exists.*domain "` + name + `" already exists on host "h";` +
					`\s+import it with\s+` + "`terraform\\s+import\\s+virtumancer_vm.NAME\\s+h/" + name + "`"),
			},
			{
				Config: e.hostHCL(),
				Check: func(*terraform.State) error {
					if after := storetest.Snapshot(t, e.db); after != before {
						return fmt.Errorf("store changed:\n%s\n%s", before, after)
					}
					if got := e.inactiveXML(name); got != defBefore {
						return fmt.Errorf("the unmanaged domain was changed:\n%s\n%s", defBefore, got)
					}
					if d := e.domain(name); d.UUID != dom.UUID {
						return fmt.Errorf("the unmanaged domain was replaced")
					}
					return nil
				},
			},
			{
				// Importing it adopts it: its configuration is recorded.
				Config:             adopted,
				ResourceName:       vmRes,
				ImportState:        true,
				ImportStateId:      "h/" + name,
				ImportStatePersist: true,
				ImportStateCheck: func([]*terraform.InstanceState) error {
					vm, err := e.row(name)
					if err != nil {
						return fmt.Errorf("import did not record the domain: %w", err)
					}
					return recordedMemory(32 * 1024)(vm)
				},
			},
			{
				// HCL that matches the domain plans nothing after import.
				Config: adopted,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					expect("state", knownvalue.StringExact("shut off")),
					expect("drift", knownvalue.ListSizeExact(0)),
				},
			},
		},
	})
}

// TestAccVM_unreadableRecord: a config_json that is not VMInfo (corrupt, or
// `null`) is the verdict record_unreadable: the refresh warns naming the row
// and the remedy, the plan proposes the update that records the VM again and
// writes nothing, and the apply re-records it.
func TestAccVM_unreadableRecord(t *testing.T) {
	acctest.PreCheck(t)
	for _, bad := range []string{`{"memory": "lots"`, `null`} {
		t.Run(bad, func(t *testing.T) {
			e := newVMEnv(t, acctest.TestURI)
			name := e.name()
			config := e.testVM(name, 64, 1, "")
			var before, defBefore string
			var rowID int64
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps: []resource.TestStep{
					{Config: config},
					{
						PreConfig: func() {
							storetest.Exec(t, e.db, `UPDATE virtual_machines SET config_json = ? WHERE name = ?`, bad, name)
							before, defBefore = storetest.Snapshot(t, e.db), e.inactiveXML(name)
							rowID = mustRowID(t, e, name)
						},
						Config: config,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(vmRes, plancheck.ResourceActionUpdate),
							planWroteNothing(t, e, &before, &defBefore, name),
							warnedUnreadable(e, name, &rowID),
						}},
						ConfigStateChecks: []statecheck.StateCheck{
							expect("config_json", configJSON(jsonMemory(64*1024))),
							expect("drift", knownvalue.ListSizeExact(0)),
						},
						Check: resource.ComposeTestCheckFunc(e.checkRow(name, recordedMemory(64*1024)), func(*terraform.State) error {
							if id := mustRowID(t, e, name); id != rowID {
								return fmt.Errorf("the apply recorded the VM in row %d, want the same row %d", id, rowID)
							}
							return nil
						}),
					},
				},
			})
		})
	}
}

// planWroteNothing fails when the plan changed the store or the domain.
func planWroteNothing(t *testing.T, e *vmEnv, snap, def *string, name string) plancheck.PlanCheck {
	return planCheckFunc(func(resp *plancheck.CheckPlanResponse) {
		if after := storetest.Snapshot(t, e.db); after != *snap {
			resp.Error = fmt.Errorf("the plan changed the store:\n%s\n%s", *snap, after)
		}
		if got := e.inactiveXML(name); got != *def {
			resp.Error = fmt.Errorf("the plan changed the domain")
		}
	})
}

// warnedUnreadable reads the VM as a refresh does and wants the warning
// that names the row and says the next apply records it again.
func warnedUnreadable(e *vmEnv, name string, rowID *int64) plancheck.PlanCheck {
	return planCheckFunc(func(resp *plancheck.CheckPlanResponse) {
		diags := e.readVM(name)
		if diags.HasError() {
			resp.Error = fmt.Errorf("refresh failed on an unreadable record, want a warning: %v", diags)
			return
		}
		for _, d := range diags.Warnings() {
			if d.Summary() == "Unreadable recorded configuration" &&
				strings.Contains(d.Detail(), fmt.Sprintf("row %d", *rowID)) &&
				strings.Contains(d.Detail(), "next apply of this VM records its configuration again") {
				return
			}
		}
		resp.Error = fmt.Errorf("no warning naming row %d and the remedy among %v", *rowID, diags)
	})
}

type planCheckFunc func(*plancheck.CheckPlanResponse)

func (f planCheckFunc) CheckPlan(_ context.Context, _ plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	f(resp)
}

func mustRowID(t *testing.T, e *vmEnv, name string) int64 {
	t.Helper()
	st := e.openStore()
	defer st.Close()
	rows, err := st.ListVMs(context.Background(), e.hostID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Name == name {
			return r.ID
		}
	}
	t.Fatalf("no row for %s", name)
	return 0
}

// TestAccVM_readOnlyStore: with the store file immutable (even root cannot
// write it), create fails before anything is defined, and the store and
// host are unchanged.
func TestAccVM_readOnlyStore(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	e.db = acctest.StorePath(t) // an immutable file: SQLite whatever VIRTUMANCER_TEST_STORE says
	name := e.name()
	st := storetest.Open(t, e.db)
	if err := st.PutHost(storetest.Ctx(t), store.Host{ID: e.hostID, URI: e.uri}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.MakeReadOnly(t, e.db)
	before := storetest.Snapshot(t, e.db)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      e.vmOn(e.hostID, name),
				ExpectError: regexp.MustCompile(`(?s)The store is not writable.*read-only.*Nothing was changed\s+on\s+the\s+host`),
			},
			{
				Config: acctest.ProviderConfig(e.db),
				Check:  e.unchanged(before, name),
			},
		},
	})
}

// TestAccVM_invalidConfig: configuration mistakes are attribute errors at
// plan time, each saying what is allowed, before anything is contacted.
func TestAccVM_invalidConfig(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	vm := func(body string) string {
		return acctest.ProviderConfig(e.db) + `
resource "virtumancer_vm" "t" {
  host_id = "h"
  name    = "acc-invalid"
  memory  = 64
  vcpu    = 1
` + body + "\n}\n"
	}
	var steps []resource.TestStep
	for _, tc := range []struct{ body, want string }{
		{`graphics = "rdp"`, `graphics value must be one of: \["vnc" "spice" "none"\]`},
		{`max_memory = 32`, `max_memory value must be at least sum of memory`},
		{`shutdown_timeout = "soon"`, `"soon" is not a duration`},
		{`domain_type = "xen"`, `domain_type value must be one of: \["kvm" "qemu" "test"\]`},
		{"disk {\n path = \"/a.img\"\n pool = \"default\"\n volume = \"v\"\n}", `(?s)Invalid Attribute Combination.*volume`},
		{"disk {\n pool = \"default\"\n}", `(?s)Invalid Attribute Combination`},
		{"disk {\n path = \"a.img\"\n}", `must be an absolute path`},
		{"disk {\n bus = \"sata\"\n}", `(?s)Missing disk source.*only a cdrom`},
		{"disk {\n path = \"/a.iso\"\n device = \"cdrom\"\n bus = \"virtio\"\n}", `QEMU has no virtio cdrom`},
		{"disk {\n path = \"/a.iso\"\n device = \"cdrom\"\n read_only = false\n}", `A cdrom is always read-only`},
		{"disk {\n path = \"/a\"\n target = \"vdb\"\n}\ndisk {\n path = \"/b\"\n target = \"vdb\"\n}", `Target "vdb" is already used by disk 0`},
		{"network_interface {\n network = \"default\"\n bridge = \"br0\"\n}", `(?s)Invalid Attribute Combination.*bridge`},
		{"network_interface {\n network = \"default\"\n mac = \"01:00:5e:00:00:01\"\n}", `must be a unicast MAC`},
		{"wait_for_ip {\n source = \"dns\"\n}", `source value must be one of: \["lease" "agent" "arp"\]`},
	} {
		steps = append(steps, resource.TestStep{Config: vm(tc.body), PlanOnly: true, ExpectError: regexp.MustCompile(tc.want)})
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories, Steps: steps})
}

// TestAccVM_hostUnreachableOnRead: when the host of a managed VM stops
// answering, refresh is an error naming the host and the state keeps the
// VM; once the host answers again, the plan is empty.
func TestAccVM_hostUnreachableOnRead(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	name := e.name()
	putHost := func(uri string) func() {
		return func() {
			st := storetest.Open(t, e.db)
			defer st.Close()
			if err := st.PutHost(storetest.Ctx(t), store.Host{ID: e.hostID, URI: uri}); err != nil {
				t.Fatal(err)
			}
		}
	}
	config := e.vmOn(e.hostID, name)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{PreConfig: putHost(acctest.TestURI), Config: config},
			{
				PreConfig:    putHost("qemu+unix:///system?socket=/nonexistent/libvirt-sock"),
				RefreshState: true,
				ExpectError:  regexp.MustCompile(`(?s)Unable to reach the host.*host "h"`),
			},
			{
				PreConfig: putHost(acctest.TestURI),
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{expect("state", knownvalue.StringExact("running"))},
			},
		},
	})
}

// TestAccVM_createFailureCleansUp: when a create fails after the domain
// was defined (here wait_for_ip times out: the VM has no interface), the
// domain is undefined again and the store is untouched.
func TestAccVM_createFailureCleansUp(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	name := e.name()
	var before string

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: e.hostHCL(),
				Check: func(*terraform.State) error {
					before = storetest.Snapshot(t, e.db)
					return nil
				},
			},
			{
				Config: e.testVM(name, 64, 1, `
  wait_for_ip {
    timeout = "2s"
  }`),
				ExpectError: regexp.MustCompile(`(?s)Unable to start the VM.*got no IP address from source "lease"\s+within\s+2s.*was\s+undefined\s+again`),
			},
			{
				Config: e.hostHCL(),
				Check: func(s *terraform.State) error {
					return e.unchanged(before, name)(s)
				},
			},
		},
	})
}
