// Package acctest is the harness of the TestAcc… tests, which need the
// real libvirtd and the Terraform/OpenTofu CLI. It builds on libvirttest
// (the daemon and the test:///default holder) and adds the CLI: it finds
// it, sets up terraform-plugin-testing's environment and serves the
// provider in-process. Nothing is prepared at start-up: PreCheck, which
// every TestAcc… calls first, does it on first use, so the plain Test…
// tests of the same binary need neither. It fails loudly, never skips.
package acctest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/provider"
)

// The daemon's socket and the two local drivers, from libvirttest.
const (
	Socket  = libvirttest.Socket
	TestURI = libvirttest.TestURI
	QemuURI = libvirttest.QemuURI
)

// ProtoV6ProviderFactories serves the provider in-process to the CLI.
var ProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"virtumancer": providerserver.NewProtocol6WithError(provider.New("test")()),
}

// Main is the TestMain of packages with acceptance tests: it runs the
// tests and closes the test:///default holder afterwards.
func Main(m *testing.M) {
	libvirttest.Main(m)
}

var cliReady struct {
	once sync.Once
	err  error
}

// PreCheck is the first call of every TestAcc… test: it fails the test,
// with the fix, unless libvirtd answers and a CLI is ready. The CLI is
// prepared once per binary, on first use. It must run before
// resource.Test, which silently skips when TF_ACC is unset.
func PreCheck(t testing.TB) {
	t.Helper()
	libvirttest.Require(t)
	cliReady.once.Do(func() { cliReady.err = prepareCLI() })
	if cliReady.err != nil {
		t.Fatal(cliReady.err)
	}
}

// Dial opens a go-libvirt connection to a local driver through the daemon.
func Dial(uri string) (*libvirt.Libvirt, error) {
	return libvirttest.Dial(uri)
}

// RequireLibvirt fails the test now when libvirtd is not answering (for
// benchmarks that serve the provider without a CLI).
func RequireLibvirt(t testing.TB) {
	t.Helper()
	libvirttest.Require(t)
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
			return fmt.Errorf("acctest: no Terraform/OpenTofu CLI: %s is missing; run `scripts/tofu.sh` (or `make tools`) to build the pinned OpenTofu, or set TF_ACC_TERRAFORM_PATH", cli)
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
			return fmt.Errorf("acctest: writing an empty CLI config %s: %w", empty, err)
		}
		os.Setenv("TF_CLI_CONFIG_FILE", empty)
	}
	out, err := exec.CommandContext(context.Background(), cli, "version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("acctest: `%s version` failed: %w: %s; rebuild it with `scripts/tofu.sh` or point TF_ACC_TERRAFORM_PATH at a working CLI", cli, err, out)
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
			return "", fmt.Errorf("acctest: cannot find the module root (go.mod beside main.go) above %s; run the tests from inside the repository", dir)
		}
	}
}

// StoreLocation returns a fresh store on the backend VIRTUMANCER_TEST_STORE
// chooses (internal/pgtest): a SQLite path by default, a new PostgreSQL
// database's URL under `make testpg`. Tests not about SQLite use it.
func StoreLocation(t testing.TB) string {
	t.Helper()
	return pgtest.StoreLocation(t, "acc")
}

// StorePath returns a fresh SQLite store path in a temp dir of the test,
// whatever VIRTUMANCER_TEST_STORE says: for tests about the file itself.
func StorePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "virtumancer.db")
}

// ProviderConfig is the provider block for a test store (a path or a URL).
func ProviderConfig(dbPath string) string {
	return fmt.Sprintf("provider \"virtumancer\" {\n  database = %q\n}\n", dbPath)
}

// Name returns a unique, prefixed name for a test object on a shared driver.
func Name(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000_000)
}
