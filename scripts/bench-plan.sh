#!/usr/bin/env bash
# `tofu plan` refresh time for N virtumancer_vm resources on test:///default
# divided by the time for N built-in terraform_data resources (the CLI's own
# floor), measured in one run. Target: ratio under 1.5 at 500.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tofu="$root/.cache/bin/tofu"
sizes=${BENCH_PLAN_SIZES:-100 500}
work=$(mktemp -d)
holder_pid=
cleanup() {
  if [ -n "$holder_pid" ]; then
    kill "$holder_pid" 2>/dev/null || true
    wait "$holder_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
make -s -C "$root" build >/dev/null
# test:///default resets when its last connection closes: hold one open with
# a single process (an event loop), so that killing it leaves nothing behind.
virsh -c test+unix:///default event --all --loop >/dev/null 2>&1 &
holder_pid=$!
cat >"$work/rc" <<RC
provider_installation {
  dev_overrides { "registry.opentofu.org/virtumancer/virtumancer" = "$root/bin" }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/rc" TF_IN_AUTOMATION=1

timeplan() { # dir -> seconds (best of 3)
  local best=
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N)
    (cd "$1" && "$tofu" plan -input=false -lock=false -parallelism=10 >/dev/null)
    e=$(date +%s.%N)
    best=$(awk -v b="$best" -v t="$(awk -v s="$s" -v e="$e" 'BEGIN{print e-s}')" 'BEGIN{ if (b=="" || t<b) print t; else print b }')
  done
  echo "$best"
}

for n in $sizes; do
  vm="$work/vm$n" data="$work/data$n"
  mkdir -p "$vm" "$data"
  cat >"$vm/main.tf" <<HCL
terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
provider "virtumancer" { database = "$vm/virtumancer.db" }
resource "virtumancer_host" "h" {
  id  = "bench"
  uri = "test:///default"
}
resource "virtumancer_vm" "vm" {
  count    = $n
  host_id  = virtumancer_host.h.id
  name     = "bench-$n-\${count.index}"
  vcpu     = 1
  memory   = 64
  graphics = "none"
}
HCL
  cat >"$data/main.tf" <<HCL
resource "terraform_data" "d" {
  count = $n
  input = "bench-\${count.index}"
}
HCL
  (cd "$vm" && "$tofu" apply -auto-approve -input=false -parallelism=10 >/dev/null)
  (cd "$data" && "$tofu" init -input=false >/dev/null && "$tofu" apply -auto-approve -input=false >/dev/null)
  tv=$(timeplan "$vm"); td=$(timeplan "$data")
  echo "RATIO plan $n virtumancer_vm / terraform_data = $(awk -v a="$tv" -v b="$td" 'BEGIN{printf "%.2f", a/b}') (${tv}s vs ${td}s)"
  (cd "$vm" && "$tofu" destroy -auto-approve -input=false -parallelism=10 >/dev/null)
done
