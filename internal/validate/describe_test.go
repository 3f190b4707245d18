package validate

import "testing"

func TestQuoted(t *testing.T) {
	for want, in := range map[string][]string{
		"":                       nil,
		"`raw`":                  {"raw"},
		"`vnc`, `spice`, `none`": {"vnc", "spice", "none"},
	} {
		if got := Quoted(in); got != want {
			t.Errorf("Quoted(%q) = %q, want %q", in, got, want)
		}
	}
}
