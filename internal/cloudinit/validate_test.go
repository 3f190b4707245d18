package cloudinit

import (
	"errors"
	"strings"
	"testing"
)

const okMeta = "instance-id: i-1\n"

func TestValidateAccepts(t *testing.T) {
	tests := map[string]Seed{
		"defaults":         {},
		"cloud-config":     {UserData: "#cloud-config\npackages: [vim]\n"},
		"shell script":     {UserData: "#!/bin/sh\necho hi\n"},
		"jinja template":   {UserData: "## template: jinja\n#cloud-config\n"},
		"mime multipart":   {UserData: "Content-Type: multipart/mixed; boundary=\"b\"\nMIME-Version: 1.0\n\n--b--\n"},
		"at the limit":     {UserData: "#cloud-config\n" + strings.Repeat("a", MaxPartBytes-14)},
		"yaml meta":        {MetaData: "# comment\n---\ninstance-id: \"i-1\" # why\nlocal-hostname: web\npublic-keys:\n  - ssh-ed25519 AAAA\n"},
		"json meta":        {MetaData: `{"instance-id": "i-1", "local-hostname": "web"}`},
		"crlf meta":        {MetaData: "instance-id: i-1\r\nlocal-hostname: web\r\n"},
		"network v2":       {NetworkConfig: "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n"},
		"network v1":       {NetworkConfig: "version: 1\nconfig:\n  - type: physical\n    name: eth0\n"},
		"network wrapped":  {NetworkConfig: "network:\n  version: 2\n  ethernets: {}\n"},
		"network json":     {NetworkConfig: `{"version": 2, "ethernets": {}}`},
		"block scalar key": {MetaData: "instance-id: i-1\nuser-data: |\n  line\n\n  more\n"},
	}
	for name, s := range tests {
		if err := Validate(s); err != nil {
			t.Errorf("%s: Validate = %v, want nil", name, err)
		}
	}
}

func TestValidateRefuses(t *testing.T) {
	tests := []struct {
		name  string
		seed  Seed
		field string
		msg   string
	}{
		{"user_data over the limit", Seed{UserData: "#cloud-config\n" + strings.Repeat("a", MaxPartBytes)}, "user_data",
			"is 1048590 bytes, over the limit of 1048576 bytes (1 MiB) by 14: fetch large files"},
		{"user_data without a header", Seed{UserData: "packages: [vim]\n"}, "user_data",
			`its first line is none of "#cloud-config", "#!"`},
		{"user_data indented", Seed{UserData: "  #cloud-config\n"}, "user_data", "starts with white space"},
		{"meta_data over the limit", Seed{MetaData: okMeta + strings.Repeat("#", MaxPartBytes)}, "meta_data", "over the limit"},
		{"meta_data without instance-id", Seed{MetaData: "local-hostname: web\n"}, "meta_data", "has no instance-id"},
		{"meta_data empty instance-id", Seed{MetaData: "instance-id:\nlocal-hostname: web\n"}, "meta_data", "has no instance-id"},
		{"meta_data only comments", Seed{MetaData: "# nothing\n"}, "meta_data", "holds no key"},
		{"meta_data a list", Seed{MetaData: "- instance-id: i\n"}, "meta_data", "line 1 is a list item"},
		{"meta_data flow mapping", Seed{MetaData: "{instance-id: i}"}, "meta_data", "not a JSON object: invalid JSON at offset 2"},
		{"meta_data json array", Seed{MetaData: "[1]"}, "meta_data", "line 1 starts a flow collection"},
		{"meta_data bad json", Seed{MetaData: `{"instance-id": }`}, "meta_data", "invalid JSON at offset"},
		{"meta_data two json values", Seed{MetaData: `{"instance-id": "a"} {}`}, "meta_data", "more than one JSON value"},
		{"meta_data no colon", Seed{MetaData: "instance-id i\n"}, "meta_data", `line 1 is not "key: value"`},
		{"meta_data tab", Seed{MetaData: "instance-id: i\nkeys:\n\t- a\n"}, "meta_data", "line 3 is indented with a tab"},
		{"meta_data indented first", Seed{MetaData: "  instance-id: i\n"}, "meta_data", "line 1 is indented before any top-level key"},
		{"meta_data duplicate", Seed{MetaData: "instance-id: a\ninstance-id: b\n"}, "meta_data", `line 2 repeats the key "instance-id"`},
		{"meta_data two documents", Seed{MetaData: "instance-id: a\n---\ninstance-id: b\n"}, "meta_data", "line 2 starts a second YAML document"},
		{"meta_data document end", Seed{MetaData: "instance-id: a\n...\n"}, "meta_data", "line 2 ends the YAML document early"},
		{"meta_data empty key", Seed{MetaData: "instance-id: a\n: b\n"}, "meta_data", "line 2 has an empty key"},
		{"network_config no version", Seed{NetworkConfig: "ethernets:\n  eth0: {}\n"}, "network_config", `has neither "version" nor "network"`},
		{"network_config version 3", Seed{NetworkConfig: "version: 3\n"}, "network_config", `version "3": cloud-init reads network config version 1 or 2`},
		{"network_config json version", Seed{NetworkConfig: `{"version": "two"}`}, "network_config", `version "two"`},
		{"network_config over the limit", Seed{NetworkConfig: "version: 2\n" + strings.Repeat("#", MaxPartBytes)}, "network_config", "over the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := Problems(tt.seed)
			if len(problems) != 1 {
				t.Fatalf("Problems = %v, want exactly one on %s", problems, tt.field)
			}
			if problems[0].Field != tt.field || !strings.Contains(problems[0].Msg, tt.msg) {
				t.Errorf("problem = %q on %s, want %q on %s", problems[0].Msg, problems[0].Field, tt.msg, tt.field)
			}
			err := Validate(tt.seed)
			if !errors.Is(err, ErrInvalidSeed) || !strings.HasPrefix(err.Error(), "cloudinit: invalid cloud-init seed: "+tt.field+": ") {
				t.Errorf("Validate = %v, want it to wrap ErrInvalidSeed and name %s", err, tt.field)
			}
		})
	}
}

func TestValidateReportsEveryField(t *testing.T) {
	s := Seed{UserData: "oops", MetaData: "local-hostname: x\n", NetworkConfig: "version: 9\n"}
	problems := Problems(s)
	var fields []string
	for _, p := range problems {
		fields = append(fields, p.Field)
	}
	if strings.Join(fields, ",") != "user_data,meta_data,network_config" {
		t.Errorf("fields = %v, want one problem each on user_data, meta_data, network_config", fields)
	}
}

func TestValidateNeverQuotesUserData(t *testing.T) {
	const secret = "hunter2-password-in-user-data"
	for _, ud := range []string{secret, " " + secret, "#cloud-config\n" + secret + strings.Repeat("x", MaxPartBytes)} {
		if err := Validate(Seed{UserData: ud}); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("Validate error %v: want an error that does not quote user_data", err)
		}
	}
}
