// Package provider is the virtumancer provider: its configuration and the
// wiring of the shared store and libvirt connection pool into every resource
// and data source.
package provider

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/datasources"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/providerdata"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/validate"
	"github.com/virtumancer/terraform-provider-virtumancer/resources"
)

// DatabaseEnv names the environment variable that sets `database`.
const DatabaseEnv = "VIRTUMANCER_DATABASE"

const (
	defaultDatabase    = "virtumancer.db"
	defaultCallTimeout = 30 * time.Second
)

var _ provider.Provider = (*virtumancerProvider)(nil)

// New returns the provider constructor for providerserver.Serve.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &virtumancerProvider{version: version} }
}

type virtumancerProvider struct {
	version string
}

type providerModel struct {
	Database       types.String `tfsdk:"database"`
	KnownHostsFile types.String `tfsdk:"known_hosts_file"`
	SSHKeyFile     types.String `tfsdk:"ssh_key_file"`
	CallTimeout    types.String `tfsdk:"call_timeout"`
	SSHPasswords   types.Map    `tfsdk:"ssh_passwords"`
}

func (p *virtumancerProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "virtumancer"
	resp.Version = p.version
}

func (p *virtumancerProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Manages libvirt hosts, VMs and volumes recorded in a Virtumancer store (a SQLite file, or PostgreSQL for teams).",
		Attributes: map[string]schema.Attribute{
			"database": schema.StringAttribute{
				Optional: true,
				Description: "Path of the Virtumancer SQLite store, created (mode 0600) by the first apply that writes, " +
					"or a PostgreSQL URL (`postgres://user@host:5432/db?sslmode=verify-full`) whose database exists: the first apply that writes creates the tables in it. " +
					"Give a PostgreSQL password through `PGPASSWORD`, a password file or a service file rather than in the URL; it is never shown in messages. " +
					"Defaults to the `" + DatabaseEnv + "` environment variable, else `" + defaultDatabase + "` in the working directory.",
				Validators: []validator.String{validate.NonEmpty()},
			},
			"known_hosts_file": schema.StringAttribute{
				Optional:    true,
				Description: "known_hosts file used to verify ssh host keys for `qemu+ssh://` and `qemu+libssh://` hosts whose URI names none. Defaults to `~/.ssh/known_hosts`.",
				Validators:  []validator.String{validate.NonEmpty()},
			},
			"ssh_key_file": schema.StringAttribute{
				Optional:    true,
				Description: "Private key file for ssh hosts whose URI names no `keyfile`. Defaults to the user's default keys.",
				Validators:  []validator.String{validate.NonEmpty()},
			},
			"ssh_passwords": schema.MapAttribute{
				Optional: true, Sensitive: true, ElementType: types.StringType,
				Description: "ssh passwords by host id, for hosts whose URI sets `sshauth=password` (`qemu+libssh://user@host/system?sshauth=password`). " +
					"Provider configuration is never written to the state or the store, so this is where a password goes (from a sensitive or ephemeral value); " +
					"a host without one here uses the `" + hypervisor.PasswordEnv + "` environment variable. A `virtumancer_host.uri` holding a password is refused.",
			},
			"call_timeout": schema.StringAttribute{
				Optional:    true,
				Description: "Upper bound of every libvirt call, as a Go duration (`30s`, `2m`). Defaults to `30s`.",
				Validators:  []validator.String{validate.Duration()},
			},
		},
	}
}

