package datasources

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// storeReadFailed renders an error of a store read, the one place where a
// data source says so. A missing store is its own error: a plan that only
// reads never creates a store, so a mistyped `database` must fail here
// rather than read as a fleet of zero VMs.
func storeReadFailed(diags *diag.Diagnostics, path string, err error) {
	if isNoStore(err) {
		diags.AddError("No Virtumancer store", noStoreDetail(path))
		return
	}
	diags.AddError("Unable to read the Virtumancer store", err.Error())
}

// isNoStore reports a read of a store whose file does not exist yet.
func isNoStore(err error) bool { return errors.Is(err, store.ErrNoStore) }

func noStoreDetail(path string) string {
	if store.IsPostgresURL(path) {
		return fmt.Sprintf("The PostgreSQL database %s has no Virtumancer tables yet, and a data source never creates them: "+
			"the first apply of a virtumancer_host resource does. If they should exist already, fix the provider's `database` "+
			"(or VIRTUMANCER_DATABASE); nothing was created.", path)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return fmt.Sprintf("The store %s does not exist, and a data source never creates one: the first apply of a "+
		"virtumancer_host resource creates it. If it should exist already, fix the provider's `database` "+
		"(or VIRTUMANCER_DATABASE); nothing was created.", path)
}
