package hypervisor

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/digitalocean/go-libvirt"
)

func TestParseURIGood(t *testing.T) {
	cases := []struct {
		uri  string
		want Target // only the fields set here are compared
	}{
		{"qemu:///system", Target{Driver: "qemu", Transport: "unix", Path: "/system", RemoteName: "qemu:///system"}},
		{"qemu:///session", Target{Driver: "qemu", Transport: "unix", Path: "/session", RemoteName: "qemu:///session"}},
		{"qemu+unix:///system?socket=/run/x.sock", Target{Driver: "qemu", Transport: "unix", Socket: "/run/x.sock", RemoteName: "qemu:///system"}},
		{"qemu+ssh://root@kvm1/system", Target{Transport: "ssh", Host: "kvm1", User: "root", HostKey: HostKeyVerify, RemoteName: "qemu:///system"}},
		{"qemu+ssh://root@kvm1:2222/system?keyfile=/k&no_verify=1", Target{Transport: "ssh", Port: "2222", KeyFile: "/k", HostKey: HostKeyIgnore}},
		{"qemu+ssh://kvm1/system?no_verify=0", Target{Transport: "ssh", HostKey: HostKeyVerify}},
		{"qemu+libssh://u@10.0.0.1/system?known_hosts=/kh&keyfile=/k", Target{Transport: "libssh", Host: "10.0.0.1", KnownHostsFile: "/kh", KeyFile: "/k", HostKey: HostKeyVerify}},
		{"qemu+libssh2://u@h/system?known_hosts_verify=auto", Target{Transport: "libssh", HostKey: HostKeyAuto}},
		{"qemu+libssh://u@h/system?known_hosts_verify=ignore&sshauth=privkey,agent", Target{HostKey: HostKeyIgnore, SSHAuth: []string{"privkey", "agent"}}},
		{"qemu+ssh://u@[::1]:22/system", Target{Host: "::1", Port: "22"}},
		{"qemu+tcp://kvm1/system", Target{Transport: "tcp", Host: "kvm1", RemoteName: "qemu:///system"}},
		{"qemu+tcp://kvm1:16509/session", Target{Port: "16509", RemoteName: "qemu:///session"}},
		{"qemu+tls://kvm1/system?pkipath=/pki&no_verify=1", Target{Transport: "tls", PKIPath: "/pki", TLSNoVerify: true}},
		{"qemu://kvm1/system", Target{Transport: "tls", Host: "kvm1"}}, // libvirt's default remote transport
		{"test:///default", Target{Driver: "test", Transport: "unix", Path: "/default", RemoteName: "test:///default"}},
		{"test+unix:///default", Target{Driver: "test", Transport: "unix", RemoteName: "test:///default"}},
		{"qemu+ssh://u:secret@h/system", Target{User: "u", Redacted: "qemu+ssh://u:xxxxx@h/system"}},
	}
	for _, tc := range cases {
		got, err := ParseURI("h1", tc.uri)
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tc.uri, err)
			continue
		}
		if got.HostID != "h1" || got.Raw != tc.uri {
			t.Errorf("ParseURI(%q): host id %q raw %q", tc.uri, got.HostID, got.Raw)
		}
		if diff := diffTarget(tc.want, *got); diff != "" {
			t.Errorf("ParseURI(%q): %s", tc.uri, diff)
		}
	}
}

// diffTarget compares the non-zero fields of want with got.
func diffTarget(want, got Target) string {
	pairs := [][3]string{
		{"Driver", want.Driver, got.Driver}, {"Transport", want.Transport, got.Transport},
		{"Host", want.Host, got.Host}, {"Port", want.Port, got.Port}, {"User", want.User, got.User},
		{"Path", want.Path, got.Path}, {"Socket", want.Socket, got.Socket}, {"KeyFile", want.KeyFile, got.KeyFile},
		{"KnownHostsFile", want.KnownHostsFile, got.KnownHostsFile}, {"HostKey", want.HostKey, got.HostKey},
		{"PKIPath", want.PKIPath, got.PKIPath}, {"RemoteName", want.RemoteName, got.RemoteName},
		{"Redacted", want.Redacted, got.Redacted},
		{"SSHAuth", strings.Join(want.SSHAuth, ","), strings.Join(got.SSHAuth, ",")},
	}
	var diffs []string
	for _, p := range pairs {
		if p[1] != "" && p[1] != p[2] {
			diffs = append(diffs, fmt.Sprintf("%s = %q, want %q", p[0], p[2], p[1]))
		}
	}
	if want.TLSNoVerify && !got.TLSNoVerify {
		diffs = append(diffs, "TLSNoVerify = false, want true")
	}
	return strings.Join(diffs, "; ")
}

