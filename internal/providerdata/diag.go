package providerdata

import (
	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// NotConfigured is the diagnostic for a resource used before Configure ran
// with a known database path.
func NotConfigured() diag.Diagnostic {
	return diag.NewErrorDiagnostic("Provider not configured",
		"The virtumancer provider has no store yet: its `database` is unknown or Configure failed. Fix the provider block and run again.")
}

// Bug reports a broken internal invariant.
func Bug(what string) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Provider bug", what+". This is a bug in the provider; please report it with the log (TF_LOG=debug).")
}
