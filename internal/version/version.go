// Package version holds the build's version, stamped by the linker
// (-X .../internal/version.Version=...) in GNUmakefile and .goreleaser.yml.
package version

// Version is "dev" for unstamped builds.
var Version = "dev"

// Commit is the git commit the binary was built from, when stamped.
var Commit = "none"
