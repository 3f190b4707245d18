#!/usr/bin/env bash
# Applies examples/quickstart against the local libvirtd with a SQLite store,
# then shows that a second plan is empty. Expects `make build` and the pinned
# OpenTofu (scripts/tofu.sh); `make quickstart` does both.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/examples/quickstart"
tofu="${TOFU:-$root/.cache/bin/tofu}"
[ -x "$tofu" ] || tofu=$(bash "$root/scripts/tofu.sh")
[ -x "$root/bin/terraform-provider-virtumancer" ] || { echo "quickstart: run 'make build' first" >&2; exit 1; }

# Use the freshly built provider without a registry.
rc="$dir/.terraformrc"
cat >"$rc" <<RC
provider_installation {
  dev_overrides {
    "registry.opentofu.org/virtumancer/virtumancer" = "$root/bin"
    "registry.terraform.io/virtumancer/virtumancer" = "$root/bin"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$rc"
export VIRTUMANCER_DATABASE="$dir/virtumancer.db"
cd "$dir"

echo "== tofu apply (store: $VIRTUMANCER_DATABASE)"
"$tofu" apply -auto-approve -input=false -compact-warnings -no-color
echo "== second plan: must be empty"
set +e
"$tofu" plan -input=false -detailed-exitcode -compact-warnings -no-color >/tmp/quickstart-plan.txt 2>&1
code=$?
set -e
if [ "$code" -ne 0 ]; then
  cat /tmp/quickstart-plan.txt
  echo "quickstart: the second plan is not empty (exit $code)" >&2
  exit 1
fi
echo "second plan: no changes"
echo "== the store now holds"
sqlite3 "$VIRTUMANCER_DATABASE" 'select id, uri from hosts; select host_id, name, substr(config_json,1,120) from virtual_machines where deleted_at is null;'
if [ "${QUICKSTART_KEEP:-0}" != 1 ]; then
  echo "== tofu destroy (set QUICKSTART_KEEP=1 to keep the VM)"
  "$tofu" destroy -auto-approve -input=false -compact-warnings -no-color >/dev/null
  rm -f terraform.tfstate terraform.tfstate.backup
fi
