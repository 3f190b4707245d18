// Package validate holds the attribute validators shared by the provider,
// its resources and data sources, so bad configuration is an attribute error
// at validate time rather than a failure halfway through an apply.
package validate

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
)

type stringFunc struct {
	desc  string
	check func(string) error
}

func (v stringFunc) Description(context.Context) string         { return v.desc }
func (v stringFunc) MarkdownDescription(context.Context) string { return v.desc }

func (v stringFunc) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(), err.Error())
	}
}

// NonEmpty rejects "" (an unset attribute is fine).
func NonEmpty() validator.String {
	return stringFunc{desc: "must not be empty", check: func(s string) error {
		if s == "" {
			return fmt.Errorf("the value must not be empty; remove the attribute to use the default")
		}
		return nil
	}}
}

// Duration accepts positive Go durations such as "30s" or "5m".
func Duration() validator.String {
	return stringFunc{desc: "a positive Go duration such as `30s` or `5m`", check: func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration; use a Go duration such as \"30s\" or \"5m\"", s)
		}
		if d <= 0 {
			return fmt.Errorf("%q must be greater than zero", s)
		}
		return nil
	}}
}

// LibvirtURI accepts the host URIs the connection layer can dial.
func LibvirtURI() validator.String {
	return stringFunc{desc: "a libvirt URI such as `qemu:///system` or `qemu+ssh://user@host/system`", check: func(s string) error {
		_, err := hypervisor.ParseURI("", s)
		return err
	}}
}

// URIWithoutPassword refuses a URI with a password in it: such a URI would
// be written into the store and the state in clear.
func URIWithoutPassword() validator.String {
	return stringFunc{desc: "a URI without a password", check: func(s string) error {
		if !hypervisor.HasPassword(s) {
			return nil
		}
		return fmt.Errorf("the URI %s holds a password, and the URI is written in clear to the store and the state. "+
			"Write it without one (%s) and give the password in the provider's ssh_passwords = { <host id> = ... } "+
			"(from a sensitive variable) or in the %s environment variable",
			hypervisor.Redact(s), hypervisor.WithoutPassword(s), hypervisor.PasswordEnv)
	}}
}

// Regexp accepts a valid RE2 regular expression.
func Regexp() validator.String {
	return stringFunc{desc: "an RE2 regular expression", check: func(s string) error {
		if _, err := regexp.Compile(s); err != nil {
			return fmt.Errorf("%q is not a valid regular expression: %w", s, err)
		}
		return nil
	}}
}
