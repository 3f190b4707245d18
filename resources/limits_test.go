package resources_test

import (
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/sizes"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest"
)

// limitCase is one configuration sent to ValidateResourceConfig and the
// errors it must get back, each as "summary: detail", one a line ("" for
// none; "prefix:" for one error that starts so).
type limitCase struct {
	name     string
	resource string
	attrs    map[string]tftypes.Value
	want     string
}

func num(n int64) tftypes.Value  { return tftypes.NewValue(tftypes.Number, n) }
func str(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }

// vmAttrs is a valid VM with some attributes replaced.
func vmAttrs(over map[string]tftypes.Value) map[string]tftypes.Value {
	a := map[string]tftypes.Value{"host_id": str("h"), "name": str("lg-limits"), "vcpu": num(1), "memory": num(64)}
	for k, v := range over {
		a[k] = v
	}
	return a
}

// volAttrs is a volume of format (null: the default, qcow2) and capacity.
func volAttrs(format string, capacity tftypes.Value) map[string]tftypes.Value {
	a := map[string]tftypes.Value{"host_id": str("h"), "pool": str("default"), "name": str("lg-limits.img"), "capacity": capacity}
	if format != "" {
		a["format"] = str(format)
	}
	return a
}

const (
	tooLarge = "Value too large: "
	memWhy   = "libvirt holds at most 8796093022207 MiB (2^53-1 KiB) of domain memory. Use a smaller value."
	vcpuWhy  = "at most 4096, the largest QEMU machine type limit (libvirt has no bound of its own, and a huge count " +
		"exhausts libvirtd's memory). Use a smaller value."
	rawWhy   = "libvirt holds at most 8796093022207 MiB (2^63-1 bytes) per volume. Use a smaller value."
	qcow2Why = `a qcow2 volume holds at most 2147483648 MiB (2 PiB, with the 64 KiB clusters libvirt creates); ` +
		`use format = "raw" for a larger one. Use a smaller value.`
	uriFix = "use qemu:///system, qemu+ssh://user@host/system, qemu+libssh://user@host/system?known_hosts=FILE, " +
		"qemu+tcp://host/system, qemu+tls://host/system or test:///default"
)

func sizeCases() []limitCase {
	const maxMem, maxVol, maxQcow2 = sizes.MaxMemoryMiB, sizes.MaxVolumeMiB, sizes.MaxQcow2MiB
	vm := func(name string, over map[string]tftypes.Value, want string) limitCase {
		return limitCase{name, "virtumancer_vm", vmAttrs(over), want}
	}
	vol := func(name, format string, capacity tftypes.Value, want string) limitCase {
		return limitCase{name, "virtumancer_volume", volAttrs(format, capacity), want}
	}
	return []limitCase{
		vm("memory at the limit", map[string]tftypes.Value{"memory": num(maxMem)}, ""),
		vm("memory one over", map[string]tftypes.Value{"memory": num(maxMem + 1)},
			tooLarge+"memory is 8796093022208; "+memWhy),
		vm("memory that wrapped to 1 MiB", map[string]tftypes.Value{"memory": num(18014398509481985)},
			tooLarge+"memory is 18014398509481985; "+memWhy),
		vm("memory zero", map[string]tftypes.Value{"memory": num(0)},
			"Invalid Attribute Value: Attribute memory value must be at least 1, got: 0"),
		vm("memory negative", map[string]tftypes.Value{"memory": num(-1)},
			"Invalid Attribute Value: Attribute memory value must be at least 1, got: -1"),
		// The framework converts to int64 before any validator runs; its
		// message is its own (and names a provider bug), so only its gist
		// is pinned here.
		vm("memory beyond int64", map[string]tftypes.Value{
			"memory": tftypes.NewValue(tftypes.Number, new(big.Float).SetInt(new(big.Int).Lsh(big.NewInt(1), 64)))},
			"prefix:Configuration Read Error: An unexpected error was encountered trying to convert an attribute value from "+
				"the configuration."),
		vm("max_memory at the limit", map[string]tftypes.Value{"memory": num(64), "max_memory": num(maxMem)}, ""),
		vm("max_memory one over", map[string]tftypes.Value{"memory": num(64), "max_memory": num(maxMem + 1)},
			tooLarge+"max_memory is 8796093022208; "+memWhy),
		vm("max_memory below memory", map[string]tftypes.Value{"memory": num(128), "max_memory": num(64)},
			"Invalid Attribute Value: Attribute max_memory value must be at least sum of memory, got: 64"),
		vm("vcpu at the limit", map[string]tftypes.Value{"vcpu": num(sizes.MaxVcpus)}, ""),
		vm("vcpu one over", map[string]tftypes.Value{"vcpu": num(sizes.MaxVcpus + 1)}, tooLarge+"vcpu is 4097; "+vcpuWhy),
		vm("vcpu that aborted libvirtd", map[string]tftypes.Value{"vcpu": num(4294967295)}, tooLarge+"vcpu is 4294967295; "+vcpuWhy),
		vm("vcpu zero", map[string]tftypes.Value{"vcpu": num(0)}, "Invalid Attribute Value: Attribute vcpu value must be at least 1, got: 0"),
		vm("max_vcpu at the limit", map[string]tftypes.Value{"max_vcpu": num(sizes.MaxVcpus)}, ""),
		vm("max_vcpu one over", map[string]tftypes.Value{"max_vcpu": num(sizes.MaxVcpus + 1)}, tooLarge+"max_vcpu is 4097; "+vcpuWhy),
		vm("max_vcpu negative", map[string]tftypes.Value{"max_vcpu": num(-5)},
			"Invalid Attribute Value: Attribute max_vcpu value must be at least 1, got: -5\n"+
				"Invalid Attribute Value: Attribute max_vcpu value must be at least sum of vcpu, got: -5"),
		vol("raw at the limit", "raw", num(maxVol), ""),
		vol("raw one over", "raw", num(maxVol+1), tooLarge+"capacity is 8796093022208; "+rawWhy),
		vol("qcow2 at the limit", "qcow2", num(maxQcow2), ""),
		vol("qcow2 one over", "qcow2", num(maxQcow2+1), tooLarge+"capacity is 2147483649; "+qcow2Why),
		vol("default format is qcow2", "", num(maxQcow2+1), tooLarge+"capacity is 2147483649; "+qcow2Why),
		vol("raw size as qcow2", "qcow2", num(maxVol), tooLarge+"capacity is 8796093022207; "+qcow2Why),
		vol("capacity zero", "raw", num(0), "Invalid Attribute Value: Attribute capacity value must be at least 1, got: 0"),
		vol("capacity negative", "qcow2", num(-1), "Invalid Attribute Value: Attribute capacity value must be at least 1, got: -1"),
	}
}

