package resources

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"libvirt.org/go/libvirtxml"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// What a change of an attribute does to a running VM.
const (
	vmLive    = "live"
	vmRestart = "restart"
	vmReplace = "replace"
)

// Values of the restart attribute.
const (
	vmRestartAuto  = "auto"
	vmRestartNever = "never"
)

var vmRestartValues = []string{vmRestartAuto, vmRestartNever}

// vmHotplugBuses are the disk buses QEMU plugs into a running guest.
var vmHotplugBuses = []string{"virtio", "scsi"}

// vmChangeRule says, for one attribute, what changing it does to a running
// VM, and why.
type vmChangeRule struct {
	key, Attribute, Mode, Why string
}

// vmChangeRules is the one table that decides, for every attribute, whether
// a change reaches a running VM live, needs a restart or replaces it: the
// apply (applyLive), the plan's warnings (planRestart) and the docs (the
// resource description) all read it.
var vmChangeRules = []vmChangeRule{
	{"host_id", "`host_id`", vmReplace, "a domain lives on one host"},
	{"name", "`name`", vmReplace, "the name is the VM's identity on the host and in the store"},
	{"domain_type", "`domain_type`", vmReplace, "the hypervisor is chosen when the domain is defined"},
	{"memory", "`memory`", vmLive, "the balloon target of the running guest and the definition change together, up to `max_memory` " +
		"(a guest without a virtio balloon driver keeps its memory until its next boot)"},
	{"max_mem", "`max_memory`", vmRestart, "QEMU sizes a guest's memory when it starts"},
	{"vcpu", "`vcpu`", vmLive, "vCPUs are plugged into (or out of) the running guest and the definition together, up to `max_vcpu`; " +
		"a guest that does not release vCPUs being unplugged is restarted (the plan says it may be)"},
	{"vcpu.boot", "`vcpu` below the count the VM booted with", vmRestart, "QEMU unplugs only vCPUs that were plugged into " +
		"the running guest; those it booted with stay until it restarts"},
	{"max_vcpu", "`max_vcpu`", vmRestart, "QEMU fixes the most vCPUs a guest can have when it starts"},
	{"autostart", "`autostart`", vmLive, "a setting of the host's libvirtd, not of the guest"},
	{"running", "`running`", vmLive, "starts, shuts down, resumes or wakes the domain"},
	{"graphics", "`graphics`", vmRestart, "QEMU cannot add or remove a VNC or SPICE console on a running guest"},
	{"disk.hotplug", "`disk` on bus virtio or scsi", vmLive, "attached to or detached from the running guest and the definition " +
		"(a changed disk is detached, then attached again); a guest that does not release a disk keeps it until its next boot"},
	{"disk.other", "`disk` on bus sata or ide", vmRestart, "QEMU cannot plug sata or ide devices into a running guest"},
	{"nic.hotplug", "`network_interface` of model virtio", vmLive, "attached to or detached from the running guest and the definition " +
		"(a changed interface is detached, then attached again with its MAC)"},
	{"nic.other", "`network_interface` of another model", vmRestart, "only virtio interfaces are plugged into running guests"},
	{"settings", "`shutdown_timeout`, `restart`, `wait_for_ip`, `timeouts`", vmLive, "settings of the provider; " +
		"`wait_for_ip.source = \"agent\"` plugs the agent channel in live where the domain has a virtio-serial controller, else restarts"},
	{"cloud_init", "`cloud_init`", vmLive, "the seed volume is rewritten; cloud-init reads it at the guest's next boot"},
	{"other", "anything else the definition holds", vmRestart, "libvirt applies it when the domain next starts"},
}

func vmRule(key string) vmChangeRule {
	for _, r := range vmChangeRules {
		if r.key == key {
			return r
		}
	}
	return vmRule("other")
}

// vmChangeTable renders vmChangeRules as the Markdown table of the docs.
func vmChangeTable() string {
	var b strings.Builder
	b.WriteString("| attribute | on a running VM | why |\n|---|---|---|\n")
	for _, r := range vmChangeRules {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Attribute, r.Mode, r.Why)
	}
	return b.String()
}

