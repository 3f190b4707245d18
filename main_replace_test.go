package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
)

// TestAccVolumeForcedReplaceInUse: `-replace` of a volume that a VM uses,
// which terraform-plugin-testing cannot express (its Taint plans the
// replacement differently: as a create with no prior state). With a
// smaller capacity the plan fails, naming the VM; with the same capacity
// the apply fails before anything is deleted, naming the VM; the bytes the
// test wrote stay. Run with the pinned OpenTofu and, when one is on PATH,
// with terraform.
func TestAccVolumeForcedReplaceInUse(t *testing.T) {
	acctest.PreCheck(t)
	clis := []string{os.Getenv("TF_ACC_TERRAFORM_PATH")}
	if tf, err := exec.LookPath("terraform"); err == nil && tf != clis[0] {
		clis = append(clis, tf)
	}
	_, rc := buildProvider(t, t.TempDir())
	for _, cli := range clis {
		t.Run(filepath.Base(cli), func(t *testing.T) { forcedReplaceInUse(t, cli, rc) })
	}
}

func forcedReplaceInUse(t *testing.T, cli, rc string) {
	id := acctest.Name("lg-repl")
	dir := filepath.Join("/var/lib/virtumancer-test", id)
	vol := id + ".raw"
	work := filepath.Join(t.TempDir(), "work")
	db := acctest.StoreLocation(t)
	config := func(capacity int) {
		writeFile(t, filepath.Join(work, "main.tf"), fmt.Sprintf(`terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
provider "virtumancer" {}
resource "virtumancer_host" "h" {
  id  = %[1]q
  uri = "qemu:///system"
}
resource "virtumancer_pool" "p" {
  host_id = virtumancer_host.h.id
  name    = %[1]q
  path    = %[2]q
}
resource "virtumancer_volume" "v" {
  host_id  = virtumancer_host.h.id
  pool     = virtumancer_pool.p.name
  name     = %[3]q
  format   = "raw"
  capacity = %[4]d
}
resource "virtumancer_vm" "t" {
  host_id     = virtumancer_host.h.id
  name        = %[1]q
  domain_type = "qemu"
  memory      = 64
  vcpu        = 1
  graphics    = "none"
  running     = false
  disk {
    pool   = virtumancer_volume.v.pool
    volume = virtumancer_volume.v.name
  }
}
`, id, dir, vol, capacity))
	}
	run := func(wantOK bool, args ...string) string {
		cmd := exec.Command(cli, append(args, "-input=false", "-no-color")...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "VIRTUMANCER_DATABASE="+db, "TF_IN_AUTOMATION=1")
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("%s %s: %v, want success %v:\n%s", filepath.Base(cli), strings.Join(args, " "), err, wantOK, out)
		}
		return strings.Join(strings.Fields(string(out)), " ") // the CLIs wrap long lines
	}
	t.Cleanup(func() {
		config(16)
		run(true, "destroy", "-auto-approve")
		_ = os.RemoveAll(dir)
	})
	config(16)
	run(true, "apply", "-auto-approve")
	data := make([]byte, 1<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, vol)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err == nil {
		_, err = f.Write(data)
		err = firstErr(err, f.Close())
	}
	if err != nil {
		t.Fatalf("write the volume's bytes: %v", err)
	}

	config(8)
	out := run(false, "plan", "-replace=virtumancer_volume.v")
	for _, want := range []string{"Volume capacity cannot shrink", fmt.Sprintf(`It is used now by VM %q: a replacement fails as well`, id)} {
		if !strings.Contains(out, want) {
			t.Errorf("plan -replace with a smaller capacity does not say %q:\n%s", want, out)
		}
	}
	config(16)
	out = run(false, "apply", "-auto-approve", "-replace=virtumancer_volume.v")
	if want := fmt.Sprintf(`volume %q of pool %q is still used by VM %q; nothing was deleted`, vol, id, id); !strings.Contains(out, want) {
		t.Errorf("apply -replace does not say %q:\n%s", want, out)
	}
	got, err := os.ReadFile(path)
	if err != nil || len(got) < len(data) || !bytes.Equal(got[:len(data)], data) {
		t.Errorf("the volume's bytes changed after the refused replacement (read: %v)", err)
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
