package hypervisor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"golang.org/x/crypto/ssh/knownhosts"
)

// DefaultSocket is where the system libvirtd listens.
const DefaultSocket = "/var/run/libvirt/libvirt-sock"

// connect dials t and opens its driver, all within DialTimeout. The URI is
// never handed to libvirt.ConnectToURI(*url.URL): that builds its own
// dialer and ignores the pool's known_hosts/key defaults (and refuses them
// in a qemu+ssh URI), so the dialer is built here (go-libvirt's dialers for
// unix, tcp and tls; our own for ssh, see sshDialer) and only the driver
// name (t.RemoteName) goes to the daemon.
func (p *Pool) connect(t *Target) (*client, error) {
	inner, err := p.dialerFor(t)
	if err != nil {
		return nil, err
	}
	d := &trackingDialer{inner: inner}
	l := libvirt.NewWithDialer(d)
	done := make(chan error, 1)
	go func() { done <- l.ConnectToURI(libvirt.ConnectURI(t.RemoteName)) }()
	timer := time.NewTimer(p.opts.DialTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return nil, explainDialErr(t, p.knownHostsFor(t), err)
		}
	case <-timer.C:
		d.kill() // unblocks ConnectToURI if it got as far as a socket
		return nil, fmt.Errorf("%w: no connection to %s within %s; check that libvirtd runs there and is reachable",
			ErrTimeout, where(t), p.opts.DialTimeout)
	}
	p.dials.Add(1)
	return &client{l: l, d: d}, nil
}

func (p *Pool) dialerFor(t *Target) (socket.Dialer, error) {
	switch t.Transport {
	case "unix":
		return dialers.NewLocal(dialers.WithSocket(localSocket(t)), dialers.WithLocalTimeout(p.opts.DialTimeout)), nil
	case "tcp":
		opts := []dialers.RemoteOption{dialers.WithRemoteTimeout(p.opts.DialTimeout)}
		if t.Port != "" {
			opts = append(opts, dialers.UsePort(t.Port))
		}
		return dialers.NewRemote(t.Host, opts...), nil
	case "tls":
		// dialers.NewTLS dereferences a nil *user.User when
		// user.Current fails; fail cleanly instead.
		if _, err := user.Current(); err != nil {
			return nil, fmt.Errorf("tls transport: cannot determine the current user for its certificate paths: %w", err)
		}
		return dialers.NewTLS(t.Host, tlsOptions(t)...), nil
	}
	return p.newSSHDialer(t)
}

func tlsOptions(t *Target) []dialers.TLSOption {
	var opts []dialers.TLSOption
	if t.Port != "" {
		opts = append(opts, dialers.UseTLSPort(t.Port))
	}
	if t.PKIPath != "" {
		opts = append(opts, dialers.UsePKIPath(t.PKIPath))
	}
	if t.TLSNoVerify {
		opts = append(opts, dialers.WithInsecureNoVerify())
	}
	return opts
}

// localSocket is the unix socket for t: socket= if given, the user's
// session daemon for /session (as libvirt does), else the system daemon,
// which also serves the test driver.
func localSocket(t *Target) string {
	if t.Socket != "" {
		return t.Socket
	}
	if t.Path == "/session" {
		dir := os.Getenv("XDG_RUNTIME_DIR")
		if dir == "" {
			dir = filepath.Join(homeDir(), ".cache")
		}
		return filepath.Join(dir, "libvirt", "libvirt-sock")
	}
	return DefaultSocket
}

func (p *Pool) knownHostsFor(t *Target) string {
	return expandHome(firstNonEmpty(t.KnownHostsFile, p.opts.KnownHostsFile, filepath.Join(homeDir(), ".ssh", "known_hosts")))
}

// explainDialErr adds what to do to the dial failures people actually hit.
func explainDialErr(t *Target, knownHosts string, err error) error {
	var keyErr *knownhosts.KeyError
	msg := err.Error()
	switch {
	case errors.As(err, &keyErr) && len(keyErr.Want) > 0, strings.Contains(msg, "knownhosts: key mismatch"):
		return fmt.Errorf("ssh host key of %s does NOT match the one recorded in %s: the host was reinstalled "+
			"or someone is intercepting the connection; verify the fingerprint before updating %s: %w",
			where(t), knownHosts, knownHosts, err)
	case errors.As(err, &keyErr), strings.Contains(msg, "knownhosts: key is unknown"):
		return fmt.Errorf("unknown ssh host key: %s is not in %s; check its fingerprint and add it "+
			"(ssh-keyscan -p %s %s >> %s), or opt out explicitly with known_hosts_verify=auto|ignore (qemu+libssh) "+
			"or no_verify=1 (qemu+ssh): %w",
			where(t), knownHosts, portOr(t.Port, "22"), t.Host, knownHosts, err)
	case strings.Contains(msg, "no common algorithm for host key"):
		return fmt.Errorf("%s offers none of the host key types recorded for it in %s: the host was reinstalled "+
			"or someone is intercepting the connection; verify its fingerprint before updating %s: %w",
			where(t), knownHosts, knownHosts, err)
	case strings.Contains(msg, "unable to authenticate"):
		return fmt.Errorf("ssh authentication as %q failed; set keyfile= in the URI or the provider's key file "+
			"to a key authorized on the host, or with sshauth=password give the password in the provider's ssh_passwords "+
			"or %s: %w", userOr(t.User), PasswordEnv, err)
	case t.Transport == "unix" && (errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)):
		return fmt.Errorf("libvirtd does not answer on %s; start it (libvirtd -d) or point socket= at its socket: %w",
			localSocket(t), err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("nothing listens on %s; check the host and port: %w", where(t), err)
	}
	return err
}

// where names the endpoint a target dials, for messages.
func where(t *Target) string {
	switch t.Transport {
	case "unix":
		return localSocket(t)
	case "tcp":
		return net.JoinHostPort(t.Host, portOr(t.Port, "16509"))
	case "tls":
		return net.JoinHostPort(t.Host, portOr(t.Port, "16514"))
	}
	return net.JoinHostPort(t.Host, portOr(t.Port, "22"))
}

// trackingDialer remembers the socket it dialled so that kill can close it
// from outside go-libvirt, which offers no way to abandon a stuck call.
type trackingDialer struct {
	inner socket.Dialer

	mu     sync.Mutex
	conn   net.Conn
	killed bool
}

var errDialAbandoned = errors.New("dial abandoned after timeout")

func (d *trackingDialer) Dial() (net.Conn, error) {
	c, err := d.inner.Dial()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.killed {
		_ = c.Close()
		return nil, errDialAbandoned
	}
	d.conn = c
	return c, nil
}

func (d *trackingDialer) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.killed = true
	if d.conn != nil {
		_ = d.conn.Close()
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func portOr(port, def string) string { return firstNonEmpty(port, def) }

func userOr(u string) string {
	if u != "" {
		return u
	}
	return os.Getenv("USER")
}

func homeDir() string {
	h, _ := os.UserHomeDir()
	return h
}

// expandHome turns a leading ~/ into the home directory, so that provider
// settings like "~/.ssh/id_ed25519" work as people write them.
func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(), p[2:])
	}
	return p
}