// vmChange is one difference between what a running domain is and what it
// should be, with the rule that decides how it is applied.
type vmChange struct {
	field string // vminfo.Compare's field: memory, disks[vdb], interfaces[1].source...
	rule  vmChangeRule
}

func (c vmChange) String() string { return c.field + " (" + c.rule.Why + ")" }

// vmChanges classifies the differences between from (what runs) and to
// (what it should become) by vmChangeRules.
func vmChanges(from, to vminfo.VMInfo) []vmChange {
	return classify(vminfo.Compare(to, from), from, to)
}

// classify maps fields that differ onto their rules. Persistence and
// autostart are not the definition's (converge sets them).
func classify(drift []vminfo.Drift, from, to vminfo.VMInfo) []vmChange {
	var out []vmChange
	for _, d := range drift {
		if d.Field == "persistent" || d.Field == "autostart" {
			continue
		}
		out = append(out, vmChange{field: d.Field, rule: vmRule(ruleKey(d.Field, from, to))})
	}
	return out
}

// ruleKey maps a Compare field onto a key of vmChangeRules.
func ruleKey(field string, from, to vminfo.VMInfo) string {
	switch {
	case slices.Contains([]string{"memory", "max_mem", "vcpu", "max_vcpu", "graphics"}, field):
		return field
	case strings.HasPrefix(field, "disks["):
		target := strings.SplitN(strings.TrimPrefix(field, "disks["), "]", 2)[0]
		for _, d := range append(slices.Clone(from.Disks), to.Disks...) {
			if d.Target == target && !slices.Contains(vmHotplugBuses, d.Bus) {
				return "disk.other"
			}
		}
		return "disk.hotplug"
	case strings.HasPrefix(field, "interfaces["):
		i, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(field, "interfaces["), "]", 2)[0])
		for _, nics := range [][]vminfo.Interface{from.Interfaces, to.Interfaces} {
			if i < len(nics) && nics[i].Model != "" && nics[i].Model != "virtio" {
				return "nic.other"
			}
		}
		return "nic.hotplug"
	}
	return "other"
}

// needRestart lists the changes that only a restart applies.
func needRestart(changes []vmChange) []vmChange {
	var out []vmChange
	for _, c := range changes {
		if c.rule.Mode != vmLive {
			out = append(out, c)
		}
	}
	return out
}

func changeList(changes []vmChange) string {
	parts := make([]string, len(changes))
	for i, c := range changes {
		parts[i] = c.String()
	}
	return strings.Join(parts, "; ")
}

// liveOrRestart redefines the domain and brings a running one to the new
// definition: live where vmChangeRules say so, else by a restart, which
// only happens with restart = "auto" when the plan announced it (planned
// domain_id unknown). It returns whether converge must restart the domain.
func (r *vmResource) liveOrRestart(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, plan vmModel, diags *diag.Diagnostics) (restart, ok bool) {
	red, ok := r.redefine(ctx, conn, dom, plan, diags)
	if !ok {
		return false, false
	}
	forAgent, err := agentNeedsRestart(ctx, conn, dom, plan)
	if err != nil {
		diags.AddError("Unable to read the domain", err.Error())
		return false, false
	}
	restartFor := needRestart(red.changes)
	if forAgent { // the agent channel, which this running domain can only get at a boot
		restartFor = append(restartFor, vmChange{field: "wait_for_ip.source", rule: vmChangeRule{Mode: vmRestart,
			Why: "the agent channel needs a virtio-serial controller, which QEMU cannot plug in live"}})
	}
	if !plan.Running.ValueBool() {
		return false, true // converge stops it anyway
	}
	if len(restartFor) > 0 && plan.Restart.ValueString() == vmRestartAuto && plan.DomainID.IsUnknown() {
		return true, true
	}
	if len(restartFor) > 0 && plan.Restart.ValueString() == vmRestartAuto {
		// The plan promised no restart (and pending_restart = false): the
		// domain changed after it was made.
		diags.AddError("VM "+strconv.Quote(dom.Name)+" needs a restart the plan did not announce",
			fmt.Sprintf("vm %q on host %q: %s. The domain changed after the plan was made; its definition has the change, "+
				"the running guest does not. Plan and apply again: the plan then announces the restart.",
				dom.Name, conn.HostID(), changeList(restartFor)))
		return false, false
	}
	if len(restartFor) > 0 {
		diags.AddWarning("VM "+strconv.Quote(dom.Name)+" waits for a restart",
			fmt.Sprintf("vm %q on host %q was not restarted (restart = \"never\"): its definition has the change, the running "+
				"guest does not: %s. pending_restart stays true until the VM restarts.", dom.Name, conn.HostID(), changeList(restartFor)))
	}
	if len(red.changes) == len(needRestart(red.changes)) {
		return false, true
	}
	if red.vcpuDown > 0 {
		// Before the rest: when the guest keeps the vCPUs, a restart applies everything.
		if restart, ok := unplugLive(ctx, conn, dom, plan, red.vcpuDown, diags); restart || !ok {
			return restart, ok
		}
	}
	return false, applyLive(ctx, conn, dom, red.memoryChanged, red.vcpuDown > 0, diags)
}

