package hypervisor

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sshPasswordUser is the throw-away account TestIntegrationSSHPasswordAuth
// makes. libvirtd here authorizes non-root clients through polkit, which
// this sandbox does not run, so the account shares root's uid (useradd
// -o); it exists only while the test runs, and only an sshd of the test's
// own, on a loopback port, lets it log in.
const sshPasswordUser = "lg-sshpw"

// TestIntegrationSSHPasswordAuth: a real OpenSSH sshd with password
// authentication only; sshauth=password connects with the password from
// the provider's ssh_passwords (Options.SSHPasswords) and, without one
// there, from VIRTUMANCER_SSH_PASSWORD. A wrong password is an error that
// says what to do and holds no password.
func TestIntegrationSSHPasswordAuth(t *testing.T) {
	requireDaemon(t)
	password := randomHex(t)
	addUser(t, sshPasswordUser, password)
	port := startPasswordSSHD(t)
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	host, err := os.ReadFile(sshdHostKey)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(host))
	if err := os.WriteFile(knownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s %s\n", port, f[0], f[1])), 0o600); err != nil {
		t.Fatal(err)
	}
	uri := fmt.Sprintf("qemu+libssh://%s@127.0.0.1:%d/system?sshauth=password&known_hosts=%s", sshPasswordUser, port, knownHosts)

	t.Run("ssh_passwords", func(t *testing.T) {
		t.Setenv(PasswordEnv, "")
		checkFacts(t, Options{SSHPasswords: map[string]string{"pw": password}}, uri)
	})
	t.Run("environment", func(t *testing.T) {
		t.Setenv(PasswordEnv, password)
		checkFacts(t, Options{}, uri)
	})
	t.Run("wrong password", func(t *testing.T) {
		wrong := "wrong-" + password
		t.Setenv(PasswordEnv, "")
		_, err := newPool(t, Options{SSHPasswords: map[string]string{"pw": wrong}, DialTimeout: 10 * time.Second}).Get(ctx(t), "pw", uri)
		if err == nil {
			t.Fatal("a wrong password connected")
		}
		msg := err.Error()
		for _, w := range []string{`ssh authentication as "` + sshPasswordUser + `" failed`, "ssh_passwords", PasswordEnv, `host "pw"`} {
			if !strings.Contains(msg, w) {
				t.Errorf("error %q does not say %q", msg, w)
			}
		}
		if strings.Contains(msg, password) {
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

func randomHex(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// addUser makes the throw-away account (see sshPasswordUser) with
// password, and removes it when the test ends.
func addUser(t *testing.T, name, password string) {
	t.Helper()
	_ = exec.Command("userdel", "-f", name).Run() // a run that was killed left it
	if out, err := exec.Command("useradd", "-o", "-u", "0", "-g", "0", "-M", "-d", "/nonexistent", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", "-f", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
}

// startPasswordSSHD runs an sshd of the test's own on a free loopback port
// that takes passwords only and lets only sshPasswordUser in; it is
// stopped when the test ends.
func startPasswordSSHD(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "sshd.log")
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-f", "/dev/null", "-E", logFile, "-p", fmt.Sprint(port),
		"-h", strings.TrimSuffix(sshdHostKey, ".pub"),
		"-o", "ListenAddress=127.0.0.1", "-o", "PasswordAuthentication=yes", "-o", "KbdInteractiveAuthentication=no",
		"-o", "PubkeyAuthentication=no", "-o", "PermitRootLogin=yes", "-o", "AllowUsers="+sshPasswordUser,
		"-o", "UsePAM=no", "-o", "PidFile=none", "-o", "AllowStreamLocalForwarding=yes")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(logFile)
			t.Logf("sshd log:\n%s", log)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = c.Close()
			return port
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("sshd does not listen on 127.0.0.1:%d: %v\n%s", port, err, log)
		}
	}
}
