package cloudinit

import (
	"strings"
	"testing"
)

func TestDigestIsStable(t *testing.T) {
	// A changed algorithm would give every VM a new instance-id, and
	// cloud-init would re-run first-boot modules on each: keep it fixed.
	s := Seed{UserData: "#cloud-config\n", MetaData: "instance-id: i-1\n", NetworkConfig: "version: 2\n"}
	const want = "a6640ebe26105238d055697406aea605edbf6944fb8864a2aabd54eb7e9d5aa4"
	if got := Digest(s); got != want {
		t.Errorf("Digest = %s, want %s", got, want)
	}
	if got := ShortDigest(s); got != want[:ShortDigestLen] {
		t.Errorf("ShortDigest = %s, want %s", got, want[:ShortDigestLen])
	}
}

func TestDigestChangesWithEachPart(t *testing.T) {
	base := Seed{UserData: "#cloud-config\n", MetaData: "instance-id: i-1\n", NetworkConfig: "version: 2\n"}
	variants := map[string]Seed{
		"base":            base,
		"user_data":       {UserData: "#cloud-config\n#x\n", MetaData: base.MetaData, NetworkConfig: base.NetworkConfig},
		"meta_data":       {UserData: base.UserData, MetaData: "instance-id: i-2\n", NetworkConfig: base.NetworkConfig},
		"network_config":  {UserData: base.UserData, MetaData: base.MetaData, NetworkConfig: "version: 1\n"},
		"no network":      {UserData: base.UserData, MetaData: base.MetaData},
		"bytes moved":     {UserData: "#cloud-config\ni", MetaData: "nstance-id: i-1\n", NetworkConfig: base.NetworkConfig},
		"parts swapped":   {UserData: base.MetaData, MetaData: base.UserData, NetworkConfig: base.NetworkConfig},
		"all empty":       {},
		"one empty moved": {NetworkConfig: base.UserData},
	}
	seen := map[string]string{}
	for name, s := range variants {
		d := Digest(s)
		if len(d) != 64 || strings.Trim(d, "0123456789abcdef") != "" {
			t.Errorf("%s: Digest = %q, want 64 lower-case hex digits", name, d)
		}
		if other, dup := seen[d]; dup {
			t.Errorf("%s and %s have the same digest %s", name, other, d)
		}
		seen[d] = name
		if Digest(s) != d {
			t.Errorf("%s: Digest is not stable across calls", name)
		}
	}
}

func TestDefaultMetaData(t *testing.T) {
	tests := []struct {
		uuid, host, digest, want string
	}{
		{"0b4f0e8e-0b6b-4c2e-9c59-6d3a8f1e2a10", "web-1", "abcdef012345",
			"instance-id: 0b4f0e8e-0b6b-4c2e-9c59-6d3a8f1e2a10-abcdef012345\nlocal-hostname: web-1\n"},
		{"u", "db.example", "", "instance-id: u\nlocal-hostname: db.example\n"},
		// What YAML would not read back as the same string is quoted.
		{"u", "123", "d", "instance-id: u-d\nlocal-hostname: \"123\"\n"},
		{"u", "Yes", "d", "instance-id: u-d\nlocal-hostname: \"Yes\"\n"},
		{"u", "1e3", "d", "instance-id: u-d\nlocal-hostname: \"1e3\"\n"},
		{"u", "a b: c", "d", "instance-id: u-d\nlocal-hostname: \"a b: c\"\n"},
		{"u", "", "d", "instance-id: u-d\nlocal-hostname: \"\"\n"},
	}
	for _, tt := range tests {
		got := DefaultMetaData(tt.uuid, tt.host, tt.digest)
		if got != tt.want {
			t.Errorf("DefaultMetaData(%q, %q, %q) = %q, want %q", tt.uuid, tt.host, tt.digest, got, tt.want)
		}
		if msgs := checkMetaData(got); msgs != nil {
			t.Errorf("DefaultMetaData(%q, %q, %q) fails our own rule: %v", tt.uuid, tt.host, tt.digest, msgs)
		}
	}
}

func TestWithDefaultMetaData(t *testing.T) {
	const uuid = "0b4f0e8e-0b6b-4c2e-9c59-6d3a8f1e2a10"
	given := Seed{UserData: "#cloud-config\n", NetworkConfig: "version: 2\n"}
	got := given.WithDefaultMetaData(uuid, "web-1")
	if want := DefaultMetaData(uuid, "web-1", ShortDigest(given)); got.MetaData != want {
		t.Errorf("MetaData = %q, want %q", got.MetaData, want)
	}
	if got.UserData != given.UserData || got.NetworkConfig != given.NetworkConfig {
		t.Errorf("WithDefaultMetaData changed other parts: %+v", got)
	}

	changed := Seed{UserData: "#cloud-config\npackages: [vim]\n", NetworkConfig: given.NetworkConfig}
	if changed.WithDefaultMetaData(uuid, "web-1").MetaData == got.MetaData {
		t.Error("a changed user_data kept the same default instance-id, so cloud-init would not re-run")
	}

	own := Seed{UserData: given.UserData, MetaData: "instance-id: mine\n"}
	if kept := own.WithDefaultMetaData(uuid, "web-1"); kept != own {
		t.Errorf("a user's meta_data was replaced: %+v", kept)
	}
}
