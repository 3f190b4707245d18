package hypervisor

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// The sshd started by scripts/testenv.sh.
const (
	sshAddr        = "127.0.0.1:2222"
	authorizedKeys = "/root/.ssh/authorized_keys_virtumancer_test"
	sshdHostKey    = "/etc/ssh/ssh_host_ed25519_key.pub"
)

// sshFixture is a user key authorized on the test sshd and a known_hosts
// file holding the sshd's ed25519 host key.
type sshFixture struct {
	keyFile, knownHosts string
}

var authorizedMu sync.Mutex // tests in this binary share the file

func newSSHFixture(t *testing.T) sshFixture {
	t.Helper()
	requireDaemon(t)
	if c, err := net.DialTimeout("tcp", sshAddr, 2*time.Second); err != nil {
		t.Fatalf("no sshd on %s (%v); %s", sshAddr, err, fixHint)
	} else {
		_ = c.Close()
	}
	dir := t.TempDir()
	f := sshFixture{keyFile: filepath.Join(dir, "id_ed25519"), knownHosts: filepath.Join(dir, "known_hosts")}
	pub := writeUserKey(t, f.keyFile)
	authorize(t, pub)
	host, err := os.ReadFile(sshdHostKey)
	if err != nil {
		t.Fatalf("read the sshd host key: %v", err)
	}
	fields := strings.Fields(string(host))
	line := "[127.0.0.1]:2222 " + fields[0] + " " + fields[1] + "\n"
	if err := os.WriteFile(f.knownHosts, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// writeUserKey writes a new ed25519 private key and returns the
// authorized_keys line of its public half.
func writeUserKey(t *testing.T, path string) string {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " " + filepath.Base(filepath.Dir(path))
}

// authorize appends line to the test sshd's authorized keys (other test
// binaries may use the file at the same time) and removes it afterwards.
func authorize(t *testing.T, line string) {
	t.Helper()
	authorizedMu.Lock()
	defer authorizedMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(authorizedKeys), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(authorizedKeys, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unauthorize(line) })
}

func unauthorize(line string) {
	authorizedMu.Lock()
	defer authorizedMu.Unlock()
	data, err := os.ReadFile(authorizedKeys)
	if err != nil {
		return
	}
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if l != line && l != "" {
			keep = append(keep, l)
		}
	}
	out := strings.Join(keep, "\n")
	if out != "" {
		out += "\n"
	}
	_ = os.WriteFile(authorizedKeys, []byte(out), 0o600)
}

func TestIntegrationSSHLibsshURIOptions(t *testing.T) {
	f := newSSHFixture(t)
	uri := "qemu+libssh://root@127.0.0.1:2222/system?keyfile=" + f.keyFile + "&known_hosts=" + f.knownHosts
	checkSSHFacts(t, Options{}, uri)
}

func TestIntegrationSSHPoolDefaults(t *testing.T) {
	f := newSSHFixture(t)
	// qemu+ssh cannot carry known_hosts=; the pool's defaults apply.
	checkSSHFacts(t, Options{KnownHostsFile: f.knownHosts, KeyFile: f.keyFile}, "qemu+ssh://root@127.0.0.1:2222/system")
}

func checkSSHFacts(t *testing.T, opts Options, uri string) {
	t.Helper()
	c, err := newPool(t, opts).Get(ctx(t), "remote", uri)
	if err != nil {
		t.Fatal(err)
	}
	facts, err := c.Facts(ctx(t))
	if err != nil || facts.Driver != "QEMU" {
		t.Fatalf("Facts over ssh = %+v, %v", facts, err)
	}
}

func TestIntegrationSSHRefusesUnknownHostKey(t *testing.T) {
	f := newSSHFixture(t)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		opts Options
		uri  string
	}{
		"libssh": {Options{}, "qemu+libssh://root@127.0.0.1:2222/system?keyfile=" + f.keyFile + "&known_hosts=" + empty},
		"ssh":    {Options{KnownHostsFile: empty, KeyFile: f.keyFile}, "qemu+ssh://root@127.0.0.1:2222/system"},
	}
	for name, tc := range cases {
		_, err := newPool(t, tc.opts).Get(ctx(t), "remote", tc.uri)
		for _, w := range []string{"unknown ssh host key", "key is unknown", empty, `host "remote"`, "ssh-keyscan -p 2222 127.0.0.1"} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Get = %v, want it to mention %q", name, err, w)
			}
		}
	}
}

