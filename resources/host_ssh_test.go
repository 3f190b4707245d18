package resources_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
)

// TestAccHost_sshPassword: through the CLI, a host reached over a real
// sshd that takes passwords only (sshauth=password), with the password in
// the provider's ssh_passwords, then in VIRTUMANCER_SSH_PASSWORD; a wrong
// one fails with what to do. The password is in neither the state nor the
// store.
func TestAccHost_sshPassword(t *testing.T) {
	acctest.PreCheck(t)
	sshd := libvirttest.StartPasswordSSHD(t)
	t.Setenv(hypervisor.PasswordEnv, "")
	db := acctest.StoreLocation(t)
	config := func(id, passwords string) string {
		return fmt.Sprintf(`provider "virtumancer" {
  database = %q
%s}

resource "virtumancer_host" "h" {
  id  = %q
  uri = %q
}
`, db, passwords, id, sshd.URI())
	}
	byProvider := config("lg-ssh", fmt.Sprintf("  ssh_passwords = { \"lg-ssh\" = %q }\n", sshd.Password))
	noSecret := func(s *terraform.State) error {
		for addr, rs := range s.RootModule().Resources {
			for k, v := range rs.Primary.Attributes {
				if strings.Contains(v, sshd.Password) {
					return fmt.Errorf("state of %s holds the password in %s", addr, k)
				}
			}
		}
		if snap := storetest.Snapshot(t, db); strings.Contains(snap, sshd.Password) {
			return fmt.Errorf("the store holds the password")
		}
		return nil
	}
	connected := []statecheck.StateCheck{
		statecheck.ExpectKnownValue("virtumancer_host.h", tfjsonpath.New("driver"), knownvalue.StringExact("QEMU")),
		statecheck.ExpectKnownValue("virtumancer_host.h", tfjsonpath.New("uri"), knownvalue.StringExact(sshd.URI())),
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: byProvider, ConfigStateChecks: connected, Check: noSecret},
			{
				PreConfig:         func() { _ = os.Setenv(hypervisor.PasswordEnv, sshd.Password) },
				Config:            config("lg-ssh-env", ""),
				ConfigStateChecks: connected,
				Check:             noSecret,
			},
			{
				PreConfig: func() { _ = os.Setenv(hypervisor.PasswordEnv, "") },
				Config:    config("lg-ssh-wrong", fmt.Sprintf("  ssh_passwords = { \"lg-ssh-wrong\" = %q }\n", "wrong-"+sshd.Password)),
				ExpectError: expectErr(fmt.Sprintf(`ssh authentication as %q failed`, sshd.User), "ssh_passwords",
					hypervisor.PasswordEnv),
			},
		},
	})
}
