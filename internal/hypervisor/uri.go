package hypervisor

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Ways ssh transports check the server's host key (Target.HostKey).
const (
	HostKeyVerify = "verify" // must be in known_hosts (the default)
	HostKeyAuto   = "auto"   // libssh known_hosts_verify=auto: unknown keys are accepted and recorded
	HostKeyIgnore = "ignore" // known_hosts_verify=ignore or no_verify=1: not checked at all
)

// Target is a parsed and validated libvirt host URI.
type Target struct {
	HostID   string
	Raw      string // as given; it may hold a password, so print Redacted
	Redacted string

	Driver    string // qemu | test
	Transport string // unix | ssh | libssh | tcp | tls (libssh2 is reported as libssh)
	Host      string // remote host name or address without port; "" for unix
	Port      string // "" means the transport's default (22, 16509, 16514)
	User      string // ssh user; "" means the local user
	Path      string // /system, /session or /default

	Socket         string   // socket=: the local socket (unix) or the remote one (ssh transports)
	KeyFile        string   // keyfile= (ssh transports)
	KnownHostsFile string   // known_hosts= (libssh only)
	HostKey        string   // HostKeyVerify, HostKeyAuto or HostKeyIgnore (ssh transports)
	SSHAuth        []string // sshauth= (libssh): agent, privkey, password, in order
	PKIPath        string   // pkipath= (tls)
	TLSNoVerify    bool     // no_verify=1 (tls): the server certificate is not checked

	// RemoteName is the URI the daemon is asked to open once connected,
	// e.g. qemu:///system for qemu+ssh://h/system.
	RemoteName string

	password string // from the userinfo; used by ssh, never printed
}

// String returns the redacted URI, so that printing a Target with %v never
// shows a password.
func (t Target) String() string { return t.Redacted }

// GoString keeps %#v from printing the password field.
func (t Target) GoString() string { return fmt.Sprintf("hypervisor.Target(%q)", t.Redacted) }

// URIError says why a host URI was refused and how to fix it.
type URIError struct {
	HostID  string
	URI     string // redacted
	Problem string
	Fix     string
}

func (e *URIError) Error() string {
	s := fmt.Sprintf("invalid libvirt URI %q: %s", e.URI, e.Problem)
	if e.HostID != "" {
		s = fmt.Sprintf("host %q: %s", e.HostID, s)
	}
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

const uriExamples = "use qemu:///system, qemu+ssh://user@host/system, " +
	"qemu+libssh://user@host/system?known_hosts=FILE, qemu+tcp://host/system, " +
	"qemu+tls://host/system or test:///default"

// ParseURI validates a host URI and returns what the Pool needs to dial it.
// Every error is a *URIError naming the host and the redacted URI.
func ParseURI(hostID, raw string) (*Target, error) {
	t := &Target{HostID: hostID, Raw: raw, Redacted: Redact(raw), HostKey: HostKeyVerify}
	fail := func(problem, fix string) (*Target, error) {
		return nil, &URIError{HostID: hostID, URI: t.Redacted, Problem: problem, Fix: fix}
	}
	if raw == "" {
		return fail("the URI is empty", uriExamples)
	}
	if strings.TrimSpace(raw) != raw {
		return fail("the URI has leading or trailing spaces", "remove them")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // url.Error repeats the raw URI, password included
			err = ue.Err
		}
		return fail("not a URI: "+err.Error(), uriExamples)
	}
	if problem, fix := t.fill(u); problem != "" {
		return fail(problem, fix)
	}
	return t, nil
}

// fill checks u part by part and records it in t; it returns the first
// problem found and its fix.
func (t *Target) fill(u *url.URL) (problem, fix string) {
	steps := []func(*url.URL) (string, string){
		t.fillScheme, t.fillAuthority, t.fillPath, t.fillQuery,
	}
	for _, step := range steps {
		if problem, fix = step(u); problem != "" {
			return problem, fix
		}
	}
	t.RemoteName = t.Driver + ":///" + strings.TrimPrefix(t.Path, "/")
	return "", ""
}

