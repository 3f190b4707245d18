//go:build tools

// Package tofu pins the OpenTofu CLI used by the acceptance tests. OpenTofu's
// go.mod replaces hcl, so `go install` refuses it; this module carries the same
// replace and `go build`s its cmd/tofu (see scripts/tofu.sh).
package tofu

import _ "github.com/opentofu/opentofu/cmd/tofu"
