package provider_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
	"github.com/virtumancer/terraform-provider-virtumancer/provider"
)

func TestMain(m *testing.M) {
	acctest.Main(m)
}

const hostsDataSource = "\ndata \"virtumancer_hosts\" \"all\" {}\n"

func hostResource(id string) string {
	return fmt.Sprintf("\nresource \"virtumancer_host\" \"h\" {\n  id  = %q\n  uri = %q\n}\n", id, acctest.TestURI)
}

// TestAccProvider_invalidConfig: each bad provider value is an error on its
// attribute, raised while validating: Configure never runs, so the store
// file named in the same block is never created.
func TestAccProvider_invalidConfig(t *testing.T) {
	acctest.PreCheck(t)
	cases := []struct {
		name, attrs string
		want        *regexp.Regexp
	}{
		{"call_timeout not a duration", `call_timeout = "soon"`, expectErr("Invalid call_timeout", `"soon" is not a duration`)},
		{"call_timeout negative", `call_timeout = "-5s"`, expectErr("Invalid call_timeout", "greater than zero")},
		{"call_timeout zero", `call_timeout = "0s"`, expectErr("Invalid call_timeout", "greater than zero")},
		{"empty database", `database = ""`, expectErr("Invalid database", "must not be empty")},
		{"empty known_hosts_file", `known_hosts_file = ""`, expectErr("Invalid known_hosts_file", "must not be empty")},
		{"empty ssh_key_file", `ssh_key_file = ""`, expectErr("Invalid ssh_key_file", "must not be empty")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := acctest.StorePath(t)
			cfg := fmt.Sprintf("provider \"virtumancer\" {\n  %s\n}\n", tc.attrs)
			if !strings.HasPrefix(tc.attrs, "database") {
				cfg = fmt.Sprintf("provider \"virtumancer\" {\n  database = %q\n  %s\n}\n", db, tc.attrs)
			}
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      cfg + hostsDataSource,
					PlanOnly:    true,
					ExpectError: tc.want,
				}},
			})
			if _, err := os.Stat(db); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("store %s: %v; want it never created (the error must come before Configure)", db, err)
			}
		})
	}
}

// TestAccProvider_databaseEnv: without `database`, VIRTUMANCER_DATABASE
// names the store (created with mode 0600); an explicit `database` wins
// over it.
func TestAccProvider_databaseEnv(t *testing.T) {
	acctest.PreCheck(t)
	fromEnv := acctest.StorePath(t)
	explicit := filepath.Join(t.TempDir(), "explicit.db")
	t.Setenv(provider.DatabaseEnv, fromEnv)
	id := acctest.Name("acc-host")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: "provider \"virtumancer\" {}\n" + hostResource(id),
				Check:  checkStore(t, fromEnv, id),
			},
		},
	})
	if mode := fileMode(t, fromEnv); mode != 0o600 {
		t.Errorf("new store mode %o, want 600", mode)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: acctest.ProviderConfig(explicit) + hostResource(id),
			Check:  checkStore(t, explicit, id),
		}},
	})
}

// TestAccProvider_defaultDatabase: with neither `database` nor the
// environment variable, the store is virtumancer.db in the working
// directory.
func TestAccProvider_defaultDatabase(t *testing.T) {
	acctest.PreCheck(t)
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv(provider.DatabaseEnv, "")
	id := acctest.Name("acc-host")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: "provider \"virtumancer\" {}\n" + hostResource(id),
			Check:  checkStore(t, filepath.Join(dir, "virtumancer.db"), id),
		}},
	})
}

// TestAccProvider_missingDirectory: a store path in a directory that does
// not exist is an error on `database` that names the directory and the
// fix; nothing is created.
func TestAccProvider_missingDirectory(t *testing.T) {
	acctest.PreCheck(t)
	dir := filepath.Join(t.TempDir(), "no", "such", "dir")
	db := filepath.Join(dir, "virtumancer.db")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      acctest.ProviderConfig(db) + hostsDataSource,
			ExpectError: expectErr("Unable to open the Virtumancer store", dir, "does not exist", "mkdir -p"),
		}},
	})
	if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: %v; want nothing created", filepath.Dir(dir), err)
	}
}

func checkStore(t *testing.T, db, hostID string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		snap := storetest.Snapshot(t, db)
		if !strings.Contains(snap, "host | "+hostID+" | "+acctest.TestURI) {
			return fmt.Errorf("store %s lacks host %s:\n%s", db, hostID, snap)
		}
		return nil
	}
}

func fileMode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// expectErr matches the parts in order anywhere in an error, whatever
// line wrapping the CLI applied to the diagnostic.
func expectErr(parts ...string) *regexp.Regexp {
	for i, p := range parts {
		parts[i] = strings.Join(strings.Fields(regexp.QuoteMeta(p)), `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, ".*"))
}

// TestAccProvider_planWritesNothing: a plan only reads. With no store file
// it creates none (a mistyped path must not become a new empty store);
// with a store Virtumancer made, which lacks our tables, it leaves every
// byte as it was (no migration) and sees "nothing recorded yet".
func TestAccProvider_planWritesNothing(t *testing.T) {
	acctest.PreCheck(t)
	id := acctest.Name("acc-host")
	vm := fmt.Sprintf("\nresource \"virtumancer_vm\" \"v\" {\n  host_id = virtumancer_host.h.id\n  name = %q\n  memory = 64\n  vcpu = 1\n}\n", acctest.Name("acc-plan"))
	missing := acctest.StorePath(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:             acctest.ProviderConfig(missing) + hostResource(id) + vm,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
		}},
	})
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("store %s: %v; want it never created by a plan", missing, err)
	}

	fixture := storetest.CopyFixture(t, storetest.Fixture(t))
	before := fileBytes(t, fixture)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:             acctest.ProviderConfig(fixture) + hostResource(id) + vm,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
		}},
	})
	if after := fileBytes(t, fixture); after != before {
		t.Errorf("the plan changed Virtumancer's store file %s", fixture)
	}
	for _, side := range []string{"-wal", "-journal"} {
		if fi, err := os.Stat(fixture + side); err == nil && fi.Size() > 0 {
			t.Errorf("the plan left %s (%d bytes): it wrote", fixture+side, fi.Size())
		}
	}
}

func fileBytes(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAccProvider_dataSourceOnMissingStore: a mistyped `database` is an
// error naming the path and what creates a store; it never becomes a new
// empty store that reads as "no VMs" (a drift gate on it would pass).
func TestAccProvider_dataSourceOnMissingStore(t *testing.T) {
	acctest.PreCheck(t)
	missing := filepath.Join(t.TempDir(), "typo.db")
	for _, ds := range []string{hostsDataSource, "\ndata \"virtumancer_vms\" \"all\" {}\n", "\ndata \"virtumancer_drift\" \"d\" {}\n"} {
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config:      acctest.ProviderConfig(missing) + ds,
				PlanOnly:    true,
				ExpectError: expectErr("No Virtumancer store", missing, "first apply of a virtumancer_host"),
			}},
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("store %s: %v; want it never created by a data source", missing, err)
	}
}
