package hypervisor

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshDialer reaches libvirtd's unix socket through an ssh
// "direct-streamlocal" channel, like go-libvirt's dialers.SSH, whose
// options it mirrors, but fixes three things that dialer gets wrong:
//
//   - Host key algorithm: x/crypto/ssh prefers ECDSA over Ed25519, so
//     against an sshd with both keys it negotiates ECDSA and reports
//     "knownhosts: key mismatch" when known_hosts holds only the Ed25519
//     key (what OpenSSH records by default). Like OpenSSH, this dialer
//     offers only the algorithms of the keys known for the host.
//   - Leak: dialers.SSH never closes its ssh.Client, so every re-dial
//     leaves a TCP connection and its goroutines behind. Here closing the
//     channel (or it failing) closes the client.
//   - Hang: its handshake has no deadline; here DialTimeout bounds it.
type sshDialer struct {
	addr         string // host:port
	user         string
	password     string
	keyFile      string // "" = the first default key that exists
	knownHosts   string
	hostKey      string // HostKeyVerify, HostKeyAuto, HostKeyIgnore
	authOrder    []string
	remoteSocket string
	timeout      time.Duration
}

func (p *Pool) newSSHDialer(t *Target) (*sshDialer, error) {
	d := &sshDialer{
		addr: net.JoinHostPort(t.Host, portOr(t.Port, "22")), user: t.User, password: p.sshPassword(t),
		knownHosts: p.knownHostsFor(t), hostKey: t.HostKey, authOrder: t.SSHAuth,
		remoteSocket: firstNonEmpty(t.Socket, DefaultSocket), timeout: p.opts.DialTimeout,
	}
	if d.user == "" {
		if u, err := user.Current(); err == nil {
			d.user = u.Username
		}
	}
	if len(d.authOrder) == 0 {
		d.authOrder = []string{"agent", "privkey", "password"} // libvirt's default order
	}
	if key := firstNonEmpty(t.KeyFile, p.opts.KeyFile); key != "" {
		d.keyFile = expandHome(key)
		if _, err := os.Stat(d.keyFile); err != nil {
			return nil, fmt.Errorf("ssh key file: %w; set keyfile= in the URI or the provider's key file to an existing private key", err)
		}
	}
	if d.hostKey == HostKeyVerify {
		if _, err := os.Stat(d.knownHosts); err != nil {
			return nil, fmt.Errorf("ssh host keys are verified against %s, which cannot be read (%v); add the host's key to it "+
				"(ssh-keyscan -p %s %s >> %s, after checking the fingerprint) or name another file "+
				"(known_hosts= with qemu+libssh, or the provider's known hosts file)",
				d.knownHosts, errors.Unwrap(err), portOr(t.Port, "22"), t.Host, d.knownHosts)
		}
	}
	return d, nil
}

// sshPassword is the host's own password (Options.SSHPasswords), else one
// inside a URI someone else wrote into the store (it keeps working; we
// never write one), else the environment's.
func (p *Pool) sshPassword(t *Target) string {
	return firstNonEmpty(p.opts.SSHPasswords[t.HostID], t.password, os.Getenv(PasswordEnv))
}

// Dial implements socket.Dialer.
func (d *sshDialer) Dial() (net.Conn, error) {
	// socket.Dialer has no context; the timeout bounds the dial.
	tcp, err := (&net.Dialer{Timeout: d.timeout}).DialContext(context.Background(), "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	conf, authErrs, err := d.config(tcp.RemoteAddr())
	if err != nil {
		_ = tcp.Close()
		return nil, err
	}
	_ = tcp.SetDeadline(time.Now().Add(d.timeout))
	sc, chans, reqs, err := ssh.NewClientConn(tcp, d.addr, conf)
	if err != nil {
		_ = tcp.Close()
		if strings.Contains(err.Error(), "unable to authenticate") { // say why keys were missing
			err = errors.Join(append([]error{err}, *authErrs...)...)
		}
		return nil, err
	}
	_ = tcp.SetDeadline(time.Time{})
	client := ssh.NewClient(sc, chans, reqs)
	ch, err := client.Dial("unix", d.remoteSocket)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("ssh to %s works but libvirtd's socket %s there does not answer: %w", d.addr, d.remoteSocket, err)
	}
	return &sshConn{Conn: ch, client: client}, nil
}

func (d *sshDialer) config(remote net.Addr) (*ssh.ClientConfig, *[]error, error) {
	conf := &ssh.ClientConfig{User: d.user, Timeout: d.timeout}
	if d.hostKey == HostKeyIgnore {
		conf.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // the URI opted out explicitly
	} else {
		check, err := d.hostKeyCallback()
		if err != nil {
			return nil, nil, err
		}
		conf.HostKeyCallback = check
		conf.HostKeyAlgorithms = knownAlgorithms(check, d.addr, remote)
	}
	var errs []error
	conf.Auth = d.authMethods(&errs)
	return conf, &errs, nil
}

