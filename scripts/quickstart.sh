#!/usr/bin/env bash
# make quickstart: applies examples/quickstart (a host on the local libvirtd
# and the examples/modules/guest-lab module: a NAT network, a pool, the tiny
# test guest as a base volume, two VMs on qcow2 overlays waiting for their
# DHCP leases), prints the guests' IPs, shows that a second plan is empty,
# then destroys everything and checks that nothing with the prefix is left.
#
# Writes nothing into the source tree: the provider build, its plugin mirror,
# the CLI configuration, a copy of the example, the state and the store all
# live in $QUICKSTART_DIR (default $XDG_STATE_HOME/virtumancer-quickstart,
# i.e. ~/.local/state/virtumancer-quickstart). The only exception is the
# ignored .cache/ of the test suite, reused when it exists (tiny guest image,
# pinned OpenTofu); otherwise those are built under $QUICKSTART_DIR too.
#
# The CLI: $QUICKSTART_CLI if set, else tofu from PATH, else terraform from
# PATH (tofu first: it is the CLI the project pins and tests first), else the
# pinned OpenTofu (scripts/tofu.sh builds it once, 6 to 10 minutes).
#
# QUICKSTART_PREFIX (default qs-lab) and QUICKSTART_CIDR (default
# 10.77.51.0/24) let two people run it on one host. QUICKSTART_KEEP=1 keeps
# the lab running (destroy it later by running this again without it).
set -euo pipefail
fail() { echo "quickstart: $*" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
state="${QUICKSTART_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/virtumancer-quickstart}"
prefix="${QUICKSTART_PREFIX:-qs-lab}"
cidr="${QUICKSTART_CIDR:-10.77.51.0/24}"
uri=qemu:///system
pool_path="/var/lib/libvirt/pools/$prefix"
mkdir -p "$state"
state=$(cd "$state" && pwd)
case "$state/" in "$root"/*) fail "QUICKSTART_DIR=$state is inside the source tree $root: choose a directory outside it" ;; esac
export PATH="/usr/local/go/bin:$PATH"
command -v virsh >/dev/null || fail "virsh is missing: run 'bash scripts/testenv.sh' (as root) first"
virsh -q -c "$uri" version >/dev/null 2>&1 || fail "libvirtd does not answer on $uri: run 'bash scripts/testenv.sh' (as root) first"

# Caches: the test suite's when it has made them, else our own.
if [ -d "$root/.cache" ]; then cache="$root/.cache"; else cache="$state/cache"; fi

# Written first: a TF_CLI_CONFIG_FILE naming a missing file makes every CLI
# command warn (SPEC 6). Only our mirror: nothing is fetched from a registry,
# and no dev_overrides (they break `init` of configurations with modules).
export TF_CLI_CONFIG_FILE="$state/cli.tfrc" CHECKPOINT_DISABLE=1
cat >"$TF_CLI_CONFIG_FILE" <<RC
disable_checkpoint = true
provider_installation {
  filesystem_mirror {
    path    = "$state/plugins"
    include = ["registry.terraform.io/virtumancer/virtumancer", "registry.opentofu.org/virtumancer/virtumancer"]
  }
}
RC

pick_cli() {
  if [ -n "${QUICKSTART_CLI:-}" ]; then
    command -v "$QUICKSTART_CLI" || fail "QUICKSTART_CLI=$QUICKSTART_CLI is not an executable"
  elif command -v tofu >/dev/null 2>&1; then command -v tofu
  elif command -v terraform >/dev/null 2>&1; then command -v terraform
  elif [ -x "$cache/bin/tofu" ]; then echo "$cache/bin/tofu"
  elif [ "$cache" = "$root/.cache" ]; then bash "$root/scripts/tofu.sh"
  else TOFU_BIN_DIR="$state/cache/bin" bash "$root/scripts/tofu.sh"
  fi
}
cli=$(pick_cli) && [ -n "$cli" ] || exit 1
echo "== CLI: $cli ($("$cli" version | head -1))"

echo "== tiny guest image (scripts/testguest.sh, cached)"
image=$(TESTGUEST_CACHE="$cache/testguest" bash "$root/scripts/testguest.sh")
echo "$image"

echo "== provider: make install into $state/plugins"
version=$(bash "$root/scripts/version.sh")
make -C "$root" --no-print-directory install BIN="$state/bin" VERSION="$version" PLUGIN_ROOT="$state/plugins" >/dev/null

unset TF_DATA_DIR TF_WORKSPACE
export VIRTUMANCER_DATABASE="$state/virtumancer.db"

# The working copy keeps ../modules/guest-lab beside quickstart/, and keeps
# the state and .terraform of an earlier run (QUICKSTART_KEEP=1).
work="$state/work/quickstart"
mkdir -p "$work"
rm -rf "$state/work/modules"
cp -R "$root/examples/modules" "$state/work/modules"
find "$work" -maxdepth 1 -name '*.tf' -delete
cp "$root/examples/quickstart/"*.tf "$work/"
# A prerelease build is only chosen by an exact constraint.
cat >"$work/version_override.tf" <<HCL
terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer", version = "$version" }
  }
}
HCL
cat >"$work/quickstart.auto.tfvars" <<VARS
prefix     = "$prefix"
cidr       = "$cidr"
base_image = "$image"
pool_path  = "$pool_path"
VARS

tf() { "$cli" -chdir="$work" "$@" -input=false -no-color; }

# leftovers lists what the host still has with the prefix.
leftovers() {
  {
    virsh -q -c "$uri" list --all --name | sed 's/^/domain /'
    virsh -q -c "$uri" net-list --all --name | sed 's/^/network /'
    virsh -q -c "$uri" pool-list --all --name | sed 's/^/pool /'
    for p in $(virsh -q -c "$uri" pool-list --name); do
      virsh -q -c "$uri" vol-list "$p" | awk -v p="$p" '{print "volume " p "/" $1}'
    done
  } | awk -v pre="$prefix-" '{n=$2; sub(/^[^\/]*\//, "", n)} index(n, pre) == 1'
  [ ! -e "$pool_path" ] || echo "directory $pool_path"
}

destroy() {
  echo "== destroy (QUICKSTART_KEEP=1 keeps the lab)"
  local t=$SECONDS
  tf destroy -auto-approve -compact-warnings >"$state/destroy.log" 2>&1 ||
    { tail -30 "$state/destroy.log" >&2; fail "destroy failed (log: $state/destroy.log)"; }
  echo "destroyed in $((SECONDS - t)) s"
  local left
  left=$(leftovers)
  [ -z "$left" ] || fail "destroy left these behind on $uri: $left"
  echo "nothing with the prefix $prefix- is left on $uri"
}

# On a failed apply or plan, destroy what was made unless asked to keep it.
applying=0
on_exit() {
  local code=$?
  if [ "$code" -ne 0 ] && [ "$applying" = 1 ] && [ "${QUICKSTART_KEEP:-0}" != 1 ]; then
    applying=0
    echo "quickstart: failed (exit $code); destroying what was made" >&2
    destroy || true
  fi
}
trap on_exit EXIT

echo "== init (working copy: $work)"
# A new build of the same version (0.0.0-dev) has a new checksum, which the
# lock file of an earlier run refuses even with -upgrade: start without it.
rm -f "$work/.terraform.lock.hcl"
tf init >"$state/init.log" 2>&1 || { cat "$state/init.log" >&2; fail "init failed (log: $state/init.log)"; }
grep -o 'Installed virtumancer/virtumancer v[^ ]*' "$state/init.log" || grep -o 'Using previously-installed virtumancer/virtumancer v[^ ]*' "$state/init.log" || true

echo "== apply: prefix $prefix, network $cidr, store $VIRTUMANCER_DATABASE"
applying=1
t=$SECONDS
tf apply -auto-approve -compact-warnings >"$state/apply.log" 2>&1 ||
  { tail -40 "$state/apply.log" >&2; fail "apply failed (log: $state/apply.log)"; }
grep -E '^Apply complete' "$state/apply.log"
echo "applied in $((SECONDS - t)) s"
echo "== the guests' addresses (DHCP leases)"
"$cli" -chdir="$work" output -no-color ip_addresses

echo "== what each guest says on its serial console (console_log): the hostname cloud-init gave it"
for log in $("$cli" -chdir="$work" output -json console_logs | grep -o '"/[^"]*"' | tr -d '"'); do
  [ -r "$log" ] || continue
  echo "$(basename "$log"): $(grep -a -m1 -o 'testguest: hostname=.*' "$log" | tr -d '\r' || echo 'no hostname line yet')"
done

echo "== second plan: must be empty"
set +e
tf plan -detailed-exitcode -compact-warnings >"$state/plan.log" 2>&1
code=$?
set -e
[ "$code" -eq 0 ] || { cat "$state/plan.log" >&2; fail "the second plan is not empty (exit $code)"; }
echo "second plan: no changes"

if command -v sqlite3 >/dev/null 2>&1; then
  echo "== the store now holds"
  sqlite3 "$VIRTUMANCER_DATABASE" "select 'host', id, uri from hosts;
    select 'vm', host_id, name, json_extract(config_json, '\$.memory') || ' KiB' from virtual_machines where deleted_at is null;"
fi

applying=0
if [ "${QUICKSTART_KEEP:-0}" = 1 ]; then
  echo "== kept: the lab runs; state in $work, store in $VIRTUMANCER_DATABASE"
  echo "   use it:  export TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE VIRTUMANCER_DATABASE=$VIRTUMANCER_DATABASE"
  echo "            $cli -chdir=$work show   (or destroy)"
else
  destroy
fi
echo "== quickstart done in $SECONDS s"