func uriCases() []limitCase {
	host := func(name, uri, want string) limitCase {
		return limitCase{name, "virtumancer_host", map[string]tftypes.Value{"id": str("h"), "uri": str(uri)}, want}
	}
	bad := func(uri, problem string) string {
		return fmt.Sprintf("Invalid uri: invalid libvirt URI %q: %s", uri, problem)
	}
	return []limitCase{
		host("good unix", "qemu:///system", ""),
		host("good libssh password auth", "qemu+libssh://root@127.0.0.1:2222/system?sshauth=password&known_hosts=/k", ""),
		host("empty", "", "Invalid uri: invalid libvirt URI \"\": the URI is empty; "+uriFix),
		host("no scheme", "localhost/system", bad("localhost/system", "missing scheme (driver[+transport]://); "+uriFix)),
		host("unknown driver", "vbox:///system", bad("vbox:///system", `unsupported driver "vbox"; only the qemu driver `+
			`(qemu://, qemu+ssh://...) and the test driver (test:///default) are supported`)),
		host("unknown transport", "qemu+carrier-pigeon:///system", bad("qemu+carrier-pigeon:///system",
			`unsupported transport "carrier-pigeon"; the transports are unix, ssh, libssh, libssh2, tcp and tls: `+uriFix)),
		host("leading space", " qemu:///system", bad(" qemu:///system", "the URI has leading or trailing spaces; remove them")),
		host("trailing space", "qemu:///system ", bad("qemu:///system ", "the URI has leading or trailing spaces; remove them")),
		host("space in the user", "qemu+ssh://ro ot@host/system", bad("qemu+ssh://ro ot@host/system",
			"not a URI: net/url: invalid userinfo; "+uriFix)),
		host("space in the host", "qemu+ssh://root@ho st/system", bad("qemu+ssh://root@ho st/system",
			`not a URI: invalid character " " in host name; `+uriFix)),
		host("password", "qemu+libssh://root:hunter2@127.0.0.1/system?sshauth=password",
			`Invalid uri: the URI qemu+libssh://root:xxxxx@127.0.0.1/system?sshauth=password holds a password, and the URI is `+
				`written in clear to the store and the state. Write it without one (qemu+libssh://root@127.0.0.1/system?sshauth=password) `+
				`and give the password in the provider's ssh_passwords = { <host id> = ... } (from a sensitive variable) or in the `+
				`VIRTUMANCER_SSH_PASSWORD environment variable`),
		host("bad sshauth", "qemu+libssh://root@host/system?sshauth=kerberos", bad("qemu+libssh://root@host/system?sshauth=kerberos",
			`invalid ssh auth method "kerberos"; use a comma-separated list of agent, privkey, password`)),
		host("sshauth keyboard-interactive", "qemu+libssh://root@host/system?sshauth=keyboard-interactive",
			bad("qemu+libssh://root@host/system?sshauth=keyboard-interactive",
				"sshauth=keyboard-interactive is not supported by the Go client; use agent, privkey or password")),
		host("sshauth on ssh", "qemu+ssh://root@host/system?sshauth=password", bad("qemu+ssh://root@host/system?sshauth=password",
			`parameter "sshauth" is not valid with the ssh transport; it is a libssh option: use `+
				`qemu+libssh://user@host/system?sshauth=..., or set the provider's known hosts / key file defaults`)),
		host("empty sshauth", "qemu+libssh://root@host/system?sshauth=", bad("qemu+libssh://root@host/system?sshauth=",
			`parameter "sshauth" is empty; give it a value or remove it`)),
		host("ssh without host", "qemu+ssh:///system", bad("qemu+ssh:///system",
			"the ssh transport needs a host; use qemu+ssh://user@host/system (or qemu:///system for this machine)")),
		host("bad port", "qemu+ssh://root@host:99999/system", bad("qemu+ssh://root@host:99999/system",
			`invalid port "99999"; use a number from 1 to 65535`)),
	}
}

