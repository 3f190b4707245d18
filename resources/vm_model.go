package resources

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/sizes"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// vmModel is the virtumancer_vm resource data.
type vmModel struct {
	HostID          types.String   `tfsdk:"host_id"`
	Name            types.String   `tfsdk:"name"`
	Vcpu            types.Int64    `tfsdk:"vcpu"`
	Memory          types.Int64    `tfsdk:"memory"`
	MaxMemory       types.Int64    `tfsdk:"max_memory"`
	MaxVcpu         types.Int64    `tfsdk:"max_vcpu"`
	Restart         types.String   `tfsdk:"restart"`
	Autostart       types.Bool     `tfsdk:"autostart"`
	Running         types.Bool     `tfsdk:"running"`
	Graphics        types.String   `tfsdk:"graphics"`
	DomainType      types.String   `tfsdk:"domain_type"`
	ShutdownTimeout types.String   `tfsdk:"shutdown_timeout"`
	Disks           types.List     `tfsdk:"disk"`
	Interfaces      types.List     `tfsdk:"network_interface"`
	WaitForIP       types.Object   `tfsdk:"wait_for_ip"`
	CloudInit       types.Object   `tfsdk:"cloud_init"`
	Timeouts        timeouts.Value `tfsdk:"timeouts"`

	ID             types.String `tfsdk:"id"`
	UUID           types.String `tfsdk:"uuid"`
	DomainID       types.Int64  `tfsdk:"domain_id"`
	State          types.String `tfsdk:"state"`
	ConfigJSON     types.String `tfsdk:"config_json"`
	Drift          types.List   `tfsdk:"drift"`
	Unmanaged      types.List   `tfsdk:"unmanaged_devices"`
	PendingRestart types.Bool   `tfsdk:"pending_restart"`
	IPAddresses    types.List   `tfsdk:"ip_addresses"`
	ConsoleLog     types.String `tfsdk:"console_log"`
}

// vmDiskModel is one disk block.
type vmDiskModel struct {
	Pool     types.String `tfsdk:"pool"`
	Volume   types.String `tfsdk:"volume"`
	Path     types.String `tfsdk:"path"`
	Device   types.String `tfsdk:"device"`
	Bus      types.String `tfsdk:"bus"`
	ReadOnly types.Bool   `tfsdk:"read_only"`
	Target   types.String `tfsdk:"target"`
	Format   types.String `tfsdk:"format"`
}

// vmNICModel is one network_interface block.
type vmNICModel struct {
	Network types.String `tfsdk:"network"`
	Bridge  types.String `tfsdk:"bridge"`
	Model   types.String `tfsdk:"model"`
	MAC     types.String `tfsdk:"mac"`
}

// vmWaitModel is the wait_for_ip block.
type vmWaitModel struct {
	Source  types.String `tfsdk:"source"`
	Timeout types.String `tfsdk:"timeout"`
}

var (
	diskAttrTypes = map[string]attr.Type{
		"pool": types.StringType, "volume": types.StringType, "path": types.StringType,
		"device": types.StringType, "bus": types.StringType, "read_only": types.BoolType,
		"target": types.StringType, "format": types.StringType,
	}
	nicAttrTypes = map[string]attr.Type{
		"network": types.StringType, "bridge": types.StringType, "model": types.StringType, "mac": types.StringType,
	}
	waitAttrTypes = map[string]attr.Type{"source": types.StringType, "timeout": types.StringType}
	diskObjType   = types.ObjectType{AttrTypes: diskAttrTypes}
	nicObjType    = types.ObjectType{AttrTypes: nicAttrTypes}
	driftObjType  = types.ObjectType{AttrTypes: driftAttrTypes}
)

// vmAttrTypes are the attribute types of the virtumancer_vm schema.
var vmAttrTypes = sync.OnceValue(func() map[string]attr.Type {
	return vmSchemaV0(context.Background()).Type().(types.ObjectType).AttrTypes
})

// vmData is what getVM and setVM work on: tfsdk.State, Plan or Config.
type vmData interface {
	Get(ctx context.Context, target any) diag.Diagnostics
}

// getVM reads the whole resource data into m, as Get(ctx, m) would, but
// field by field instead of through the framework's struct reflection
// (which compiles a regexp per struct field on every call: most of the
// provider's own CPU time in a refresh of many VMs).
func getVM(ctx context.Context, src vmData, m *vmModel) diag.Diagnostics {
	_, diags := getVMObject(ctx, src, m)
	return diags
}

