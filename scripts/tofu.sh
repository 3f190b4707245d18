#!/usr/bin/env bash
# Builds the pinned OpenTofu CLI from its Go module into .cache/bin/tofu once;
# later runs reuse it. Prints the binary's path on stdout. TOFU_BIN_DIR puts
# it elsewhere (the quickstart does, to write nothing into the source tree).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(awk '$1=="require" && $2=="github.com/opentofu/opentofu" {print $3}' "$root/tools/tofu/go.mod")
bin="${TOFU_BIN_DIR:-$root/.cache/bin}"
out="$bin/tofu-$version"
if [ ! -x "$out" ]; then
  echo "building OpenTofu $version into $out (first time only; 6 to 10 minutes)" >&2
  mkdir -p "$bin"
  (cd "$root/tools/tofu" && CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" \
      -o "$out.tmp" github.com/opentofu/opentofu/cmd/tofu) || {
    echo "scripts/tofu.sh: building OpenTofu $version failed (see the go output above)" >&2
    exit 1
  }
  mv "$out.tmp" "$out"
fi
ln -sf "tofu-$version" "$bin/tofu"
echo "$bin/tofu"
