package resources

import (
	"context"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Resource identity (SPEC 4b; Terraform/OpenTofu 1.12 and later): the
// attributes that name an object across states, which are also the parts
// of its import id, in order, joined by '/'. One wrapper gives every
// resource the same behaviour: the identity is copied from the state after
// each Create, Read and Update, and an import by identity becomes an import
// by the id the resource already parses.

// identityPart is one identity attribute; the resource has an attribute of
// the same name.
type identityPart struct {
	name, description string
}

// withIdentity wraps r, whose import id is parts joined by '/'.
func withIdentity(r identified, parts ...identityPart) resource.Resource {
	return &identityResource{identified: r, parts: parts}
}

// identified is what every resource of this provider implements.
type identified interface {
	resource.ResourceWithConfigure
	resource.ResourceWithImportState
	resource.ResourceWithModifyPlan
}

var (
	_ resource.ResourceWithIdentity         = (*identityResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*identityResource)(nil)
	_ resource.ResourceWithConfigValidators = (*identityResource)(nil)
)

type identityResource struct {
	identified
	parts []identityPart
}

func (r *identityResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	attrs := make(map[string]identityschema.Attribute, len(r.parts))
	for _, p := range r.parts {
		attrs[p.name] = identityschema.StringAttribute{RequiredForImport: true, Description: p.description}
	}
	resp.IdentitySchema = identityschema.Schema{Attributes: attrs}
}

// ValidateConfig and ConfigValidators pass through to the resources that
// have them: the wrapper must not hide them from the framework.
func (r *identityResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	if v, ok := r.identified.(resource.ResourceWithValidateConfig); ok {
		v.ValidateConfig(ctx, req, resp)
	}
}

func (r *identityResource) ConfigValidators(ctx context.Context) []resource.ConfigValidator {
	if v, ok := r.identified.(resource.ResourceWithConfigValidators); ok {
		return v.ConfigValidators(ctx)
	}
	return nil
}

func (r *identityResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.identified.Create(ctx, req, resp)
	r.copyIdentity(ctx, resp.State, resp.Identity, &resp.Diagnostics)
}

// Read copies the identity from the prior state, which names the same
// object: a Read that removes a gone object still owes one (state written
// by Terraform < 1.12 has none, and the framework refuses a Read without).
func (r *identityResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	r.identified.Read(ctx, req, resp)
	r.copyIdentity(ctx, req.State, resp.Identity, &resp.Diagnostics)
}

func (r *identityResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.identified.Update(ctx, req, resp)
	r.copyIdentity(ctx, resp.State, resp.Identity, &resp.Diagnostics)
}

// ImportState turns an identity into the import id and imports by it.
func (r *identityResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if req.ID == "" && req.Identity != nil {
		vals := make([]string, len(r.parts))
		for i, p := range r.parts {
			var v types.String
			if resp.Diagnostics.Append(req.Identity.GetAttribute(ctx, path.Root(p.name), &v)...); resp.Diagnostics.HasError() {
				return
			}
			vals[i] = v.ValueString()
		}
		req.ID = strings.Join(vals, "/")
	}
	r.identified.ImportState(ctx, req, resp)
	r.copyIdentity(ctx, resp.State, resp.Identity, &resp.Diagnostics)
}

// copyIdentity sets each identity attribute from the attribute of the
// same name in st; nothing after an error, or where st is empty.
func (r *identityResource) copyIdentity(ctx context.Context, st tfsdk.State, id *tfsdk.ResourceIdentity, diags *diag.Diagnostics) {
	if id == nil || diags.HasError() || st.Raw.IsNull() {
		return
	}
	for _, p := range r.parts {
		var v types.String
		diags.Append(st.GetAttribute(ctx, path.Root(p.name), &v)...)
		diags.Append(id.SetAttribute(ctx, path.Root(p.name), v)...)
	}
}

// The identities of the resources.
var (
	hostIDPart = identityPart{"host_id", "Id of the `virtumancer_host` the object lives on."}
	namePart   = func(what string) identityPart { return identityPart{"name", what + " name."} }
)