// getVMObject is getVM that also returns the resource data as one object.
func getVMObject(ctx context.Context, src vmData, m *vmModel) (types.Object, diag.Diagnostics) {
	var obj types.Object
	diags := src.Get(ctx, &obj)
	if diags.HasError() {
		return obj, diags
	}
	a := obj.Attributes()
	var bad []string
	vmAttr(a, "host_id", &m.HostID, &bad)
	vmAttr(a, "name", &m.Name, &bad)
	vmAttr(a, "vcpu", &m.Vcpu, &bad)
	vmAttr(a, "memory", &m.Memory, &bad)
	vmAttr(a, "max_memory", &m.MaxMemory, &bad)
	vmAttr(a, "max_vcpu", &m.MaxVcpu, &bad)
	vmAttr(a, "restart", &m.Restart, &bad)
	vmAttr(a, "autostart", &m.Autostart, &bad)
	vmAttr(a, "running", &m.Running, &bad)
	vmAttr(a, "graphics", &m.Graphics, &bad)
	vmAttr(a, "domain_type", &m.DomainType, &bad)
	vmAttr(a, "shutdown_timeout", &m.ShutdownTimeout, &bad)
	vmAttr(a, "disk", &m.Disks, &bad)
	vmAttr(a, "network_interface", &m.Interfaces, &bad)
	vmAttr(a, "wait_for_ip", &m.WaitForIP, &bad)
	vmAttr(a, "cloud_init", &m.CloudInit, &bad)
	vmAttr(a, "timeouts", &m.Timeouts, &bad)
	vmAttr(a, "id", &m.ID, &bad)
	vmAttr(a, "uuid", &m.UUID, &bad)
	vmAttr(a, "domain_id", &m.DomainID, &bad)
	vmAttr(a, "state", &m.State, &bad)
	vmAttr(a, "config_json", &m.ConfigJSON, &bad)
	vmAttr(a, "drift", &m.Drift, &bad)
	vmAttr(a, "unmanaged_devices", &m.Unmanaged, &bad)
	vmAttr(a, "pending_restart", &m.PendingRestart, &bad)
	vmAttr(a, "ip_addresses", &m.IPAddresses, &bad)
	vmAttr(a, "console_log", &m.ConsoleLog, &bad)
	if len(bad) > 0 || len(a) != len(vmAttrTypes()) {
		diags.Append(providerdata.Bug(fmt.Sprintf("virtumancer_vm data does not match vmModel (attributes %v of %d)", bad, len(a))))
	}
	return obj, diags
}

func vmAttr[T attr.Value](a map[string]attr.Value, name string, dst *T, bad *[]string) {
	v, ok := a[name].(T)
	if !ok {
		*bad = append(*bad, name)
		return
	}
	*dst = v
}

// setVM writes m as the whole resource data, as Set(ctx, &m) would,
// without the framework's struct reflection (see getVM).
func setVM(ctx context.Context, dst interface {
	Set(ctx context.Context, val any) diag.Diagnostics
}, m vmModel) diag.Diagnostics {
	obj, diags := vmObject(m)
	if diags.HasError() {
		return diags
	}
	return dst.Set(ctx, obj)
}

// vmObject is m as one object of the schema's type.
func vmObject(m vmModel) (types.Object, diag.Diagnostics) {
	obj, diags := types.ObjectValue(vmAttrTypes(), map[string]attr.Value{
		"host_id":           m.HostID,
		"name":              m.Name,
		"vcpu":              m.Vcpu,
		"memory":            m.Memory,
		"max_memory":        m.MaxMemory,
		"max_vcpu":          m.MaxVcpu,
		"restart":           m.Restart,
		"autostart":         m.Autostart,
		"running":           m.Running,
		"graphics":          m.Graphics,
		"domain_type":       m.DomainType,
		"shutdown_timeout":  m.ShutdownTimeout,
		"disk":              m.Disks,
		"network_interface": m.Interfaces,
		"wait_for_ip":       m.WaitForIP,
		"cloud_init":        m.CloudInit,
		"timeouts":          m.Timeouts,
		"id":                m.ID,
		"uuid":              m.UUID,
		"domain_id":         m.DomainID,
		"state":             m.State,
		"config_json":       m.ConfigJSON,
		"drift":             m.Drift,
		"unmanaged_devices": m.Unmanaged,
		"pending_restart":   m.PendingRestart,
		"ip_addresses":      m.IPAddresses,
		"console_log":       m.ConsoleLog,
	})
	if diags.HasError() {
		diags.Append(providerdata.Bug("virtumancer_vm: vmModel does not match the schema"))
	}
	return obj, diags
}