func TestParseURIBad(t *testing.T) {
	cases := []struct {
		uri  string
		want []string // substrings of the error
	}{
		{"", []string{"empty", "qemu+ssh://user@host/system"}},
		{" qemu:///system", []string{"spaces"}},
		{"kvm1", []string{"missing scheme", "qemu+ssh://user@host/system"}},
		{"qemu:system", []string{"driver[+transport]://"}},
		{"xen:///system", []string{`unsupported driver "xen"`}},
		{"lxc:///", []string{`unsupported driver "lxc"`}},
		{"qemu+ftp://h/system", []string{`unsupported transport "ftp"`, "qemu+ssh://user@host/system"}},
		{"qemu+ext:///system", []string{`unsupported transport "ext"`}},
		{"qemu+ssh:///system", []string{"ssh transport needs a host", "qemu+ssh://user@host/system"}},
		{"qemu+tcp:///system", []string{"tcp transport needs a host"}},
		{"qemu+unix://kvm1/system", []string{"takes no host", "qemu+ssh://user@kvm1/system"}},
		{"qemu+ssh://u@h", []string{"missing driver path", "qemu+ssh://u@h/system"}},
		{"qemu+ssh://u@h/", []string{"missing driver path"}},
		{"qemu:///", []string{"missing driver path", "qemu:///system"}},
		{"qemu:///default", []string{`unsupported path "/default"`, "/system or /session"}},
		{"qemu:///system/", []string{`unsupported path "/system/"`}},
		{"test:///system", []string{`unsupported path "/system"`, "test:///default"}},
		{"qemu+ssh://u@h:99999/system", []string{`invalid port "99999"`}},
		{"qemu+ssh://u@h:abc/system", []string{"not a URI", "invalid port"}},
		{"qemu+tcp://u@h/system", []string{"takes no user", "qemu+ssh://user@h/system"}},
		{"qemu+ssh://h/system?known_hosts=/kh", []string{`"known_hosts" is not valid with the ssh transport`, "qemu+libssh://", "provider's known hosts"}},
		{"qemu+ssh://h/system?known_hosts_verify=ignore", []string{"libssh option"}},
		{"qemu+libssh://h/system?no_verify=1", []string{"known_hosts_verify=ignore"}},
		{"qemu+libssh://h/system?known_hosts_verify=maybe", []string{`invalid known_hosts_verify="maybe"`, "normal, auto or ignore"}},
		{"qemu+libssh://h/system?sshauth=kerberos", []string{`invalid ssh auth method "kerberos"`}},
		{"qemu+libssh://h/system?sshauth=keyboard-interactive", []string{"not supported"}},
		{"qemu+ssh://h/system?no_verify=yes", []string{`invalid no_verify="yes"`}},
		{"qemu+ssh://h/system?command=/usr/bin/ssh", []string{`"command"`, "does not run"}},
		{"qemu+ssh://h/system?netcat=nc", []string{`"netcat"`}},
		{"qemu+tls://h/system?tls_priority=NORMAL", []string{"Go TLS client"}},
		{"qemu:///system?name=qemu:///session", []string{`"name"`, "driver path"}},
		{"qemu:///system?foo=bar", []string{`parameter "foo" is not valid with the unix transport`, "socket, mode"}},
		{"qemu+tcp://h/system?socket=/x", []string{"allowed with tcp: none"}},
		{"qemu:///system?socket=", []string{`parameter "socket" is empty`}},
		{"qemu:///system?socket=/a&socket=/b", []string{"given 2 times"}},
		{"qemu:///system?mode=direct", []string{"mode=direct is not supported"}},
		{"qemu:///system?mode=fast", []string{`invalid mode "fast"`}},
		{"qemu:///system#frag", []string{"fragment"}},
		{"qemu:///system?x=%zz", []string{"malformed query"}},
	}
	for _, tc := range cases {
		_, err := ParseURI("web", tc.uri)
		if err == nil {
			t.Errorf("ParseURI(%q) succeeded, want an error", tc.uri)
			continue
		}
		var ue *URIError
		if !errors.As(err, &ue) {
			t.Errorf("ParseURI(%q): error %T is not a *URIError", tc.uri, err)
		}
		msg := err.Error()
		for _, w := range append(tc.want, `host "web"`) {
			if !strings.Contains(msg, w) {
				t.Errorf("ParseURI(%q) = %q, want it to mention %q", tc.uri, msg, w)
			}
		}
	}
}

