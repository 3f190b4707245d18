package datasources

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
)

var _ datasource.DataSourceWithConfigure = (*hostsDataSource)(nil)

// NewHostsDataSource is the constructor of the virtumancer_hosts data source.
func NewHostsDataSource() datasource.DataSource { return &hostsDataSource{} }

type hostsDataSource struct {
	data *providerdata.Data
}

func (d *hostsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_hosts"
}

func (d *hostsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Every host of the Virtumancer store, whoever recorded it (Terraform, Virtumancer, the sync service). " +
			"Reads the store only; no host is contacted.",
		Attributes: map[string]schema.Attribute{
			"hosts": schema.ListNestedAttribute{
				Computed:    true,
				Description: "The hosts, ordered by id.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":  schema.StringAttribute{Computed: true, Description: "Host id."},
					"uri": schema.StringAttribute{Computed: true, Sensitive: true, Description: uriDescription},
				}},
			},
		},
	}
}

func (d *hostsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerdata.From(req.ProviderData, &resp.Diagnostics)
}

func (d *hostsDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	data := d.data
	if !providerdata.Configured(data, &resp.Diagnostics) {
		return
	}
	hosts, err := data.Store.ListHosts(ctx)
	if err != nil {
		storeReadFailed(&resp.Diagnostics, data.Store.Path(), err)
		return
	}
	m := hostsDataModel{Hosts: make([]hostsItemModel, 0, len(hosts))}
	for _, h := range hosts {
		m.Hosts = append(m.Hosts, hostsItemModel{ID: types.StringValue(h.ID), URI: types.StringValue(hypervisor.WithoutPassword(h.URI))})
	}
	tflog.Debug(ctx, "listed hosts", map[string]any{"count": len(hosts)})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

type hostsDataModel struct {
	Hosts []hostsItemModel `tfsdk:"hosts"`
}

type hostsItemModel struct {
	ID  types.String `tfsdk:"id"`
	URI types.String `tfsdk:"uri"`
}