func TestIntegrationSSHRefusesChangedHostKey(t *testing.T) {
	f := newSSHFixture(t)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := ssh.NewPublicKey(other)
	wrong := filepath.Join(t.TempDir(), "known_hosts")
	line := "[127.0.0.1]:2222 " + string(ssh.MarshalAuthorizedKey(sshPub))
	if err := os.WriteFile(wrong, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := newPool(t, Options{KnownHostsFile: wrong, KeyFile: f.keyFile}).Get(ctx(t), "remote", "qemu+ssh://root@127.0.0.1:2222/system")
	if err == nil || !strings.Contains(err.Error(), "does NOT match") {
		t.Errorf("Get with a changed host key = %v, want a mismatch error", err)
	}
}

func TestIntegrationSSHMissingKnownHostsFile(t *testing.T) {
	f := newSSHFixture(t)
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := newPool(t, Options{KnownHostsFile: missing, KeyFile: f.keyFile}).Get(ctx(t), "remote", "qemu+ssh://root@127.0.0.1:2222/system")
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "ssh-keyscan") {
		t.Errorf("Get with a missing known_hosts = %v", err)
	}
	// Opting out explicitly connects without one.
	checkSSHFacts(t, Options{KnownHostsFile: missing, KeyFile: f.keyFile}, "qemu+ssh://root@127.0.0.1:2222/system?no_verify=1")
}

// sshSocketsOpen counts this process's TCP sockets connected to the test
// sshd's port.
func sshSocketsOpen(t *testing.T) int {
	t.Helper()
	inodes := map[string]bool{}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if link, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	data, err := os.ReadFile("/proc/self/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		// remote address 0100007F:08AE is 127.0.0.1:2222; field 9 is the inode
		if len(f) > 9 && f[2] == "0100007F:08AE" && inodes[f[9]] {
			n++
		}
	}
	return n
}

func TestIntegrationSSHRedialLeavesNoConnectionBehind(t *testing.T) {
	f := newSSHFixture(t)
	p := NewPool(Options{KnownHostsFile: f.knownHosts, KeyFile: f.keyFile})
	c, err := p.Get(ctx(t), "remote", "qemu+ssh://root@127.0.0.1:2222/system")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		cl, _ := c.s.client(ctx(t))
		_ = cl.l.Disconnect()
		if _, err := c.Facts(ctx(t)); err != nil {
			t.Fatalf("call after the ssh connection dropped: %v", err)
		}
	}
	if n := sshSocketsOpen(t); n != 1 {
		t.Errorf("%d ssh connections open after 3 re-dials, want 1", n)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := sshSocketsOpen(t); n != 0 {
		t.Errorf("%d ssh connections still open after Close", n)
	}
}

func TestIntegrationSSHAutoRecordsUnknownHostKey(t *testing.T) {
	f := newSSHFixture(t)
	fresh := filepath.Join(t.TempDir(), "sub", "known_hosts")
	uri := "qemu+libssh://root@127.0.0.1:2222/system?keyfile=" + f.keyFile + "&known_hosts=" + fresh + "&known_hosts_verify=auto"
	checkSSHFacts(t, Options{}, uri)
	recorded, err := os.ReadFile(fresh)
	if err != nil || !strings.HasPrefix(string(recorded), "[127.0.0.1]:2222 ") {
		t.Fatalf("known_hosts after auto: %q, %v", recorded, err)
	}
	// The recorded key now verifies the host in normal mode.
	checkSSHFacts(t, Options{}, strings.TrimSuffix(uri, "&known_hosts_verify=auto"))
}

func TestIntegrationSSHUnauthorizedKey(t *testing.T) {
	f := newSSHFixture(t)
	stranger := filepath.Join(t.TempDir(), "id_ed25519")
	writeUserKey(t, stranger) // never authorized
	_, err := newPool(t, Options{KnownHostsFile: f.knownHosts, KeyFile: stranger}).Get(ctx(t), "remote", "qemu+ssh://root@127.0.0.1:2222/system")
	if err == nil || !strings.Contains(err.Error(), `ssh authentication as "root" failed`) {
		t.Errorf("Get with an unauthorized key = %v", err)
	}
	missing := filepath.Join(t.TempDir(), "no_key")
	_, err = newPool(t, Options{KnownHostsFile: f.knownHosts, KeyFile: missing}).Get(ctx(t), "remote", "qemu+ssh://root@127.0.0.1:2222/system")
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "key file") {
		t.Errorf("Get with a missing key file = %v", err)
	}
}