func (p *virtumancerProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cfg.Database.IsUnknown() {
		// Known only after apply of something else: resources will report it.
		resp.Diagnostics.AddAttributeWarning(path.Root("database"), "Database path not known yet",
			"The store path depends on a value known only after apply; resources cannot be read until it is known.")
		return
	}

	dbPath := databasePath(cfg.Database)
	timeout := defaultCallTimeout
	if d, err := time.ParseDuration(cfg.CallTimeout.ValueString()); err == nil && d > 0 {
		timeout = d
	}

	st, err := openStore(dbPath)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("database"), "Unable to open the Virtumancer store", openStoreDetail(dbPath, err))
		return
	}
	passwords := knownPasswords(cfg.SSHPasswords)
	pool := sharedPool(hypervisor.Options{
		CallTimeout:    timeout,
		KnownHostsFile: cfg.KnownHostsFile.ValueString(),
		KeyFile:        cfg.SSHKeyFile.ValueString(),
		SSHPasswords:   passwords,
	})
	tflog.Debug(ctx, "configured provider", map[string]any{"database": st.Path(), "call_timeout": timeout.String()})

	data := &providerdata.Data{Store: st, Pool: pool, CallTimeout: timeout}
	resp.ResourceData = data
	resp.DataSourceData = data
}

func (p *virtumancerProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		resources.NewHostResource,
		resources.NewVMResource,
		resources.NewVolumeResource,
		resources.NewNetworkResource,
		resources.NewPoolResource,
	}
}

func (p *virtumancerProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		datasources.NewHostDataSource,
		datasources.NewDomainsDataSource,
		datasources.NewHostsDataSource,
		datasources.NewVMDataSource,
		datasources.NewVMsDataSource,
		datasources.NewDriftDataSource,
		datasources.NewNetworkDataSource,
	}
}

func databasePath(attr types.String) string {
	if v := attr.ValueString(); v != "" {
		return v
	}
	if v := os.Getenv(DatabaseEnv); v != "" {
		return v
	}
	return defaultDatabase
}

// One store per file and one pool per set of options per process: Terraform
// configures a provider instance per plan/apply step, and the acceptance tests
// run many steps in one process; each must not leak a pool of SQLite handles
// or libvirt connections.
var (
	sharedMu     sync.Mutex
	sharedStores = map[string]*store.Store{}
	sharedPools  = map[string]*hypervisor.Pool{}
)

// openStoreDetail is the detail of a store that did not open.
func openStoreDetail(location string, err error) string {
	if store.IsPostgresURL(location) {
		return fmt.Sprintf("%s.\nCheck the URL, that the database exists and that this role may connect, or set `database` (or %s) to another store.",
			err, DatabaseEnv)
	}
	return fmt.Sprintf("%s.\nCheck that the directory exists and is writable, or set `database` (or %s) to another path.", err, DatabaseEnv)
}

func openStore(p string) (*store.Store, error) {
	abs := p
	if !store.IsPostgresURL(p) {
		var err error
		if abs, err = filepath.Abs(p); err != nil {
			return nil, fmt.Errorf("store %s: %w", p, err)
		}
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if st, ok := sharedStores[abs]; ok {
		return st, nil
	}
	// Plans only read: the file is created, and migrated, by the first write.
	st, err := store.Open(abs, store.Options{CreateOnWrite: true})
	if err != nil {
		return nil, err
	}
	sharedStores[abs] = st
	return st, nil
}

func sharedPool(opts hypervisor.Options) *hypervisor.Pool {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	key := fmt.Sprintf("%s|%s|%s|%x", opts.CallTimeout, opts.KnownHostsFile, opts.KeyFile, passwordsKey(opts.SSHPasswords))
	if p, ok := sharedPools[key]; ok {
		return p
	}
	p := hypervisor.NewPool(opts)
	sharedPools[key] = p
	return p
}

// knownPasswords reads ssh_passwords; a value not known yet (during a plan)
// is left out, so only that host fails to connect until apply.
func knownPasswords(m types.Map) map[string]string {
	out := map[string]string{}
	for id, v := range m.Elements() {
		if s, ok := v.(types.String); ok && !s.IsNull() && !s.IsUnknown() {
			out[id] = s.ValueString()
		}
	}
	return out
}

// passwordsKey tells sets of passwords apart without keeping them in the
// key in clear.
func passwordsKey(pw map[string]string) []byte {
	ids := slices.Sorted(maps.Keys(pw))
	h := sha256.New()
	for _, id := range ids {
		fmt.Fprintf(h, "%q=%q;", id, pw[id])
	}
	return h.Sum(nil)
}
