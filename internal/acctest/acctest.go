// Package acctest is the test harness shared by every package whose tests
// need the real libvirtd or the Terraform/OpenTofu CLI. It finds both, holds
// the daemon's test:///default driver open for the whole test binary (the
// driver resets when its last connection closes), and fails loudly, with the
// command that fixes it, when something is missing. It never skips.
package acctest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/virtumancer/terraform-provider-virtumancer/provider"
)

// Socket is the local libvirtd socket (SPEC section 6).
const Socket = "/var/run/libvirt/libvirt-sock"

// URIs of the two local drivers tests use.
const (
	TestURI = "test:///default"
	QemuURI = "qemu:///system"
)

const fixHint = "run `sudo scripts/testenv.sh` (or `make testenv`) to install and start libvirtd"

// ProtoV6ProviderFactories serves the provider in-process to the CLI.
var ProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"virtumancer": providerserver.NewProtocol6WithError(provider.New("test")()),
}

// Main wraps testing.M for packages with acceptance or integration tests:
// it checks libvirtd, holds test:///default open, and prepares the CLI
// environment for terraform-plugin-testing.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	holder, err := Holder()
	if err != nil {
		fmt.Fprintln(os.Stderr, "acctest:", err)
		return 1
	}
	defer func() { _ = holder.Disconnect() }()
	if err := prepareCLI(); err != nil {
		fmt.Fprintln(os.Stderr, "acctest:", err)
		return 1
	}
	return m.Run()
}

// Holder connects to the daemon's test driver; the caller keeps it open.
func Holder() (*libvirt.Libvirt, error) {
	return Dial(TestURI)
}

// Dial opens a go-libvirt connection to a local driver through the daemon.
func Dial(uri string) (*libvirt.Libvirt, error) {
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(context.Background(), "unix", Socket)
	if err != nil {
		return nil, fmt.Errorf("libvirtd does not answer on %s: %w; %s", Socket, err, fixHint)
	}
	_ = conn.Close()
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(Socket)))
	u, _ := url.Parse(uri)
	if err := l.ConnectToURI(libvirt.RemoteURI(u)); err != nil {
		return nil, fmt.Errorf("libvirtd answers on %s but %s does not open: %w; %s", Socket, uri, err, fixHint)
	}
	return l, nil
}

// RequireLibvirt fails the test now when libvirtd is not answering.
func RequireLibvirt(t testing.TB) {
	t.Helper()
	l, err := Dial(TestURI)
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Disconnect()
}

// prepareCLI points terraform-plugin-testing at the pinned OpenTofu unless
// TF_ACC_TERRAFORM_PATH already names a CLI (make testacc runs the suite a
// second time with terraform when one is on PATH).
func prepareCLI() error {
	setDefault("TF_ACC", "1")
	cli := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if cli == "" {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		cli = filepath.Join(root, ".cache", "bin", "tofu")
		if _, err := os.Stat(cli); err != nil {
			return fmt.Errorf("no Terraform/OpenTofu CLI: %s is missing; run `scripts/tofu.sh` (or `make tools`) to build the pinned OpenTofu, or set TF_ACC_TERRAFORM_PATH", cli)
		}
		os.Setenv("TF_ACC_TERRAFORM_PATH", cli)
	}
	if IsOpenTofu(cli) {
		setDefault("TF_ACC_PROVIDER_HOST", "registry.opentofu.org")
		setDefault("TF_ACC_PROVIDER_NAMESPACE", "hashicorp")
	}
	// A TF_CLI_CONFIG_FILE naming a missing file makes the CLI print a warning
	// before its version, which terraform-plugin-testing cannot parse (SPEC 6).
	if f := os.Getenv("TF_CLI_CONFIG_FILE"); f == "" || !exists(f) {
		empty := filepath.Join(os.TempDir(), "virtumancer-acc-empty.tfrc")
		if err := os.WriteFile(empty, nil, 0o600); err != nil {
			return fmt.Errorf("writing an empty CLI config: %w", err)
		}
		os.Setenv("TF_CLI_CONFIG_FILE", empty)
	}
	out, err := exec.CommandContext(context.Background(), cli, "version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s version failed: %w: %s", cli, err, out)
	}
	return nil
}

// IsOpenTofu tells OpenTofu from Terraform by the binary's name.
func IsOpenTofu(cli string) bool {
	return strings.Contains(filepath.Base(cli), "tofu")
}

func setDefault(k, v string) {
	if os.Getenv(k) == "" {
		os.Setenv(k, v)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if exists(filepath.Join(d, "go.mod")) && exists(filepath.Join(d, "main.go")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("cannot find the module root above %s", dir)
		}
	}
}

// StorePath returns a fresh store path in a temp dir of the test.
func StorePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "virtumancer.db")
}

// ProviderConfig is the provider block for a test store.
func ProviderConfig(dbPath string) string {
	return fmt.Sprintf("provider \"virtumancer\" {\n  database = %q\n}\n", dbPath)
}

// Name returns a unique, prefixed name for a test object on a shared driver.
func Name(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000_000)
}
