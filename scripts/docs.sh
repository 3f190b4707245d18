#!/usr/bin/env bash
# make generate: renders docs/ from templates/ and examples/ with tfplugindocs.
# The provider schema comes from the pinned OpenTofu through dev_overrides, so
# no Terraform download is ever attempted (tfplugindocs would otherwise fetch
# one from releases.hashicorp.com when `terraform` is not on PATH).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tofu=$(bash scripts/tofu.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/bin/terraform-provider-virtumancer" .
cat >"$work/rc" <<RC
provider_installation {
  dev_overrides { "registry.opentofu.org/virtumancer/virtumancer" = "$work/bin" }
  direct {}
}
RC
cat >"$work/main.tf" <<'HCL'
terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
HCL
(cd "$work" && TF_CLI_CONFIG_FILE="$work/rc" "$tofu" providers schema -json 2>/dev/null) |
  sed 's|"registry.opentofu.org/virtumancer/virtumancer"|"virtumancer"|' >"$work/schema.json"
grep -q '"virtumancer"' "$work/schema.json" || { echo "scripts/docs.sh: no provider schema from $tofu" >&2; exit 1; }
go tool -modfile=tools/lint/go.mod tfplugindocs generate --provider-name virtumancer \
  --rendered-provider-name Virtumancer --providers-schema "$work/schema.json"
