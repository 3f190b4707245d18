#!/usr/bin/env bash
# The guest floor of `make bench` (opt-in: BENCH_GUESTS=1, it boots 2 x N
# tiny guests under TCG and takes minutes): the wall time of one
# `apply -parallelism=10` that makes N overlays and N VMs with cloud_init and
# wait_for_ip { source = "lease" } on qemu:///system, until the apply returns
# with every IP known, divided by the same guests made with plain libvirt
# calls (internal/benchfloor/guestfloor: overlays and seeds created, guests
# defined and started at once, until their leases appear). The provider also
# makes each VM's console log; the floor does not (it is not in the floor's
# definition). Target <= 1.3. The pool, the
# base volume (the tiny guest of scripts/testguest.sh) and the network are
# made by a first apply and shared by both, so neither side pays for them.
# One run each: the floor first, then the apply.
#   BENCH_GUESTS_N      guests per side (default 10)
#   BENCH_GUESTS_PREFIX names of everything made (default bench-guests)
#   BENCH_GUESTS_CIDR   the network's /24 (default 10.77.90.0/24)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${BENCH_GUESTS_N:-10}
prefix=${BENCH_GUESTS_PREFIX:-bench-guests}
cidr=${BENCH_GUESTS_CIDR:-10.77.90.0/24}
net3=${cidr%.*}
work=$(mktemp -d)
cli=
applied=
cleanup() {
  if [ -n "$applied" ]; then
    (cd "$work" && TF_CLI_CONFIG_FILE="$work/rc" "$cli" destroy -auto-approve -input=false -var n="$n" >"$work/destroy.out" 2>&1) ||
      { echo "bench-guests: destroy failed; remove the $prefix-* domains, volumes, pool and network by hand:" >&2; tail -20 "$work/destroy.out" >&2; }
  fi
  rm -rf "$work"
}
trap cleanup EXIT

for c in "$root/.cache/bin/tofu" "$(command -v terraform || true)"; do
  [ -n "$c" ] && [ -x "$c" ] && { cli=$c; break; }
done
[ -n "$cli" ] || { echo "bench-guests: neither $root/.cache/bin/tofu nor terraform on PATH; run 'bash scripts/tofu.sh'" >&2; exit 1; }
host=registry.terraform.io
case "$(basename "$cli")" in tofu*) host=registry.opentofu.org ;; esac

image=$(bash "$root/scripts/testguest.sh")
make -s -C "$root" build >/dev/null
(cd "$root" && go build -o "$work/guestfloor" ./internal/benchfloor/cmd/guestfloor)
cat >"$work/rc" <<RC
provider_installation {
  dev_overrides { "$host/virtumancer/virtumancer" = "$root/bin" }
  direct {}
}
RC
cat >"$work/main.tf" <<HCL
terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
variable "n" { type = number }
provider "virtumancer" { database = "$work/virtumancer.db" }
resource "virtumancer_host" "h" {
  id  = "$prefix"
  uri = "qemu:///system"
}
resource "virtumancer_pool" "p" {
  host_id = virtumancer_host.h.id
  name    = "$prefix-pool"
  path    = "/var/lib/virtumancer-test/$prefix"
}
resource "virtumancer_volume" "base" {
  host_id = virtumancer_host.h.id
  pool    = virtumancer_pool.p.name
  name    = "$prefix-base.raw"
  format  = "raw"
  source  = "$image"
}
resource "virtumancer_network" "n" {
  host_id = virtumancer_host.h.id
  name    = "$prefix-net"
  mode    = "isolated"
  cidr    = "$cidr"
  dhcp {
    start = "$net3.10"
    end   = "$net3.250"
  }
}
resource "virtumancer_volume" "root" {
  count       = var.n
  host_id     = virtumancer_host.h.id
  pool        = virtumancer_pool.p.name
  name        = "$prefix-vm-\${count.index}.qcow2"
  base_volume = virtumancer_volume.base.name
}
resource "virtumancer_vm" "vm" {
  count            = var.n
  host_id          = virtumancer_host.h.id
  name             = "$prefix-vm-\${count.index}"
  domain_type      = "qemu"
  memory           = 128
  vcpu             = 1
  graphics         = "none"
  shutdown_timeout = "5s"
  disk {
    pool   = virtumancer_volume.root[count.index].pool
    volume = virtumancer_volume.root[count.index].name
  }
  network_interface {
    network = virtumancer_network.n.name
  }
  cloud_init {
    pool      = virtumancer_pool.p.name
    user_data = "#cloud-config\\n# bench-guests\\n"
  }
  wait_for_ip {
    source  = "lease"
    timeout = "10m"
  }
}
output "ips" { value = flatten(virtumancer_vm.vm[*].ip_addresses) }
HCL

tf() { (cd "$work" && TF_CLI_CONFIG_FILE="$work/rc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 "$cli" "$@"); }
# No init: dev_overrides serve the provider (init would ask the registry).
applied=1
tf apply -auto-approve -input=false -var n=0 >"$work/setup.out" 2>&1 || { tail -30 "$work/setup.out" >&2; exit 1; }

echo "== guest floor: $n tiny guests with plain libvirt calls"
"$work/guestfloor" -pool "$prefix-pool" -base "$prefix-base.raw" -network "$prefix-net" -prefix "$prefix-floor" -n "$n" | tee "$work/floor.out"
floor=$(awk -F'seconds=' '/^FLOOR/ { print $2 }' "$work/floor.out")

echo "== $(tf version | awk '/^(OpenTofu|Terraform) v/ && !n { print; n = 1 }'): apply of $n VMs with wait_for_ip lease at -parallelism=10"
TIMEFORMAT='%3R'
wall=$( { time tf apply -auto-approve -input=false -parallelism=10 -var n="$n" >"$work/apply.out" 2>&1; } 2>&1) ||
  { tail -40 "$work/apply.out" >&2; exit 1; }
ips=$(tf output -json ips | tr -d '[]"\n' | tr ',' ' ')
known=$(wc -w <<<"$ips")
[ "$known" -eq "$n" ] || { echo "bench-guests: the apply returned $known IPs for $n VMs: $ips" >&2; exit 1; }
echo "RATIO apply $n guests until all IPs known / guest floor (plain libvirt calls) = $(awk -v a="$wall" -v b="$floor" 'BEGIN { printf "%.2f", a / b }') (target <= 1.3; ${wall}s vs ${floor}s, one run each)"