const vmMiB = sizes.KiBPerMiB

// checkedKiB converts a memory attribute; the plan-time validator already
// refused what does not fit, so an overflow here is a bug, never a wrapped size.
func checkedKiB(attr string, v types.Int64, diags *diag.Diagnostics) uint64 {
	kib, ok := sizes.MemoryKiB(v.ValueInt64())
	if !ok {
		diags.AddAttributeError(path.Root(attr), "Value too large",
			fmt.Sprintf("%s = %d MiB is above libvirt's %d MiB and passed the plan-time check: this is a bug in the provider.",
				attr, v.ValueInt64(), sizes.MaxMemoryMiB))
	}
	return kib
}

func (m vmModel) disks(ctx context.Context) ([]vmDiskModel, diag.Diagnostics) {
	return disksOf(ctx, m.Disks)
}

func (m vmModel) nics(ctx context.Context) ([]vmNICModel, diag.Diagnostics) {
	return nicsOf(ctx, m.Interfaces)
}

// disksOf lists the disk blocks of l (nil when l is null, unknown or
// empty). Like getVM it converts field by field; anything it does not
// expect goes through the framework's ElementsAs for its diagnostics.
func disksOf(ctx context.Context, l types.List) ([]vmDiskModel, diag.Diagnostics) {
	if l.IsNull() || l.IsUnknown() || len(l.Elements()) == 0 {
		return nil, nil
	}
	out := make([]vmDiskModel, len(l.Elements()))
	for i, e := range l.Elements() {
		a, ok := vmBlockAttrs(e, len(diskAttrTypes))
		var bad []string
		if ok {
			d := &out[i]
			vmAttr(a, "pool", &d.Pool, &bad)
			vmAttr(a, "volume", &d.Volume, &bad)
			vmAttr(a, "path", &d.Path, &bad)
			vmAttr(a, "device", &d.Device, &bad)
			vmAttr(a, "bus", &d.Bus, &bad)
			vmAttr(a, "read_only", &d.ReadOnly, &bad)
			vmAttr(a, "target", &d.Target, &bad)
			vmAttr(a, "format", &d.Format, &bad)
		}
		if !ok || len(bad) > 0 {
			out = nil
			diags := l.ElementsAs(ctx, &out, false)
			return out, diags
		}
	}
	return out, nil
}

// nicsOf lists the network_interface blocks of l (nil when l is null,
// unknown or empty), as disksOf does.
func nicsOf(ctx context.Context, l types.List) ([]vmNICModel, diag.Diagnostics) {
	if l.IsNull() || l.IsUnknown() || len(l.Elements()) == 0 {
		return nil, nil
	}
	out := make([]vmNICModel, len(l.Elements()))
	for i, e := range l.Elements() {
		a, ok := vmBlockAttrs(e, len(nicAttrTypes))
		var bad []string
		if ok {
			n := &out[i]
			vmAttr(a, "network", &n.Network, &bad)
			vmAttr(a, "bridge", &n.Bridge, &bad)
			vmAttr(a, "model", &n.Model, &bad)
			vmAttr(a, "mac", &n.MAC, &bad)
		}
		if !ok || len(bad) > 0 {
			out = nil
			diags := l.ElementsAs(ctx, &out, false)
			return out, diags
		}
	}
	return out, nil
}

// vmBlockAttrs is the attributes of a known block object with n of them.
func vmBlockAttrs(e attr.Value, n int) (map[string]attr.Value, bool) {
	o, ok := e.(types.Object)
	if !ok || o.IsNull() || o.IsUnknown() || len(o.Attributes()) != n {
		return nil, false
	}
	return o.Attributes(), true
}

// diskList is the disk block list of disks.
func diskList(disks []vmDiskModel) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	elems := make([]attr.Value, len(disks))
	for i, d := range disks {
		o, ds := types.ObjectValue(diskAttrTypes, map[string]attr.Value{
			"pool": d.Pool, "volume": d.Volume, "path": d.Path, "device": d.Device,
			"bus": d.Bus, "read_only": d.ReadOnly, "target": d.Target, "format": d.Format,
		})
		diags.Append(ds...)
		elems[i] = o
	}
	if diags.HasError() {
		return types.ListNull(diskObjType), diags
	}
	return types.ListValue(diskObjType, elems)
}

// nicList is the network_interface block list of nics.
func nicList(nics []vmNICModel) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	elems := make([]attr.Value, len(nics))
	for i, n := range nics {
		o, ds := types.ObjectValue(nicAttrTypes, map[string]attr.Value{
			"network": n.Network, "bridge": n.Bridge, "model": n.Model, "mac": n.MAC,
		})
		diags.Append(ds...)
		elems[i] = o
	}
	if diags.HasError() {
		return types.ListNull(nicObjType), diags
	}
	return types.ListValue(nicObjType, elems)
}