// vmOnlineWait bounds the wait for the guest to see plugged vCPUs.
const vmOnlineWait = 15 * time.Second

// vmDetachWait bounds the wait for a guest to release a detached device.
const vmDetachWait = 30 * time.Second

// applyLive brings the running domain to its (just redefined) persistent
// definition without a restart: balloon, vCPUs, and the disks and
// interfaces that differ, detached and attached. memoryChanged says the
// definition's memory changed (the live <currentMemory> is the balloon's
// actual size, which is not comparable); vcpusDone that unplugLive already
// did (or left) the vCPUs. It returns what is still pending.
func applyLive(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, memoryChanged, vcpusDone bool, diags *diag.Diagnostics) bool {
	liveDoc, err := conn.DomainXML(ctx, dom, false)
	if err != nil {
		diags.AddError("Unable to read the running domain", err.Error())
		return false
	}
	defDoc, err := conn.DomainXML(ctx, dom, true)
	if err != nil {
		diags.AddError("Unable to read the domain definition", err.Error())
		return false
	}
	var live, def libvirtxml.Domain
	if err := live.Unmarshal(liveDoc); err != nil {
		diags.AddError("Unable to read the running domain", err.Error())
		return false
	}
	if err := def.Unmarshal(defDoc); err != nil {
		diags.AddError("Unable to read the domain definition", err.Error())
		return false
	}
	liveInfo, err1 := vminfo.FromXML(liveDoc, vminfo.Runtime{})
	defInfo, err2 := vminfo.FromXML(defDoc, vminfo.Runtime{})
	if err := firstError(err1, err2); err != nil {
		diags.AddError("Unable to read the domain", err.Error())
		return false
	}
	if memoryChanged {
		tflog.Info(ctx, "setting the balloon", map[string]any{"kib": defInfo.Memory})
		if err := conn.SetMemoryLive(ctx, dom, defInfo.Memory); err != nil {
			diags.AddError("Unable to change the memory of the running VM", err.Error()+
				"\nThe definition has the new memory; it applies at the next boot.")
			return false
		}
	}
	if _, boot := vcpuUnplugChange(liveDoc, liveInfo.Vcpu, defInfo.Vcpu); liveInfo.Vcpu != defInfo.Vcpu && !boot && !vcpusDone {
		tflog.Info(ctx, "setting vcpus live", map[string]any{"vcpu": defInfo.Vcpu})
		if err := conn.SetVcpusLive(ctx, dom, defInfo.Vcpu); err != nil {
			diags.AddError("Unable to change the vCPUs of the running VM", err.Error()+
				"\nThe definition has the new count; it applies at the next boot.")
			return false
		}
		onlineVcpus(ctx, conn, dom, &live, defInfo.Vcpu, diags)
	}
	return plugDisks(ctx, conn, dom, &live, &def, diags) && plugNICs(ctx, conn, dom, &live, &def, diags)
}

