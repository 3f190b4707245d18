// Package libvirttest is the part of the test harness that talks to the
// real libvirtd: it dials the local daemon and holds the daemon's
// test:///default driver open for the rest of the test binary (the driver
// resets when its last connection closes). It imports nothing of
// Terraform, so engine and command tests use it without the plugin
// framework; internal/acctest builds the CLI harness on top of it.
//
// Nothing happens at start-up: the holder is opened by the first test that
// asks for libvirtd (Require, Dial, Connect), so the plain Test… tests of a
// binary never touch the daemon, while every TestIntegration…/TestAcc…
// test fails loudly, with the command that fixes it, when it is missing.
// It never skips.
package libvirttest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// Socket is the local libvirtd socket (SPEC section 6).
const Socket = "/var/run/libvirt/libvirt-sock"

// URIs of the two local drivers tests use.
const (
	TestURI = "test:///default"
	QemuURI = "qemu:///system"
)

// FixHint is what a test that finds no libvirtd tells the developer to do.
const FixHint = "run `sudo scripts/testenv.sh` (or `make testenv`) to install and start libvirtd"

// holder keeps test:///default alive between tests; err is why it could
// not be opened. Both are set once, by the first test that needs libvirtd.
var holder struct {
	mu    sync.Mutex
	tried bool
	conn  *libvirt.Libvirt
	err   error
}

// Main runs the tests of a binary that has TestIntegration… or TestAcc…
// tests, then closes the holder if one of them opened it.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main for a TestMain that has more to do after the tests.
func Run(m *testing.M) int {
	code := m.Run()
	release()
	return code
}

// Require fails the test now, with the fix, unless libvirtd answers and
// test:///default opens. The first call opens the holder.
func Require(t testing.TB) {
	t.Helper()
	if err := hold(); err != nil {
		t.Fatalf("this test needs the real libvirtd: %v", err)
	}
}

// Dial opens a new connection to a local driver through the daemon, after
// making sure the holder is open; the caller closes it.
func Dial(uri string) (*libvirt.Libvirt, error) {
	if err := hold(); err != nil {
		return nil, err
	}
	return dial(uri)
}

// Connect is Dial for a test: the connection closes when the test ends,
// and a missing daemon fails the test with the fix.
func Connect(t testing.TB, uri string) *libvirt.Libvirt {
	t.Helper()
	l, err := Dial(uri)
	if err != nil {
		t.Fatalf("this test needs the real libvirtd: %v", err)
	}
	t.Cleanup(func() { _ = l.Disconnect() })
	return l
}

// Rehold opens a new holder after a test restarted libvirtd (the old one
// died with the daemon). It returns the dial error while the daemon is
// not back yet, so callers can poll it.
func Rehold() error {
	l, err := dial(TestURI)
	if err != nil {
		return err
	}
	holder.mu.Lock()
	defer holder.mu.Unlock()
	if holder.conn != nil {
		_ = holder.conn.Disconnect()
	}
	holder.tried, holder.conn, holder.err = true, l, nil
	return nil
}

func hold() error {
	holder.mu.Lock()
	defer holder.mu.Unlock()
	if !holder.tried {
		holder.tried = true
		holder.conn, holder.err = dial(TestURI)
	}
	return holder.err
}

func release() {
	holder.mu.Lock()
	defer holder.mu.Unlock()
	if holder.conn != nil {
		_ = holder.conn.Disconnect()
		holder.conn = nil
	}
}

// dial checks the socket first, so that a daemon that is not running and
// one that runs but refuses the URI give different messages.
func dial(uri string) (*libvirt.Libvirt, error) {
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(context.Background(), "unix", Socket)
	if err != nil {
		return nil, fmt.Errorf("libvirttest: libvirtd does not answer on %s: %w; %s", Socket, err, FixHint)
	}
	_ = conn.Close()
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("libvirttest: bad URI %q: %w", uri, err)
	}
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(Socket)))
	if err := l.ConnectToURI(libvirt.RemoteURI(u)); err != nil {
		return nil, fmt.Errorf("libvirttest: libvirtd answers on %s but %s does not open: %w; %s", Socket, uri, err, FixHint)
	}
	return l, nil
}