// TestValidateLimits sends each configuration to the provider's protocol-6
// server as the CLI's validate step does and wants exactly the one error
// listed (or none), summary and detail verbatim; no message may hold the
// password of a URI.
func TestValidateLimits(t *testing.T) {
	p, _ := newProtoServer(t)
	for _, c := range append(sizeCases(), uriCases()...) {
		t.Run(c.name, func(t *testing.T) {
			cfg := p.config(c.resource, c.attrs)
			resp, err := p.srv.ValidateResourceConfig(p.ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: c.resource, Config: p.dynamic(cfg)})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range resp.Diagnostics {
				msg := d.Summary + ": " + d.Detail
				if strings.Contains(msg, "hunter2") {
					t.Errorf("a diagnostic shows the password: %s", msg)
				}
				if d.Severity == tfprotov6.DiagnosticSeverityError {
					got = append(got, msg)
				}
			}
			all := strings.Join(got, "\n")
			switch prefix, isPrefix := strings.CutPrefix(c.want, "prefix:"); {
			case isPrefix && (len(got) != 1 || !strings.HasPrefix(got[0], prefix)):
				t.Errorf("errors:\n%q\nwant one starting:\n%q", got, prefix)
			case !isPrefix && all != c.want:
				t.Errorf("errors:\n%q\nwant exactly:\n%q", all, c.want)
			}
		})
	}
}

// TestAccLimits_refusedAtPlan: through the CLI (the pinned OpenTofu, and
// terraform when make test runs the suite again with it), a memory and a
// volume capacity past libvirt's limits fail at plan with the limit in the
// message, and nothing is created: no domain, no volume, no store row.
func TestAccLimits_refusedAtPlan(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	name := acctest.Name("lg-limits")
	t.Cleanup(func() { e.removeDomain(name) })
	vol := name + ".qcow2"
	vmHCL := e.hostHCL() + fmt.Sprintf(`
resource "virtumancer_vm" "t" {
  host_id  = virtumancer_host.h.id
  name     = %q
  memory   = 18014398509481985
  vcpu     = 1
  graphics = "none"
}
`, name)
	volHCL := e.hostHCL() + fmt.Sprintf(`
resource "virtumancer_volume" "v" {
  host_id  = virtumancer_host.h.id
  pool     = %q
  name     = %q
  capacity = %d
}
`, testPool, vol, sizes.MaxQcow2MiB+1)
	var before string
	nothingMade := func(*terraform.State) error {
		if after := storetest.Snapshot(t, e.db); after != before {
			return fmt.Errorf("the store changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if e.domainExists(name) {
			return fmt.Errorf("domain %s was defined", name)
		}
		if ok, err := volumeExists(acctest.TestURI, testPool, vol); err != nil {
			return fmt.Errorf("volume %s: %w", vol, err)
		} else if ok {
			return fmt.Errorf("volume %s was created", vol)
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: e.hostHCL(),
				Check: func(*terraform.State) error {
					before = storetest.Snapshot(t, e.db)
					return nil
				},
			},
			{Config: vmHCL, ExpectError: expectErr("Value too large", "memory is 18014398509481985;", memWhy)},
			{Config: volHCL, ExpectError: expectErr("Value too large", "capacity is 2147483649;", qcow2Why)},
			{Config: e.hostHCL(), Check: nothingMade},
		},
	})
}
