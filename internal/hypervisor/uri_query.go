package hypervisor

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// allowedParams lists the query parameters each transport honours. They
// follow libvirt's remote driver (https://libvirt.org/uri.html); those that
// only configure libvirt's external ssh/nc command are refused because the
// Go client never runs one.
var allowedParams = map[string][]string{
	"unix":   {"socket", "mode"},
	"ssh":    {"socket", "keyfile", "no_verify", "mode", "no_tty"},
	"libssh": {"socket", "keyfile", "known_hosts", "known_hosts_verify", "sshauth", "mode", "no_tty"},
	"tcp":    {},
	"tls":    {"pkipath", "no_verify"},
}

func (t *Target) fillQuery(u *url.URL) (string, string) {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "malformed query string: " + err.Error(), "write parameters as ?key=value&key=value"
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report problems in a stable order
	for _, k := range keys {
		if len(q[k]) > 1 {
			return fmt.Sprintf("parameter %q is given %d times", k, len(q[k])), "give it once"
		}
		if problem, fix := t.checkParam(k); problem != "" {
			return problem, fix
		}
		if problem, fix := t.setParam(k, q[k][0]); problem != "" {
			return problem, fix
		}
	}
	return "", ""
}

// checkParam refuses parameters the transport does not take, with the
// alternative that does what the user meant.
func (t *Target) checkParam(k string) (string, string) {
	if slices.Contains(allowedParams[t.Transport], k) {
		return "", ""
	}
	problem := fmt.Sprintf("parameter %q is not valid with the %s transport", k, t.Transport)
	switch {
	case t.Transport == "ssh" && (k == "known_hosts" || k == "known_hosts_verify" || k == "sshauth"):
		return problem, "it is a libssh option: use " + t.Driver + "+libssh://user@host/system?" + k +
			"=..., or set the provider's known hosts / key file defaults"
	case t.Transport == "libssh" && k == "no_verify":
		return problem, "use known_hosts_verify=ignore to skip host key checks with libssh"
	case k == "command" || k == "netcat" || k == "proxy" || k == "no_tty":
		return problem, "it configures libvirt's external ssh/nc command, which this Go client does not run; remove it"
	case k == "tls_priority":
		return problem, "the Go TLS client does not support it; remove it"
	case k == "name":
		return problem, "put the driver path in the URI itself (/system, /session or /default)"
	}
	allowed := strings.Join(allowedParams[t.Transport], ", ")
	if allowed == "" {
		allowed = "none"
	}
	return problem, "parameters allowed with " + t.Transport + ": " + allowed
}

func (t *Target) setParam(k, v string) (string, string) {
	if v == "" && k != "no_tty" {
		return fmt.Sprintf("parameter %q is empty", k), "give it a value or remove it"
	}
	switch k {
	case "socket":
		t.Socket = v
	case "keyfile":
		t.KeyFile = v
	case "known_hosts":
		t.KnownHostsFile = v
	case "pkipath":
		t.PKIPath = v
	case "mode":
		return checkMode(v)
	case "no_verify":
		return t.setNoVerify(v)
	case "known_hosts_verify":
		return t.setKnownHostsVerify(v)
	case "sshauth":
		return t.setSSHAuth(v)
	}
	return "", ""
}

func checkMode(v string) (string, string) {
	switch v {
	case "legacy", "auto":
		return "", ""
	case "direct":
		return "mode=direct is not supported by the Go client", "use mode=legacy or leave it out"
	}
	return fmt.Sprintf("invalid mode %q", v), "use mode=legacy or mode=auto"
}

func (t *Target) setNoVerify(v string) (string, string) {
	if v != "0" && v != "1" {
		return fmt.Sprintf("invalid no_verify=%q", v), "use no_verify=1 to skip verification, or leave it out"
	}
	if v == "0" {
		return "", ""
	}
	if t.Transport == "tls" {
		t.TLSNoVerify = true
	} else {
		t.HostKey = HostKeyIgnore
	}
	return "", ""
}

func (t *Target) setKnownHostsVerify(v string) (string, string) {
	switch v {
	case "normal":
		t.HostKey = HostKeyVerify
	case "auto":
		t.HostKey = HostKeyAuto
	case "ignore":
		t.HostKey = HostKeyIgnore
	default:
		return fmt.Sprintf("invalid known_hosts_verify=%q", v), "use normal, auto or ignore"
	}
	return "", ""
}

func (t *Target) setSSHAuth(v string) (string, string) {
	for _, m := range strings.Split(v, ",") {
		switch m = strings.ToLower(m); m {
		case "agent", "privkey", "password":
			t.SSHAuth = append(t.SSHAuth, m)
		case "keyboard-interactive":
			return "sshauth=keyboard-interactive is not supported by the Go client", "use agent, privkey or password"
		default:
			return fmt.Sprintf("invalid ssh auth method %q", m), "use a comma-separated list of agent, privkey, password"
		}
	}
	return "", ""
}
