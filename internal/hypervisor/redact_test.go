package hypervisor

import (
	"strings"
	"testing"
)

func TestWithoutPassword(t *testing.T) {
	cases := map[string]string{
		"qemu:///system":                                  "qemu:///system",
		"qemu+ssh://root@h/system":                        "qemu+ssh://root@h/system",
		"qemu+ssh://root:pw@h:22/system":                  "qemu+ssh://root@h:22/system",
		"qemu+ssh://root:p@ss@h/system":                   "qemu+ssh://root@h/system",
		"qemu+libssh://u:pa/ss@h/system?sshauth=password": "qemu+libssh://u@h/system?sshauth=password",
		"qemu:///system?socket=/run/a@b":                  "qemu:///system?socket=/run/a@b",
	}
	for in, want := range cases {
		if got := WithoutPassword(in); got != want {
			t.Errorf("WithoutPassword(%q) = %q, want %q", in, got, want)
		}
		if HasPassword(in) != (in != want) {
			t.Errorf("HasPassword(%q) = %v", in, HasPassword(in))
		}
	}
}

// TestSSHPasswordSources: the provider's password for the host wins, then
// one inside a stored URI, then the environment.
func TestSSHPasswordSources(t *testing.T) {
	const withPw = "qemu+libssh://u:from-uri@127.0.0.1/system?sshauth=password&known_hosts_verify=ignore"
	const noPw = "qemu+libssh://u@127.0.0.1/system?sshauth=password&known_hosts_verify=ignore"
	cases := []struct {
		name, uri, env string
		opts           map[string]string
		want           string
	}{
		{"provider", withPw, "from-env", map[string]string{"h": "from-provider"}, "from-provider"},
		{"other host's", noPw, "", map[string]string{"other": "x"}, ""},
		{"stored uri", withPw, "from-env", nil, "from-uri"},
		{"env", noPw, "from-env", nil, "from-env"},
		{"none", noPw, "", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(PasswordEnv, c.env)
			tg, err := ParseURI("h", c.uri)
			if err != nil {
				t.Fatal(err)
			}
			d, err := NewPool(Options{SSHPasswords: c.opts}).newSSHDialer(tg)
			if err != nil {
				t.Fatal(err)
			}
			if d.password != c.want {
				t.Errorf("password = %q, want %q", d.password, c.want)
			}
			if strings.Contains(tg.Redacted, "from-uri") {
				t.Errorf("redacted URI shows the password: %s", tg.Redacted)
			}
		})
	}
}
