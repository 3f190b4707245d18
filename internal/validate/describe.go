package validate

import "strings"

// Quoted renders the allowed values of an attribute for its description, as
// `a`, `b`, `c`. Pass the same slice the attribute's OneOf validator uses, so
// the documentation cannot drift from what is accepted.
func Quoted[S ~string](values []S) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "`" + string(v) + "`"
	}
	return strings.Join(q, ", ")
}
