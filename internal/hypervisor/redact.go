package hypervisor

import "strings"

const redactedMark = "xxxxx"

// Redact returns uri with the userinfo password and the values of
// sensitive-looking query parameters replaced by "xxxxx". It works on the
// raw text rather than through url.Parse so that URIs that do not parse are
// redacted too, and everything else is left exactly as written.
func Redact(uri string) string {
	// The userinfo goes first, on the whole text: a password may hold '?'
	// or '#', which would otherwise be taken for the query or fragment.
	rest, frag, hasFrag := strings.Cut(replacePassword(uri, ":"+redactedMark), "#")
	out, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery {
		out += "?" + redactQuery(query)
	}
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// WithoutPassword returns uri with the userinfo password and its ':' left
// out (qemu+ssh://user@host/system), everything else exactly as written:
// what the state shows of a URI that someone else stored with a password.
func WithoutPassword(uri string) string { return replacePassword(uri, "") }

// HasPassword reports whether uri holds a userinfo password.
func HasPassword(uri string) bool { return WithoutPassword(uri) != uri }

// replacePassword replaces ":password" in scheme://user:password@host/...
// by with; as in net/url, the userinfo ends at the last '@' of the authority.
func replacePassword(s, with string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	authStart := i + 3
	authEnd := len(s)
	if j := strings.IndexByte(s[authStart:], '/'); j >= 0 {
		authEnd = authStart + j
	}
	at := strings.LastIndexByte(s[authStart:authEnd], '@')
	if at < 0 {
		// A password holding '/' pushes the '@' past the first '/'; look
		// at the whole remainder so it is still masked.
		at = strings.LastIndexByte(s[authStart:], '@')
		if at < 0 {
			return s
		}
	}
	userinfo := s[authStart : authStart+at]
	user, _, hasPass := strings.Cut(userinfo, ":")
	if !hasPass {
		return s
	}
	return s[:authStart] + user + with + s[authStart+at:]
}

func redactQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		if hasValue && sensitiveParam(k) {
			parts[i] = k + "=" + redactedMark
		}
	}
	return strings.Join(parts, "&")
}

// sensitiveParam matches parameter names that may carry a secret. libvirt's
// own parameters carry none, but a URI may be pasted with anything in it.
func sensitiveParam(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"pass", "pwd", "secret", "token", "credential", "auth_key", "apikey", "api_key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
