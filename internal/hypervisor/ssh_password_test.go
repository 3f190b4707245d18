package hypervisor

import (
	"strings"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
)

// TestIntegrationSSHPasswordAuth: a real OpenSSH sshd with password
// authentication only (libvirttest.StartPasswordSSHD); sshauth=password
// connects with the password from the provider's ssh_passwords
// (Options.SSHPasswords) and, without one there, from
// VIRTUMANCER_SSH_PASSWORD. A wrong password is an error that says what to
// do and holds no password.
func TestIntegrationSSHPasswordAuth(t *testing.T) {
	requireDaemon(t)
	sshd := libvirttest.StartPasswordSSHD(t)
	t.Run("ssh_passwords", func(t *testing.T) {
		t.Setenv(PasswordEnv, "")
		checkFacts(t, Options{SSHPasswords: map[string]string{"pw": sshd.Password}}, sshd.URI())
	})
	t.Run("environment", func(t *testing.T) {
		t.Setenv(PasswordEnv, sshd.Password)
		checkFacts(t, Options{}, sshd.URI())
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Setenv(PasswordEnv, "")
		opts := Options{SSHPasswords: map[string]string{"pw": "wrong-" + sshd.Password}, DialTimeout: 10 * time.Second}
		_, err := newPool(t, opts).Get(ctx(t), "pw", sshd.URI())
		if err == nil {
			t.Fatal("a wrong password connected")
		}
		msg := err.Error()
		for _, w := range []string{`ssh authentication as "` + sshd.User + `" failed`, "ssh_passwords", PasswordEnv, `host "pw"`} {
			if !strings.Contains(msg, w) {
				t.Errorf("error %q does not say %q", msg, w)
			}
		}
		if strings.Contains(msg, sshd.Password) {
			t.Errorf("error shows the password: %q", msg)
		}
	})
}

func checkFacts(t *testing.T, opts Options, uri string) {
	t.Helper()
	c, err := newPool(t, opts).Get(ctx(t), "pw", uri)
	if err != nil {
		t.Fatal(err)
	}
	facts, err := c.Facts(ctx(t))
	if err != nil || facts.Driver != "QEMU" {
		t.Fatalf("Facts over ssh with a password = %+v, %v", facts, err)
	}
}
