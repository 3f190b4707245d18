package cloudinit

import (
	"errors"
	"fmt"
	"strings"
)

// MaxPartBytes is the most each of user_data, meta_data and network_config
// may hold. Seeds are rebuilt and uploaded on every change, and a larger
// payload belongs on a volume or behind a URL the guest fetches.
const MaxPartBytes = 1 << 20

// ErrInvalidSeed marks a configuration mistake, so callers report it on
// the user's configuration rather than as a provider failure.
var ErrInvalidSeed = errors.New("invalid cloud-init seed")

// FieldError is one problem, on the field named as the schema names it
// (user_data, meta_data, network_config) so a caller can attach it to the
// attribute's path. Msg never quotes user_data, which is sensitive.
type FieldError struct {
	Field string
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// userDataStarts are the first-line markers by which cloud-init tells a
// user-data part's type (cloudinit/handlers INCLUSION_TYPES_MAP); anything
// else it logs as "unhandled" and ignores, so a forgotten "#cloud-config"
// would boot a guest that silently did nothing.
var userDataStarts = []string{
	"#cloud-config", "#!", "#include", "#cloud-boothook", "#part-handler",
	"#upstart-job", "## template: jinja",
}

// Validate reports every problem of s at once, in one error that wraps
// ErrInvalidSeed. An empty MetaData is valid: it stands for the default.
func Validate(s Seed) error {
	problems := Problems(s)
	if len(problems) == 0 {
		return nil
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Error()
	}
	return fmt.Errorf("cloudinit: %w: %s", ErrInvalidSeed, strings.Join(msgs, "; "))
}

// Problems is Validate's list, one FieldError per problem, in field order.
func Problems(s Seed) []FieldError {
	var out []FieldError
	add := func(field string, msgs []string) {
		for _, m := range msgs {
			out = append(out, FieldError{Field: field, Msg: m})
		}
	}
	add("user_data", checkUserData(s.UserData))
	if s.MetaData != "" {
		add("meta_data", checkMetaData(s.MetaData))
	}
	if s.NetworkConfig != "" {
		add("network_config", checkNetworkConfig(s.NetworkConfig))
	}
	return out
}

func checkSize(v string) []string {
	if len(v) <= MaxPartBytes {
		return nil
	}
	return []string{fmt.Sprintf("is %d bytes, over the limit of %d bytes (1 MiB) by %d: "+
		"fetch large files at boot or put them on a volume", len(v), MaxPartBytes, len(v)-MaxPartBytes)}
}

// checkUserData: empty is allowed (cloud-init then does nothing on purpose);
// otherwise the content must be a type cloud-init handles.
func checkUserData(v string) []string {
	if msgs := checkSize(v); msgs != nil || v == "" {
		return msgs
	}
	for _, start := range userDataStarts {
		if strings.HasPrefix(v, start) {
			return nil
		}
	}
	// cloud-init treats a part as MIME when this header is in its first 4 KiB.
	head := v[:min(len(v), 4096)]
	if strings.Contains(strings.ToLower(head), "mime-version:") {
		return nil
	}
	if strings.TrimLeft(v, " \t\r\n") != v {
		return []string{"starts with white space, so cloud-init cannot tell its type and would ignore it: " +
			"remove it (a heredoc written <<-EOT strips indentation)"}
	}
	return []string{fmt.Sprintf("its first line is none of %s, nor is it MIME multipart, so cloud-init "+
		"would ignore it: start a cloud-config with the line #cloud-config", quoteAll(userDataStarts))}
}

func checkMetaData(v string) []string {
	if msgs := checkSize(v); msgs != nil {
		return msgs
	}
	keys, err := topLevelKeys(v)
	if err != nil {
		return []string{err.Error()}
	}
	if id, ok := keys["instance-id"]; !ok || id == "" {
		return []string{`has no instance-id (or an empty one), so cloud-init would use the fixed id "nocloud" and never see a ` +
			`changed seed as a new instance: add "instance-id: <id>", or leave meta_data unset for the default`}
	}
	return nil
}

func checkNetworkConfig(v string) []string {
	if msgs := checkSize(v); msgs != nil {
		return msgs
	}
	keys, err := topLevelKeys(v)
	if err != nil {
		return []string{err.Error()}
	}
	if _, ok := keys["network"]; ok {
		return nil
	}
	version, ok := keys["version"]
	switch {
	case !ok:
		return []string{`has neither "version" nor "network" at the top level: cloud-init reads ` +
			`network config version 1 or 2, for example "version: 2" followed by "ethernets:"`}
	case version != "1" && version != "2":
		return []string{fmt.Sprintf("version %q: cloud-init reads network config version 1 or 2", version)}
	}
	return nil
}

func quoteAll(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
