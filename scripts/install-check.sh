#!/usr/bin/env bash
# Proves `make install`: with a scratch HOME (the real one is not touched) and
# a CLI configuration that has no provider_installation block, `init` of a
# configuration whose provider is required both by the root module (which
# pins the installed version) and by a child module (no constraint) succeeds
# with Terraform and with OpenTofu, and `validate` starts the installed binary.
# A prerelease such as 0.0.0-dev is chosen only by an exact constraint: the
# same init without one must fail, as the guide says. Uses terraform and tofu
# from PATH, else the pinned OpenTofu if it is already built.
set -euo pipefail
fail() { echo "scripts/install-check.sh: $*" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(bash "$root/scripts/version.sh")

clis=()
command -v terraform >/dev/null 2>&1 && clis+=("$(command -v terraform)")
if command -v tofu >/dev/null 2>&1; then clis+=("$(command -v tofu)")
elif [ -x "$root/.cache/bin/tofu" ]; then clis+=("$root/.cache/bin/tofu")
fi
[ ${#clis[@]} -gt 0 ] || fail "neither terraform nor tofu is on PATH and .cache/bin/tofu is not built (bash scripts/tofu.sh)"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
home="$scratch/home"
mkdir -p "$home"
# make runs with the real HOME (Go's caches live there); it installs where
# the scratch HOME's ~/.terraform.d/plugins is.
make -C "$root" --no-print-directory install BIN="$scratch/bin" VERSION="$version" \
  PLUGIN_ROOT="$home/.terraform.d/plugins" >"$scratch/install.log" 2>&1 ||
  { cat "$scratch/install.log" >&2; fail "make install failed"; }
export HOME="$home" CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE="$scratch/cli.tfrc"
unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR
: >"$TF_CLI_CONFIG_FILE" # no provider_installation: the implied local mirrors apply

mkdir -p "$scratch/config/modules/child"
cat >"$scratch/config/modules/child/main.tf" <<'HCL'
terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
variable "host_id" { type = string }
resource "virtumancer_host" "this" {
  id  = var.host_id
  uri = "test:///default"
}
HCL
cat >"$scratch/config/main.tf" <<'HCL'
terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
provider "virtumancer" {
  database = "virtumancer.db"
}
module "child" {
  source  = "./modules/child"
  host_id = "check"
}
HCL

# init_in CLI DIR: init, then validate (which starts the provider binary).
init_in() {
  "$1" -chdir="$2" init -input=false -no-color >"$2/init.log" 2>&1 &&
    "$1" -chdir="$2" validate -no-color >"$2/validate.log" 2>&1
}

for cli in "${clis[@]}"; do
  name=$(basename "$(readlink -f "$cli")")
  pinned="$scratch/work-$name-pinned"
  cp -R "$scratch/config" "$pinned"
  sed -i "s|source = \"virtumancer/virtumancer\" }|source = \"virtumancer/virtumancer\", version = \"$version\" }|" "$pinned/main.tf"
  init_in "$cli" "$pinned" || { cat "$pinned"/*.log >&2; fail "$cli init/validate failed with version = \"$version\" in the root module"; }
  grep -q "virtumancer/virtumancer v$version" "$pinned/init.log" ||
    { cat "$pinned/init.log" >&2; fail "$cli init did not install virtumancer/virtumancer v$version"; }
  echo "ok: $("$cli" version | head -1): init of a configuration with a module installed virtumancer/virtumancer $version from ~/.terraform.d/plugins; validate ran it"
  if [[ "$version" == *-* ]]; then
    bare="$scratch/work-$name-bare"
    cp -R "$scratch/config" "$bare"
    if init_in "$cli" "$bare"; then fail "$cli chose the prerelease $version without an exact constraint: update the guide"; fi
    tr -s ' \n' ' ' <"$bare/init.log" | grep -q 'no available releases match' || { cat "$bare/init.log" >&2; fail "$cli init without a constraint failed for another reason"; }
    echo "ok: $name without a version constraint refuses the prerelease $version, as the guide says"
  fi
done