// hostKeyCallback checks against known_hosts; with HostKeyAuto a host with
// no recorded key is accepted and recorded (a changed key is still refused).
func (d *sshDialer) hostKeyCallback() (ssh.HostKeyCallback, error) {
	if d.hostKey == HostKeyAuto {
		if err := touch(d.knownHosts); err != nil {
			return nil, fmt.Errorf("known_hosts_verify=auto cannot create %s: %w", d.knownHosts, err)
		}
	}
	check, err := knownhosts.New(d.knownHosts)
	if err != nil {
		return nil, fmt.Errorf("read known hosts %s: %w", d.knownHosts, err)
	}
	if d.hostKey != HostKeyAuto {
		return check, nil
	}
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := check(host, remote, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) && len(ke.Want) == 0 {
			return appendKnownHost(d.knownHosts, host, key)
		}
		return err
	}, nil
}

// probeKey is a key no host has: checking it against known_hosts yields
// the keys recorded for a host, whatever the file's format (hashed names,
// wildcards, ports).
var probeKey = func() ssh.PublicKey {
	k, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	return k
}()

// knownAlgorithms lists the host key algorithms of the keys recorded for
// addr, or nil (the library default) when none is recorded.
func knownAlgorithms(check ssh.HostKeyCallback, addr string, remote net.Addr) []string {
	var ke *knownhosts.KeyError
	if !errors.As(check(addr, remote, probeKey), &ke) {
		return nil
	}
	var algos []string
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA: // the same key signs with SHA-2 too
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, t)
		}
	}
	slices.Sort(algos)
	return slices.Compact(algos)
}

// authMethods builds the methods in the configured order; problems (an
// unreadable key) are collected and reported only if authentication fails.
func (d *sshDialer) authMethods(errs *[]error) []ssh.AuthMethod {
	var signers []ssh.Signer
	var methods []ssh.AuthMethod
	publicKeys := false
	for _, m := range d.authOrder {
		switch m {
		case "agent":
			signers = append(signers, agentSigners(errs)...)
		case "privkey":
			signers = append(signers, d.keySigners(errs)...)
		case "password":
			if d.password != "" {
				methods = append(methods, ssh.Password(d.password))
			}
		}
		// x/crypto tries one "publickey" method only: share one callback.
		if len(signers) > 0 && !publicKeys {
			publicKeys = true
			methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) { return signers, nil }))
		}
	}
	return methods
}

func agentSigners(errs *[]error) []ssh.Signer {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil
	}
	c, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(context.Background(), "unix", sock)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("ssh agent %s: %w", sock, err))
		return nil
	}
	signers, err := agent.NewClient(c).Signers()
	if err != nil {
		*errs = append(*errs, fmt.Errorf("ssh agent %s: %w", sock, err))
	}
	return signers
}

func (d *sshDialer) keySigners(errs *[]error) []ssh.Signer {
	path := d.keyFile
	if path == "" {
		path = defaultKeyFile()
	}
	if path == "" {
		return nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("ssh key %s: %w", path, err))
		return nil
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		err = errors.New("it is passphrase-protected; load it into ssh-agent instead")
	}
	if err != nil {
		*errs = append(*errs, fmt.Errorf("ssh key %s: %w", path, err))
		return nil
	}
	return []ssh.Signer{signer}
}

// defaultKeyFile is the first key libvirt's libssh transport would try.
func defaultKeyFile() string {
	for _, name := range []string{"identity", "id_dsa", "id_ecdsa", "id_ed25519", "id_rsa"} {
		p := filepath.Join(homeDir(), ".ssh", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func touch(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

func appendKnownHost(path, host string, key ssh.PublicKey) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("record the host key in %s: %w", path, err)
	}
	_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(host)}, key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sshConn is the libvirt channel; closing it, or a read failing on it,
// also closes the ssh connection that carries it.
type sshConn struct {
	net.Conn
	client *ssh.Client
	once   sync.Once
	ended  atomic.Bool
}

func (c *sshConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		c.closeClient()
	}
	return n, err
}

// Close reports no error when the connection had already ended: go-libvirt
// passes Close errors up through Disconnect, and "already closed" is not a
// failure to close.
func (c *sshConn) Close() error {
	err := c.Conn.Close()
	ended := c.ended.Load() // after: a concurrent end may be why Close failed
	c.closeClient()
	if ended || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func (c *sshConn) closeClient() {
	c.once.Do(func() {
		c.ended.Store(true)
		_ = c.client.Close()
	})
}