// wait returns the wait_for_ip block, or nil when it is absent.
func (m vmModel) wait(ctx context.Context) (*vmWaitModel, diag.Diagnostics) {
	if m.WaitForIP.IsNull() || m.WaitForIP.IsUnknown() {
		return nil, nil
	}
	var w vmWaitModel
	diags := m.WaitForIP.As(ctx, &w, basetypes.ObjectAsOptions{})
	return &w, diags
}

// spec turns a plan into what to define. Values still unknown (a target, a
// MAC, a format libvirt or the volume decides) are left empty for BuildXML
// and libvirt to choose.
func (m vmModel) spec(ctx context.Context) (vminfo.Spec, diag.Diagnostics) {
	var diags diag.Diagnostics
	s := vminfo.Spec{
		Name:       m.Name.ValueString(),
		UUID:       m.UUID.ValueString(),
		DomainType: m.DomainType.ValueString(),
		MemoryKiB:  checkedKiB("memory", m.Memory, &diags),
		Vcpu:       uint(m.Vcpu.ValueInt64()),
		Graphics:   m.Graphics.ValueString(),
		GuestAgent: m.wantsAgent(ctx),
		ConsoleLog: m.ConsoleLog.ValueString(),
	}
	if !m.MaxMemory.IsUnknown() {
		s.MaxMemoryKiB = checkedKiB("max_memory", m.MaxMemory, &diags)
	}
	if !m.MaxVcpu.IsUnknown() {
		s.MaxVcpu = uint(m.MaxVcpu.ValueInt64())
	}
	disks, d := m.disks(ctx)
	diags.Append(d...)
	for _, dm := range disks {
		s.Disks = append(s.Disks, vminfo.Disk{
			Device:   dm.Device.ValueString(),
			Target:   dm.Target.ValueString(),
			Bus:      dm.Bus.ValueString(),
			Path:     dm.Path.ValueString(),
			Pool:     dm.Pool.ValueString(),
			Volume:   dm.Volume.ValueString(),
			Format:   dm.Format.ValueString(),
			ReadOnly: dm.ReadOnly.ValueBool(),
		})
	}
	nics, d := m.nics(ctx)
	diags.Append(d...)
	for _, nm := range nics {
		n := vminfo.Interface{Type: "network", Source: nm.Network.ValueString(),
			Model: nm.Model.ValueString(), MAC: nm.MAC.ValueString()}
		if !nm.Bridge.IsNull() {
			n.Type, n.Source = "bridge", nm.Bridge.ValueString()
		}
		s.Interfaces = append(s.Interfaces, n)
	}
	s.Disks = append(s.Disks, m.seedDisks()...)
	return s, diags
}

// setLive puts what the domain is into the model: configuration from its
// persistent definition, power state from its runtime. Settings only the
// provider knows (shutdown_timeout, wait_for_ip, timeouts) are left alone.
func (m *vmModel) setLive(live liveVM) {
	v := live.Info
	m.ID = types.StringValue(vmID(m.HostID.ValueString(), v.Name))
	m.Name = types.StringValue(v.Name)
	m.UUID = types.StringValue(v.UUID)
	m.DomainID = types.Int64Value(int64(v.ID))
	m.State = types.StringValue(vminfo.StateName(v.State))
	m.Running = types.BoolValue(vminfo.Active(v.State))
	m.Vcpu = types.Int64Value(int64(v.Vcpu))
	m.Memory = types.Int64Value(int64(v.Memory / vmMiB))
	m.MaxMemory = types.Int64Value(int64(v.MaxMem / vmMiB))
	m.MaxVcpu = types.Int64Value(int64(max(v.MaxVcpu, v.Vcpu)))
	if m.Restart.IsNull() || m.Restart.IsUnknown() {
		m.Restart = types.StringValue(vmRestartAuto) // after import
	}
	m.Autostart = types.BoolValue(v.Autostart)
	m.Graphics = types.StringValue(vminfo.GraphicsName(v.Graphics))
	m.DomainType = types.StringValue(v.DomainType)
	m.PendingRestart = types.BoolValue(len(live.Pending) > 0)
	m.Disks = disksValue(vmOrderDisks(withoutSeed(v.Disks, v.Name), vmTargetsOf(m.Disks)))
	m.ConsoleLog = vmOptString(v.ConsoleLog)
	m.Interfaces = nicsValue(v.Interfaces)
	m.Unmanaged = vmStringList(live.Unmanaged)
	m.IPAddresses = vmStringList(live.ips)
	if m.ShutdownTimeout.IsNull() || m.ShutdownTimeout.IsUnknown() {
		m.ShutdownTimeout = types.StringValue(vmDefaultShutdownTimeout) // after import
	}
	if m.WaitForIP.IsUnknown() {
		m.WaitForIP = types.ObjectNull(waitAttrTypes)
	}
}

