package providerdata

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// TestConnStoreUnreadable: a store that cannot be read (here closed; on
// PostgreSQL, a server restarting past the retries) is reported as the
// store's problem, never as an unreachable host with libvirtd advice.
func TestConnStoreUnreadable(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "v.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var diags diag.Diagnostics
	if c := (&Data{Store: st}).Conn(context.Background(), "h1", &diags); c != nil || !diags.HasError() {
		t.Fatalf("Conn on a closed store = %v, %v; want nil and an error", c, diags)
	}
	d := diags.Errors()[0]
	if d.Summary() != "Unable to read the store" || strings.Contains(d.Detail(), "libvirtd") ||
		!strings.Contains(d.Detail(), st.Path()) || !strings.Contains(d.Detail(), "state is left as it was") {
		t.Errorf("diagnostic = %q / %q; want the store's error, its path, and no libvirtd advice", d.Summary(), d.Detail())
	}
}
