package providerdata

import (
	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// Configured is the one "provider not configured" check: every CRUD method
// and data source Read starts with it. It reports whether d is set, and adds
// the diagnostic when it is not (Configure has not run with a known database
// path, or it failed).
func Configured(d *Data, diags *diag.Diagnostics) bool {
	if d == nil {
		diags.AddError("Provider not configured",
			"The virtumancer provider has no store yet: its `database` is unknown or Configure failed. Fix the provider block and run again.")
		return false
	}
	return true
}

// Bug reports a broken internal invariant.
func Bug(what string) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Provider bug", what+". This is a bug in the provider; please report it with the log (TF_LOG=debug).")
}