// vmTargetsOf lists the disk targets of a disk list (plan or prior state).
func vmTargetsOf(l types.List) []string {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	var out []string
	for _, e := range l.Elements() {
		if o, ok := e.(types.Object); ok {
			if t, ok := o.Attributes()["target"].(types.String); ok {
				out = append(out, t.ValueString())
			}
		}
	}
	return out
}

// vmOrderDisks puts live disks in the order of the configuration (given by
// targets) rather than libvirt's, which sorts them by bus and index on
// define; disks the configuration does not know follow in libvirt's order.
func vmOrderDisks(disks []vminfo.Disk, order []string) []vminfo.Disk {
	out := make([]vminfo.Disk, 0, len(disks))
	used := make([]bool, len(disks))
	for _, t := range order {
		for i, d := range disks {
			if !used[i] && d.Target == t {
				out, used[i] = append(out, d), true
				break
			}
		}
	}
	for i, d := range disks {
		if !used[i] {
			out = append(out, d)
		}
	}
	return out
}

func vmOptString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func disksValue(disks []vminfo.Disk) types.List {
	elems := make([]attr.Value, 0, len(disks))
	for _, d := range disks {
		elems = append(elems, types.ObjectValueMust(diskAttrTypes, map[string]attr.Value{
			"pool":      vmOptString(d.Pool),
			"volume":    vmOptString(d.Volume),
			"path":      vmOptString(d.Path),
			"device":    types.StringValue(d.Device),
			"bus":       vmOptString(d.Bus),
			"read_only": types.BoolValue(d.ReadOnly),
			"target":    vmOptString(d.Target),
			"format":    vmOptString(d.Format),
		}))
	}
	return types.ListValueMust(diskObjType, elems)
}

func nicsValue(nics []vminfo.Interface) types.List {
	elems := make([]attr.Value, 0, len(nics))
	for _, n := range managedNICs(nics) {
		network, bridge := types.StringNull(), types.StringNull()
		if n.Type == "bridge" {
			bridge = types.StringValue(n.Source)
		} else {
			network = types.StringValue(n.Source)
		}
		elems = append(elems, types.ObjectValueMust(nicAttrTypes, map[string]attr.Value{
			"network": network,
			"bridge":  bridge,
			"model":   vmOptString(n.Model),
			"mac":     vmOptString(strings.ToLower(n.MAC)),
		}))
	}
	return types.ListValueMust(nicObjType, elems)
}

// managedNICs are the interfaces network_interface blocks describe (on a
// network or a bridge); the others (direct, user...) are unmanaged devices.
func managedNICs(nics []vminfo.Interface) []vminfo.Interface {
	out := make([]vminfo.Interface, 0, len(nics))
	for _, n := range nics {
		if slices.Contains(vminfo.InterfaceTypes, n.Type) {
			out = append(out, n)
		}
	}
	return out
}

func driftValue(drift []vminfo.Drift) types.List {
	elems := make([]attr.Value, 0, len(drift))
	for _, f := range observe.Words(drift) {
		elems = append(elems, types.ObjectValueMust(driftAttrTypes, map[string]attr.Value{
			"attribute": types.StringValue(f.Attribute),
			"recorded":  types.StringValue(f.Recorded),
			"live":      types.StringValue(f.Live),
			"path":      types.StringValue(f.Path),
		}))
	}
	return types.ListValueMust(driftObjType, elems)
}

func vmStringList(ss []string) types.List {
	elems := make([]attr.Value, 0, len(ss))
	for _, s := range ss {
		elems = append(elems, types.StringValue(s))
	}
	return types.ListValueMust(types.StringType, elems)
}

// vmID is the resource id and import id.
func vmID(hostID, name string) string { return hostID + "/" + name }

// parseVMID splits an import id at its last slash: domain names cannot
// contain one, host ids might.
func parseVMID(id string) (hostID, name string, ok bool) {
	i := strings.LastIndex(id, "/")
	if i <= 0 || i == len(id)-1 {
		return "", "", false
	}
	return id[:i], id[i+1:], true
}
