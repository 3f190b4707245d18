package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

func TestMain(m *testing.M) { acctest.Main(m) }

// TestAccBinarySmoke builds the provider binary and drives it with the real
// CLI through dev_overrides, the way users run it (the other acceptance tests
// serve the provider in-process): apply a host, read it back through a data
// source, check the store row, and see an empty second plan.
func TestAccBinarySmoke(t *testing.T) {
	acctest.PreCheck(t)
	dir := t.TempDir()
	_, rc := buildProvider(t, dir)
	db := acctest.StoreLocation(t)
	work := filepath.Join(dir, "work")
	writeFile(t, filepath.Join(work, "main.tf"), `terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
provider "virtumancer" {}
resource "virtumancer_host" "t" {
  id  = "smoke"
  uri = "test:///default"
}
data "virtumancer_host" "t" {
  id = virtumancer_host.t.id
}
output "driver" { value = data.virtumancer_host.t.driver }
`)
	cli := os.Getenv("TF_ACC_TERRAFORM_PATH")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(cli, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "VIRTUMANCER_DATABASE="+db, "TF_IN_AUTOMATION=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("apply", "-auto-approve", "-input=false", "-no-color")
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if out, err = run("output", "-raw", "driver"); err != nil || out != "TEST" {
		t.Fatalf("output driver = %q (%v), want TEST", out, err)
	}
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := st.GetHost(t.Context(), "smoke")
	_ = st.Close()
	if err != nil || h.URI != "test:///default" {
		t.Fatalf("host row = %+v, %v; want smoke -> test:///default", h, err)
	}
	if info, err := os.Stat(db); !store.IsPostgresURL(db) && (err != nil || info.Mode().Perm() != 0o600) {
		t.Fatalf("store file mode = %v (%v), want 0600", info.Mode().Perm(), err) // SQLite only: PostgreSQL has no file
	}
	out, err = run("plan", "-detailed-exitcode", "-input=false", "-no-color")
	if err != nil {
		t.Fatalf("second plan is not empty: %v\n%s", err, out)
	}
	if !strings.Contains(out, "No changes") {
		t.Fatalf("second plan output lacks 'No changes':\n%s", out)
	}
	if out, err = run("destroy", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
}

// buildProvider builds the provider binary into dir/bin and writes a CLI
// config whose dev_overrides point both registries at it. It returns the
// binary's path and the config's.
func buildProvider(t *testing.T, dir string) (binary, rc string) {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	binary = filepath.Join(bin, "terraform-provider-virtumancer")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rc = filepath.Join(dir, "cli.tfrc")
	writeFile(t, rc, `provider_installation {
  dev_overrides {
    "registry.opentofu.org/virtumancer/virtumancer" = "`+bin+`"
    "registry.terraform.io/virtumancer/virtumancer" = "`+bin+`"
  }
  direct {}
}
`)
	return binary, rc
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
