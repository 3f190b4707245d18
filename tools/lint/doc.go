// Package lint pins the developer tools (golangci-lint, goreleaser,
// tfplugindocs) in a module of their own, so their dependencies never mix
// with the provider's. Run them with `go tool -modfile=tools/lint/go.mod NAME`.
package lint
