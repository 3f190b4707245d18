#!/usr/bin/env bash
# scripts/install.sh BINARY VERSION [PLUGIN_ROOT]: installs a provider build
# as virtumancer/virtumancer VERSION into PLUGIN_ROOT (default
# ~/.terraform.d/plugins) under both registry host names, in the "unpacked"
# layout HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/. ~/.terraform.d/plugins is an
# implied local mirror of both Terraform and OpenTofu (searched when the CLI
# configuration has no provider_installation block), so `terraform init` and
# `tofu init` find it there, also for configurations with modules, which
# dev_overrides breaks.
set -euo pipefail
fail() { echo "scripts/install.sh: $*" >&2; exit 1; }
[ $# -ge 2 ] || fail "usage: scripts/install.sh BINARY VERSION [PLUGIN_ROOT]"
bin=$1 version=$2 root=${3:-$HOME/.terraform.d/plugins}
[ -x "$bin" ] || fail "no provider binary at $bin: run 'make build' first"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  fail "version $version is not semver (X.Y.Z or X.Y.Z-pre); the CLIs ignore such a directory"
target="$(go env GOOS)_$(go env GOARCH)"
for host in registry.terraform.io registry.opentofu.org; do
  dir="$root/$host/virtumancer/virtumancer/$version/$target"
  # A rebuilt binary of the same version replaces the old one; other versions stay.
  rm -rf "$dir"
  mkdir -p "$dir"
  install -m 0755 "$bin" "$dir/terraform-provider-virtumancer_v$version"
  echo "installed $dir/terraform-provider-virtumancer_v$version"
done