// onlineVcpus has the guest agent, when the domain has its channel, bring
// the plugged vCPUs online; a guest with udev does that itself.
func onlineVcpus(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, live *libvirtxml.Domain, n uint, diags *diag.Diagnostics) {
	if !vminfo.HasAgentChannel(live.Devices) {
		return
	}
	// The guest sees a plugged vCPU only once it handled the ACPI event:
	// until then the agent reports fewer vCPUs than asked for.
	err := conn.OnlineVcpus(ctx, dom, n)
	for deadline := time.Now().Add(vmOnlineWait); err != nil && time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(time.Second)
		err = conn.OnlineVcpus(ctx, dom, n)
	}
	if err != nil {
		diags.AddWarning("vCPUs plugged in but maybe offline in the guest",
			fmt.Sprintf("vm %q has %d vCPUs now, but the guest agent could not bring them online (%v). "+
				"A guest with udev does that itself; else run `chcpu -e` in the guest.", dom.Name, n, err))
	}
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// plugDisks detaches the live disks the definition no longer has as they
// are, and attaches the definition's disks the guest lacks, by target.
func plugDisks(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, live, def *libvirtxml.Domain, diags *diag.Diagnostics) bool {
	liveDisks, defDisks := devDisks(live), devDisks(def)
	for i, ld := range liveDisks {
		if j := diskByTarget(defDisks, ld); (j >= 0 && sameDisk(live, def, i, j)) || !hotplugDisk(ld) {
			continue
		}
		target := ld.Target.Dev
		ld.Address = nil
		doc, err := ld.Marshal()
		if err == nil {
			err = detach(ctx, conn, dom, doc, "disk "+target, func(x *libvirtxml.Domain) bool { return diskByTarget(devDisks(x), ld) >= 0 })
		}
		if err != nil {
			diags.AddError("Unable to detach a disk from the running VM", err.Error())
			return false
		}
	}
	for j, dd := range defDisks {
		if i := diskByTarget(liveDisks, dd); (i >= 0 && sameDisk(live, def, i, j)) || !hotplugDisk(dd) {
			continue
		}
		dd.Address = nil // the live domain picks its own slot
		doc, err := dd.Marshal()
		if err == nil {
			tflog.Info(ctx, "attaching disk live", map[string]any{"target": dd.Target.Dev})
			err = conn.AttachLive(ctx, dom, doc)
		}
		if err != nil {
			diags.AddError("Unable to attach a disk to the running VM", err.Error()+
				"\nThe definition has the disk; it is attached at the next boot.")
			return false
		}
	}
	return true
}

// hotplugDisk tells whether the table lets a disk change live: a target on
// a hot-pluggable bus (others wait for the restart).
func hotplugDisk(d libvirtxml.DomainDisk) bool {
	return d.Target != nil && d.Target.Dev != "" && slices.Contains(vmHotplugBuses, d.Target.Bus)
}

// hotplugNIC is hotplugDisk for interfaces: virtio ones with a MAC.
func hotplugNIC(n libvirtxml.DomainInterface) bool {
	return macOf(n) != "" && n.Model != nil && n.Model.Type == "virtio"
}

func devDisks(d *libvirtxml.Domain) []libvirtxml.DomainDisk {
	if d.Devices == nil {
		return nil
	}
	return d.Devices.Disks
}

func diskByTarget(disks []libvirtxml.DomainDisk, d libvirtxml.DomainDisk) int {
	if d.Target == nil {
		return -1
	}
	for i, x := range disks {
		if x.Target != nil && x.Target.Dev == d.Target.Dev {
			return i
		}
	}
	return -1
}

// sameDisk compares disk i of live with disk j of def as vminfo reads them.
func sameDisk(live, def *libvirtxml.Domain, i, j int) bool {
	a, b := diskInfo(live.Devices.Disks[i]), diskInfo(def.Devices.Disks[j])
	if a.Format == "" || b.Format == "" {
		a.Format, b.Format = "", ""
	}
	return a == b
}

