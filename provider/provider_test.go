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
