package datasources

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
)

var _ datasource.DataSourceWithConfigure = (*hostDataSource)(nil)

// NewHostDataSource is the constructor of the virtumancer_host data source.
func NewHostDataSource() datasource.DataSource { return &hostDataSource{} }

type hostDataSource struct {
	data *providerdata.Data
}

func (d *hostDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_host"
}

func (d *hostDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A host of the Virtumancer store, by id: its URI and the facts its libvirtd reports. " +
			"A host that does not answer is a warning, not an error: `reachable` is false and the facts are null.",
		Attributes: map[string]schema.Attribute{
			// Required
			"id": schema.StringAttribute{Required: true, Validators: []validator.String{validate.NonEmpty()},
				Description: "Host id (the key of the `hosts` row)."},

			// Computed
			"uri":                schema.StringAttribute{Computed: true, Sensitive: true, Description: uriDescription},
			"reachable":          schema.BoolAttribute{Computed: true, Description: "Whether the host answered; the facts below are null when it did not."},
			"hostname":           schema.StringAttribute{Computed: true, Description: "Hostname reported by libvirtd."},
			"libvirt_version":    schema.StringAttribute{Computed: true, Description: "libvirt version of the daemon, e.g. `9.0.0`."},
			"driver":             schema.StringAttribute{Computed: true, Description: "Hypervisor driver behind the URI, e.g. `QEMU` or `Test`."},
			"hypervisor_version": schema.StringAttribute{Computed: true, Description: "Version of the hypervisor (QEMU) behind the driver."},
			"cpus":               schema.Int64Attribute{Computed: true, Description: "Number of logical CPUs of the host."},
			"memory":             schema.Int64Attribute{Computed: true, Description: "Memory of the host in MiB."},
			"arch":               schema.StringAttribute{Computed: true, Description: "CPU architecture of the host, e.g. `x86_64`."},
			"kvm":                schema.BoolAttribute{Computed: true, Description: "Whether the host offers KVM acceleration."},
		},
	}
}

func (d *hostDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerdata.From(req.ProviderData, &resp.Diagnostics)
}

func (d *hostDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	data := d.data
	if !providerdata.Configured(data, &resp.Diagnostics) {
		return
	}
	var m hostDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := m.ID.ValueString()
	ctx = tflog.SetField(ctx, "host", id)
	h, err := data.Store.GetHost(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		resp.Diagnostics.AddAttributeError(path.Root("id"), "Host not found",
			fmt.Sprintf("The store %s has no host with id %q. List the hosts with the virtumancer_hosts data source.", data.Store.Path(), id))
		return
	}
	if err != nil {
		storeReadFailed(&resp.Diagnostics, data.Store.Path(), err)
		return
	}
	m.URI = types.StringValue(hypervisor.WithoutPassword(h.URI))

	facts, err := readFacts(ctx, data, h)
	if err != nil {
		resp.Diagnostics.AddWarning("Host unreachable",
			fmt.Sprintf("Host %q (%s) did not answer, so its facts are null: %s.", h.ID, hypervisor.Redact(h.URI), err))
		m.Reachable = types.BoolValue(false)
		m.setFacts(nil)
	} else {
		m.Reachable = types.BoolValue(true)
		m.setFacts(&facts)
	}
	tflog.Debug(ctx, "read host", map[string]any{"reachable": err == nil})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func readFacts(ctx context.Context, data *providerdata.Data, h store.Host) (hypervisor.HostFacts, error) {
	c, err := data.Pool.Get(ctx, h.ID, h.URI)
	if err != nil {
		return hypervisor.HostFacts{}, err
	}
	return c.Facts(ctx)
}

// uriDescription says why uri is sensitive although it holds no password.
const uriDescription = "libvirt connection URI recorded for the host. Sensitive, because another program may have stored it with a password; " +
	"that password is left out of this value (and of the state) and keeps working for connections."

type hostDataModel struct {
	ID                types.String `tfsdk:"id"`
	URI               types.String `tfsdk:"uri"`
	Reachable         types.Bool   `tfsdk:"reachable"`
	Hostname          types.String `tfsdk:"hostname"`
	LibvirtVersion    types.String `tfsdk:"libvirt_version"`
	Driver            types.String `tfsdk:"driver"`
	HypervisorVersion types.String `tfsdk:"hypervisor_version"`
	CPUs              types.Int64  `tfsdk:"cpus"`
	Memory            types.Int64  `tfsdk:"memory"`
	Arch              types.String `tfsdk:"arch"`
	KVM               types.Bool   `tfsdk:"kvm"`
}

// setFacts fills the facts, or nulls them when f is nil.
func (m *hostDataModel) setFacts(f *hypervisor.HostFacts) {
	if f == nil {
		m.Hostname, m.LibvirtVersion, m.Driver = types.StringNull(), types.StringNull(), types.StringNull()
		m.HypervisorVersion, m.Arch = types.StringNull(), types.StringNull()
		m.CPUs, m.Memory, m.KVM = types.Int64Null(), types.Int64Null(), types.BoolNull()
		return
	}
	m.Hostname = types.StringValue(f.Hostname)
	m.LibvirtVersion = types.StringValue(f.LibvirtVersion)
	m.Driver = types.StringValue(f.Driver)
	m.HypervisorVersion = types.StringValue(f.HypervisorVersion)
	m.CPUs = types.Int64Value(int64(f.CPUs))
	m.Memory = types.Int64Value(int64(f.MemoryKiB / 1024))
	m.Arch = types.StringValue(f.Arch)
	m.KVM = types.BoolValue(f.KVM)
}