func diskInfo(d libvirtxml.DomainDisk) vminfo.Disk {
	doc := libvirtxml.Domain{Name: "x", Memory: &libvirtxml.DomainMemory{Value: 1},
		Devices: &libvirtxml.DomainDeviceList{Disks: []libvirtxml.DomainDisk{d}}}
	s, err := doc.Marshal()
	if err != nil {
		return vminfo.Disk{}
	}
	v, err := vminfo.FromXML(s, vminfo.Runtime{})
	if err != nil || len(v.Disks) != 1 {
		return vminfo.Disk{}
	}
	return v.Disks[0]
}

// plugNICs does for interfaces what plugDisks does for disks, keyed by MAC.
func plugNICs(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, live, def *libvirtxml.Domain, diags *diag.Diagnostics) bool {
	liveNICs, defNICs := devNICs(live), devNICs(def)
	for _, ln := range liveNICs {
		if j := nicByMAC(defNICs, ln); (j >= 0 && sameNIC(ln, defNICs[j])) || !hotplugNIC(ln) {
			continue
		}
		mac := macOf(ln)
		doc, err := ln.Marshal()
		if err == nil {
			err = detach(ctx, conn, dom, doc, "interface "+mac, func(x *libvirtxml.Domain) bool { return nicByMAC(devNICs(x), ln) >= 0 })
		}
		if err != nil {
			diags.AddError("Unable to detach a network interface from the running VM", err.Error())
			return false
		}
	}
	for _, dn := range defNICs {
		if i := nicByMAC(liveNICs, dn); (i >= 0 && sameNIC(liveNICs[i], dn)) || !hotplugNIC(dn) {
			continue
		}
		dn.Address = nil
		doc, err := dn.Marshal()
		if err == nil {
			tflog.Info(ctx, "attaching interface live", map[string]any{"mac": macOf(dn)})
			err = conn.AttachLive(ctx, dom, doc)
		}
		if err != nil {
			diags.AddError("Unable to attach a network interface to the running VM", err.Error()+
				"\nThe definition has the interface; it is attached at the next boot.")
			return false
		}
	}
	return true
}

func devNICs(d *libvirtxml.Domain) []libvirtxml.DomainInterface {
	if d.Devices == nil {
		return nil
	}
	return d.Devices.Interfaces
}

func macOf(n libvirtxml.DomainInterface) string {
	if n.MAC == nil {
		return ""
	}
	return strings.ToLower(n.MAC.Address)
}

func nicByMAC(nics []libvirtxml.DomainInterface, n libvirtxml.DomainInterface) int {
	mac := macOf(n)
	for i, x := range nics {
		if mac != "" && macOf(x) == mac {
			return i
		}
	}
	return -1
}

// sameNIC compares what the provider manages of an interface: its source
// and model (the live one carries a tap device and an alias besides).
func sameNIC(a, b libvirtxml.DomainInterface) bool {
	src := func(n libvirtxml.DomainInterface) string {
		switch {
		case n.Source == nil:
			return ""
		case n.Source.Network != nil:
			return "network:" + n.Source.Network.Network
		case n.Source.Bridge != nil:
			return "bridge:" + n.Source.Bridge.Bridge
		}
		return "other"
	}
	model := func(n libvirtxml.DomainInterface) string {
		if n.Model == nil {
			return ""
		}
		return n.Model.Type
	}
	return src(a) == src(b) && model(a) == model(b)
}

// detach unplugs one device and waits for the guest to release it. A
// device the guest keeps past vmDetachWait is an error: the definition no
// longer has it, so it goes at the next boot (pending_restart says so).
func detach(ctx context.Context, conn *hypervisor.Conn, dom hypervisor.Domain, doc, what string, present func(*libvirtxml.Domain) bool) error {
	tflog.Info(ctx, "detaching live", map[string]any{"device": what})
	gone, err := conn.DetachDevice(ctx, dom, doc, false, vmDetachWait, present)
	switch {
	case err != nil:
		return err
	case !gone:
		return fmt.Errorf("domain %q: the guest did not release %s within %s (its OS must support hot-unplug); "+
			"the definition no longer has it, so it goes at the next boot: restart the VM, or apply again", dom.Name, what, vmDetachWait)
	}
	return nil
}