func TestParseURINeverShowsPassword(t *testing.T) {
	for _, uri := range []string{
		"qemu+ssh://root:hunter2@h:abc/system", // url.Parse fails and would quote the URI
		"qemu+tcp://root:hunter2@h/system",
		"qemu+ssh://root:hunter2@h/nope",
		"qemu+ssh://root:hunter2@h/system?token=hunter2&bad=1",
	} {
		_, err := ParseURI("h", uri)
		if err == nil {
			t.Fatalf("ParseURI(%q) succeeded", uri)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseURI(%q) error shows the password: %v", uri, err)
		}
	}
	tg, err := ParseURI("h", "qemu+ssh://root:hunter2@h/system")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(tg), fmt.Sprintf("%v", *tg), fmt.Sprintf("%+v", *tg), fmt.Sprintf("%#v", *tg)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("printing a Target shows the password: %s", s)
		}
	}
}

func TestRedact(t *testing.T) {
	cases := map[string]string{
		"qemu:///system":                                      "qemu:///system",
		"qemu+ssh://root@h/system":                            "qemu+ssh://root@h/system",
		"qemu+ssh://root:pw@h:22/system":                      "qemu+ssh://root:xxxxx@h:22/system",
		"qemu+ssh://root:p@ss@h/system":                       "qemu+ssh://root:xxxxx@h/system",
		"qemu+ssh://root:pa/ss@h/system":                      "qemu+ssh://root:xxxxx@h/system",
		"qemu+ssh://root:p?ss@h/system":                       "qemu+ssh://root:xxxxx@h/system",
		"qemu+ssh://root:p#ss@h/system":                       "qemu+ssh://root:xxxxx@h/system",
		"qemu+libssh://u@h/system?keyfile=/k&known_hosts=/kh": "qemu+libssh://u@h/system?keyfile=/k&known_hosts=/kh",
		"qemu+tcp://h/system?password=x&a=b":                  "qemu+tcp://h/system?password=xxxxx&a=b",
		"qemu+tcp://h/system?auth_token=x&Secret=y":           "qemu+tcp://h/system?auth_token=xxxxx&Secret=xxxxx",
		"qemu:///system?socket=/run/a@b":                      "qemu:///system?socket=/run/a@b",
		"not a uri":                                           "not a uri",
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsNotFound(t *testing.T) {
	for _, err := range []error{ErrDomainNotFound, ErrVolumeNotFound, ErrPoolNotFound,
		&OpError{HostID: "h", URI: "u", Op: "op", Err: fmt.Errorf("x: %w", ErrVolumeNotFound)}} {
		if !IsNotFound(err) {
			t.Errorf("IsNotFound(%v) = false", err)
		}
	}
	if IsNotFound(ErrTimeout) || IsNotFound(nil) {
		t.Error("IsNotFound is true for a timeout or nil")
	}
}

func TestUUIDRoundTrip(t *testing.T) {
	const s = "6695eb01-f6a4-8304-79aa-97f2502e193f"
	u, err := parseUUID(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := formatUUID(u); got != s {
		t.Errorf("formatUUID = %q, want %q", got, s)
	}
	if _, err := parseUUID(strings.ReplaceAll(s, "-", "")); err != nil {
		t.Errorf("32-digit form refused: %v", err)
	}
	for _, bad := range []string{"", "xyz", s + "0", strings.ReplaceAll(s, "-", "_")} {
		if _, err := parseUUID(bad); err == nil {
			t.Errorf("parseUUID(%q) accepted", bad)
		}
	}
}

func TestVersionAndFlags(t *testing.T) {
	if v := version(9000000); v != "9.0.0" {
		t.Errorf("version(9000000) = %q", v)
	}
	if v := version(10002003); v != "10.2.3" {
		t.Errorf("version(10002003) = %q", v)
	}
	cases := []struct {
		err     error
		refused uint32
		ok      bool
	}{
		{libvirt.Error{Code: uint32(libvirt.ErrInvalidArg), Message: "unsupported flags (0x4) in function testDomainUndefineFlags"}, 0x4, true},
		{fmt.Errorf("wrapped: %w", libvirt.Error{Code: uint32(libvirt.ErrInvalidArg), Message: "unsupported flags (0x14) in function f"}), 0x14, true},
		{libvirt.Error{Code: uint32(libvirt.ErrInvalidArg), Message: "unsupported flags (0x100) in function f"}, 0x17, true}, // bits we did not send: drop all
		{libvirt.Error{Code: uint32(libvirt.ErrNoSupport), Message: "this function is not supported"}, 0x17, true},
		{libvirt.Error{Code: uint32(libvirt.ErrInvalidArg), Message: "invalid argument: name"}, 0, false},
		{libvirt.Error{Code: uint32(libvirt.ErrOperationInvalid), Message: "domain is running"}, 0, false},
		{nil, 0, false},
	}
	for _, tc := range cases {
		refused, ok := refusedFlags(tc.err, 0x17)
		if refused != tc.refused || ok != tc.ok {
			t.Errorf("refusedFlags(%v) = %#x, %t; want %#x, %t", tc.err, refused, ok, tc.refused, tc.ok)
		}
	}
}
