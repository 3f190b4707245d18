#!/usr/bin/env bash
# Proves that the plain Test… tests need nothing: runs `make testunit` in a
# private mount namespace where libvirtd's socket directory is an empty
# tmpfs, PostgreSQL is out of reach (a network namespace of its own, with
# only its own loopback up) and no Terraform/OpenTofu CLI can be found (PATH without
# /usr/local/bin, the pinned .cache/bin/tofu hidden, TF_ACC* unset). The
# shared libvirtd keeps running for everything else on the machine. Root
# only (unshare -m -n and mount).
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "scripts/testunit-offline.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root (it hides libvirtd with unshare -m and mount); try: sudo $0"

# The folder of the pinned tofu, wherever .cache points (it may be a symlink).
tofu_dir=""
[ -d .cache/bin ] && tofu_dir=$(readlink -f .cache/bin)

exec env -u TF_ACC -u TF_ACC_TERRAFORM_PATH TOFU_DIR="$tofu_dir" \
  unshare -m -n sh -c '
  set -e
  ip link set lo up # plain tests may still serve and dial on their own loopback
  [ -d /var/run/libvirt ] && mount -t tmpfs none /var/run/libvirt
  [ -n "$TOFU_DIR" ] && mount -t tmpfs none "$TOFU_DIR"
  export PATH=/usr/local/go/bin:/usr/bin:/bin
  # A check that hid nothing would prove nothing.
  if [ -e /var/run/libvirt/libvirt-sock ] || /usr/lib/postgresql/15/bin/pg_isready -q -h 127.0.0.1 -p 55432 -t 2 || command -v terraform || command -v tofu || [ -e .cache/bin/tofu ]; then
    echo "scripts/testunit-offline.sh: libvirtd, PostgreSQL or a CLI is still visible; nothing would be proven" >&2
    exit 1
  fi
  echo "== make testunit with no libvirtd socket, no PostgreSQL and no terraform/tofu"
  make testunit
'