func (t *Target) fillScheme(u *url.URL) (string, string) {
	if u.Scheme == "" {
		return "missing scheme (driver[+transport]://)", uriExamples
	}
	if u.Opaque != "" {
		return "expected the form driver[+transport]://[user@]host/path", uriExamples
	}
	driver, transport, _ := strings.Cut(u.Scheme, "+")
	if driver != "qemu" && driver != "test" {
		return fmt.Sprintf("unsupported driver %q", driver),
			"only the qemu driver (qemu://, qemu+ssh://...) and the test driver (test:///default) are supported"
	}
	if transport == "" {
		transport = "unix"
		if u.Host != "" {
			transport = "tls" // libvirt's default for a remote host without transport
		}
	}
	switch transport {
	case "unix", "ssh", "libssh", "tcp", "tls":
	case "libssh2":
		transport = "libssh" // same options; go-libvirt serves both with its Go ssh dialer
	default:
		return fmt.Sprintf("unsupported transport %q", transport),
			"the transports are unix, ssh, libssh, libssh2, tcp and tls: " + uriExamples
	}
	t.Driver, t.Transport = driver, transport
	return "", ""
}

func (t *Target) isSSH() bool { return t.Transport == "ssh" || t.Transport == "libssh" }

func (t *Target) fillAuthority(u *url.URL) (string, string) {
	if t.Transport == "unix" {
		if u.Host != "" || u.User != nil {
			return "the unix transport reaches the local daemon and takes no host or user",
				fmt.Sprintf("use %s:///%s for this machine, or %s+ssh://user@%s/%s for a remote one",
					t.Driver, strings.TrimPrefix(u.Path, "/"), t.Driver, u.Hostname(), strings.TrimPrefix(u.Path, "/"))
		}
		return "", ""
	}
	t.Host, t.Port = u.Hostname(), u.Port()
	if t.Host == "" {
		return fmt.Sprintf("the %s transport needs a host", t.Transport),
			fmt.Sprintf("use %s+%s://user@host/system (or %s:///system for this machine)", t.Driver, t.Transport, t.Driver)
	}
	if t.Port != "" {
		if n, err := strconv.Atoi(t.Port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("invalid port %q", t.Port), "use a number from 1 to 65535"
		}
	}
	if u.User == nil {
		return "", ""
	}
	if !t.isSSH() {
		return fmt.Sprintf("the %s transport takes no user name or password (SASL is not supported)", t.Transport),
			fmt.Sprintf("remove the user from the URI, or use %s+ssh://user@%s/system", t.Driver, t.Host)
	}
	t.User = u.User.Username()
	t.password, _ = u.User.Password()
	return "", ""
}

func (t *Target) fillPath(u *url.URL) (string, string) {
	if u.Fragment != "" || strings.Contains(t.Raw, "#") {
		return "a libvirt URI has no #fragment", "remove it"
	}
	want := []string{"/system", "/session"}
	if t.Driver == "test" {
		want = []string{"/default"}
	}
	t.Path = u.Path
	if slices.Contains(want, t.Path) {
		return "", ""
	}
	example := fmt.Sprintf("%s:///%s", t.Driver, strings.TrimPrefix(want[0], "/"))
	if t.Transport != "unix" {
		authority := u.Host
		if t.User != "" {
			authority = t.User + "@" + authority
		}
		example = fmt.Sprintf("%s+%s://%s%s", t.Driver, t.Transport, authority, want[0])
	}
	if t.Path == "" || t.Path == "/" {
		return "missing driver path", "use " + example
	}
	return fmt.Sprintf("unsupported path %q for the %s driver (want %s)", t.Path, t.Driver, strings.Join(want, " or ")),
		"use " + example
}
