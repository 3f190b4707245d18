package libvirttest

import (
	"context"
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

// SSHDHostKey is the host key testenv.sh's sshd uses; PasswordSSHD's too.
const SSHDHostKey = "/etc/ssh/ssh_host_ed25519_key"

// PasswordUser is the throw-away account of StartPasswordSSHD. libvirtd
// here authorizes non-root clients through polkit, which this sandbox does
// not run, so the account shares root's uid (useradd -o); it exists only
// while the test runs, and only the test's own sshd, on a loopback port,
// lets it log in.
const PasswordUser = "lg-sshpw"

// PasswordSSHD is a real OpenSSH sshd that takes passwords only.
type PasswordSSHD struct {
	Port       int
	User       string
	Password   string // random, for this test only
	KnownHosts string // a known_hosts file holding the sshd's host key
}

// URI is a qemu+libssh URI to the system daemon through the sshd with
// sshauth=password.
func (s PasswordSSHD) URI() string {
	return fmt.Sprintf("qemu+libssh://%s@127.0.0.1:%d/system?sshauth=password&known_hosts=%s", s.User, s.Port, s.KnownHosts)
}

// StartPasswordSSHD makes PasswordUser with a random password and starts
// an sshd of the test's own on a free loopback port that lets only that
// account in, by password; both go when the test ends. It needs root.
func StartPasswordSSHD(t testing.TB) PasswordSSHD {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	s := PasswordSSHD{User: PasswordUser, Password: hex.EncodeToString(b)}
	addUser(t, s.User, s.Password)
	s.Port = startSSHD(t, s.User)
	pub, err := os.ReadFile(SSHDHostKey + ".pub")
	if err != nil {
		t.Fatalf("read the sshd host key: %v", err)
	}
	f := strings.Fields(string(pub))
	s.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(s.KnownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s %s\n", s.Port, f[0], f[1])), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func addUser(t testing.TB, name, password string) {
	t.Helper()
	ctx := context.Background()
	_ = exec.CommandContext(ctx, "userdel", "-f", name).Run() // a run that was killed left it
	if out, err := exec.CommandContext(ctx, "useradd", "-o", "-u", "0", "-g", "0", "-M", "-d", "/nonexistent", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.CommandContext(ctx, "userdel", "-f", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	cmd := exec.CommandContext(ctx, "chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
}

func startSSHD(t testing.TB, user string) int {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "sshd.log")
	cmd := exec.CommandContext(ctx, "/usr/sbin/sshd", "-D", "-f", "/dev/null", "-E", logFile, "-p", fmt.Sprint(port), "-h", SSHDHostKey,
		"-o", "ListenAddress=127.0.0.1", "-o", "PasswordAuthentication=yes", "-o", "KbdInteractiveAuthentication=no",
		"-o", "PubkeyAuthentication=no", "-o", "PermitRootLogin=yes", "-o", "AllowUsers="+user,
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
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
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
