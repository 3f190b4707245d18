#!/usr/bin/env bash
# Plan and apply of N virtumancer_vm on test:///default through each CLI
# (the pinned OpenTofu and `terraform` on PATH, when present), divided by the
# same runs of two floors served by internal/benchfloor, all in one run:
#   (a) benchfloor_vm: virtumancer_vm's own schema with CRUD that only echoes,
#       same HCL, so the ratio is what our code adds (target <= 1.3x for plan);
#   (b) benchfloor_min: the cheapest framework resource, two attributes
#       (targets <= 2x for plan and for apply at -parallelism=10).
# Plans are the best of 3 rounds (the three configurations alternate inside a
# round, so a busy moment of the shared machine hits them alike); applies are
# one run each, to bound the time. Each ratio is of wall time, with the ratio
# of CPU time (the CLI and its provider processes) beside it, which a shared
# machine disturbs less. terraform_data's plan is printed only for reference.
# BENCH_PLAN_SIZES (default "500") lists the N to run; BENCH_PREFIX (default
# "bench") starts the domain names, so runs on a shared libvirtd stay apart.
# BENCH_PROFILE=1 adds one profiled plan per configuration after the timed
# ones and prints where its CPU time went: the provider processes (their own
# CPU profiles, internal/cpuprofile) and the CLI (the rest; OpenTofu's own
# profile beside it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sizes=${BENCH_PLAN_SIZES:-500}
prefix=${BENCH_PREFIX:-bench}
work=$(mktemp -d)
holder_pid=
applied=() # directories whose resources live in libvirt until destroyed
cleanup() {
  for d in "${applied[@]}"; do
    (cd "${d%%|*}" && TF_CLI_CONFIG_FILE="$work/$(basename "${d##*|}").rc" "${d##*|}" destroy -auto-approve -input=false >/dev/null 2>&1) || true
  done
  if [ -n "$holder_pid" ]; then
    kill "$holder_pid" 2>/dev/null || true
    wait "$holder_pid" 2>/dev/null || true
  fi
  for db in "${pg_dbs[@]}"; do
    psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

clis=()
[ -x "$root/.cache/bin/tofu" ] && clis+=("$root/.cache/bin/tofu")
command -v terraform >/dev/null 2>&1 && clis+=("$(command -v terraform)")
if [ ${#clis[@]} -eq 0 ]; then
  echo "bench-plan: neither $root/.cache/bin/tofu nor terraform on PATH; run 'bash scripts/tofu.sh' to build OpenTofu" >&2
  exit 1
fi

make -s -C "$root" build >/dev/null
(cd "$root" && go build -trimpath -o "$work/floor/terraform-provider-benchfloor" ./internal/benchfloor/cmd/terraform-provider-benchfloor)
# test:///default resets when its last connection closes: hold one open with
# a single process (an event loop), so that killing it leaves nothing behind.
virsh -c test+unix:///default event --all --loop >/dev/null 2>&1 &
holder_pid=$!
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

# rc CLI: a CLI configuration installing both providers through dev_overrides
# on the registry host the CLI resolves "virtumancer/..." to.
rc() {
  local host=registry.terraform.io
  case "$(basename "$1")" in tofu*) host=registry.opentofu.org ;; esac
  cat >"$work/$(basename "$1").rc" <<RC
provider_installation {
  dev_overrides {
    "$host/virtumancer/virtumancer" = "$root/bin"
    "$host/virtumancer/benchfloor"  = "$work/floor"
  }
  direct {}
}
RC
}

# vm_hcl N RESOURCE HOST_REF: the bench's VM configuration for a resource type.
vm_hcl() {
  cat <<HCL
resource "$2" "vm" {
  count    = $1
  host_id  = $3
  name     = "$prefix-$1-\${count.index}"
  vcpu     = 1
  memory   = 64
  graphics = "none"
}
HCL
}

# pg_url NAME: the URL of a fresh database NAME on the tests' PostgreSQL
# (scripts/pgenv.sh); empty when that cluster does not answer.
pg_admin=${VIRTUMANCER_TEST_POSTGRES:-postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable}
pg_dbs=()
pg_url() {
  psql -q "$pg_admin" -c "CREATE DATABASE $1" >/dev/null 2>&1 || return 0
  echo "${pg_admin%%/postgres\?*}/$1?sslmode=disable"
}

# configs DIR N: ours (on SQLite, and on PostgreSQL when it answers), the two
# floors and terraform_data, one folder each.
configs() {
  mkdir -p "$1"/{vm,floorvm,floormin,data}
  local pg db
  db="bench_plan_$$_$(basename "$1" | tr -c 'a-z0-9\n' _)"
  pg=$(pg_url "$db") # a subshell: the list of databases to drop is kept here
  if [ -n "$pg" ]; then
    pg_dbs+=("$db")
    mkdir -p "$1/vmpg"
    cat >"$1/vmpg/main.tf" <<HCL
terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
provider "virtumancer" { database = "$pg" }
resource "virtumancer_host" "h" {
  id  = "benchpg"
  uri = "test:///default"
}
$(prefix="${prefix}pg" vm_hcl "$2" virtumancer_vm virtumancer_host.h.id)
HCL
  fi
  cat >"$1/vm/main.tf" <<HCL
terraform {
  required_providers {
    virtumancer = { source = "virtumancer/virtumancer" }
  }
}
provider "virtumancer" { database = "$1/vm/virtumancer.db" }
resource "virtumancer_host" "h" {
  id  = "bench"
  uri = "test:///default"
}
$(vm_hcl "$2" virtumancer_vm virtumancer_host.h.id)
HCL
  local floor_head='terraform {
  required_providers {
    benchfloor = { source = "virtumancer/benchfloor" }
  }
}
resource "benchfloor_min" "h" { input = "bench" }'
  printf '%s\n%s\n' "$floor_head" "$(vm_hcl "$2" benchfloor_vm benchfloor_min.h.id)" >"$1/floorvm/main.tf"
  printf '%s\n%s\n' "$floor_head" "resource \"benchfloor_min\" \"vm\" {
  count = $2
  input = \"\${benchfloor_min.h.id}-\${count.index}\"
}" >"$1/floormin/main.tf"
  cat >"$1/data/main.tf" <<HCL
resource "terraform_data" "d" {
  count = $2
  input = "bench-\${count.index}"
}
HCL
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
minof() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b < a) print b; else print a }'; }

# measure CLI DIR ARGS...: "wall cpu" seconds of one CLI command in DIR. cpu
# is user + system time of the CLI and its provider processes (not of
# libvirtd): steadier than wall time on a shared machine.
measure() {
  local cli=$1 dir=$2 t rc=0 TIMEFORMAT='%3R %3U %3S'
  shift 2
  t=$( { time (cd "$dir" && TF_CLI_CONFIG_FILE="$work/$(basename "$cli").rc" "$cli" "$@" >"$work/cli.out" 2>&1); } 2>&1) || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "bench-plan: $(basename "$cli") $* in $dir exited $rc (plan: 2 means changes proposed after apply):" >&2
    tail -40 "$work/cli.out" >&2
    return 1
  fi
  awk -v t="$t" 'BEGIN { split(t, f, " "); printf "%.3f %.3f", f[1], f[2] + f[3] }'
}

# report LABEL OURS FLOOR TARGET SAMPLES: one ratio line, wall and cpu.
report() {
  local ow of cw cf
  read -r ow cw <<<"$2"
  read -r of cf <<<"$3"
  echo "RATIO $1 = $(ratio "$ow" "$of") ($4${ow}s vs ${of}s, $5; cpu $(ratio "$cw" "$cf"): ${cw}s vs ${cf}s)"
}

# samples DIR: CPU seconds in the pprof CPU profiles of DIR (0 when none).
samples() {
  local f t=0 s
  for f in "$1"/*.pprof; do
    [ -s "$f" ] || continue
    s=$(go tool pprof -top -nodecount=1 "$f" 2>/dev/null | awk '/Total samples/ {
      sub(/.*Total samples = /, ""); v = $1; n = v + 0
      if (v ~ /ms$/) n /= 1000; else if (v ~ /us$/) n /= 1e6; else if (v ~ /min$/) n *= 60
      print n; exit }')
    t=$(awk -v a="$t" -v b="${s:-0}" 'BEGIN { print a + b }')
  done
  echo "$t"
}

# split CLI N DIR CONFIG LABEL: one profiled plan of DIR; prints its CPU split.
split() {
  local cli=$1 n=$2 dir=$3 c=$4 p t own=""
  p="$work/prof-$(basename "$cli")-$c"
  rm -rf "$p" && mkdir -p "$p/provider"
  t=$(VIRTUMANCER_CPU_PROFILE_DIR="$p/provider" TOFU_CPU_PROFILE="$p/cli.pprof" \
    measure "$cli" "$dir" plan -input=false -lock=false -parallelism=10 -detailed-exitcode)
  local prov cpu=${t#* }
  prov=$(samples "$p/provider")
  [ -s "$p/cli.pprof" ] && own=", the CLI's own profile $(awk -v s="$(samples "$p" 2>/dev/null)" 'BEGIN { printf "%.2fs", s }')"
  awk -v c="$c" -v n="$n" -v v="$5" -v cpu="$cpu" -v prov="$prov" -v own="$own" 'BEGIN {
    printf "SPLIT [%s] plan %d %s: cpu %.2fs = provider %.2fs (%.0f%%) + CLI %.2fs%s\n", v, n, c, cpu, prov, 100 * prov / cpu, cpu - prov, own }'
}

run_cli() { # CLI N
  local cli=$1 n=$2 name dir v t c
  name=$(basename "$cli")
  rc "$cli"
  # awk reads to the end: grep -m1 would stop early and, under pipefail, fail
  # the pipeline with the CLI's SIGPIPE.
  v=$(TF_CLI_CONFIG_FILE="$work/$name.rc" "$cli" version | awk '/^(OpenTofu|Terraform) v/ && !n { print; n = 1 }')
  dir="$work/$name-$n"
  configs "$dir" "$n"
  echo "== $v: plan and apply of $n resources"
  measure "$cli" "$dir/data" init -input=false >/dev/null
  measure "$cli" "$dir/data" apply -auto-approve -input=false >/dev/null
  declare -A apply wall cpu
  local cs=(vm floorvm floormin) ps=(vm floorvm floormin data)
  if [ -d "$dir/vmpg" ]; then
    cs+=(vmpg) ps+=(vmpg)
    applied+=("$dir/vmpg|$cli")
  fi
  applied+=("$dir/vm|$cli")
  for c in "${cs[@]}"; do
    apply[$c]=$(measure "$cli" "$dir/$c" apply -auto-approve -input=false -parallelism=10)
  done
  for _ in 1 2 3; do
    for c in "${ps[@]}"; do
      t=$(measure "$cli" "$dir/$c" plan -input=false -lock=false -parallelism=10 -detailed-exitcode)
      wall[$c]=$(minof "${wall[$c]:-}" "${t% *}")
      cpu[$c]=$(minof "${cpu[$c]:-}" "${t#* }")
    done
  done
  if [ -n "${BENCH_PROFILE:-}" ]; then
    for c in vm floorvm floormin; do split "$cli" "$n" "$dir/$c" "$c" "$name"; done
  fi
  measure "$cli" "$dir/vm" destroy -auto-approve -input=false -parallelism=10 >/dev/null
  unset 'applied[-1]'
  if [ -d "$dir/vmpg" ]; then
    measure "$cli" "$dir/vmpg" destroy -auto-approve -input=false -parallelism=10 >/dev/null
    unset 'applied[-1]'
  fi
  local p=()
  for c in vm floorvm floormin data; do p[${#p[@]}]="${wall[$c]} ${cpu[$c]}"; done
  report "[$v] plan $n virtumancer_vm / benchfloor_vm (same schema, no-op)" "${p[0]}" "${p[1]}" "target <= 1.3; " "best of 3"
  report "[$v] plan $n virtumancer_vm / benchfloor_min (two attributes)" "${p[0]}" "${p[2]}" "target <= 2; " "best of 3"
  report "[$v] apply $n virtumancer_vm / benchfloor_min at -parallelism=10" "${apply[vm]}" "${apply[floormin]}" "target <= 2; " "one run"
  report "[$v] apply $n virtumancer_vm / benchfloor_vm at -parallelism=10" "${apply[vm]}" "${apply[floorvm]}" "" "one run"
  if [ -d "$dir/vmpg" ]; then
    report "[$v] plan $n virtumancer_vm, store on PostgreSQL / on SQLite" "${wall[vmpg]} ${cpu[vmpg]}" "${p[0]}" "target <= 1.2; " "best of 3"
    report "[$v] apply $n virtumancer_vm, store on PostgreSQL / on SQLite" "${apply[vmpg]}" "${apply[vm]}" "" "one run"
  else
    echo "RATIO [$v] plan $n virtumancer_vm, store on PostgreSQL / on SQLite = n/a (no PostgreSQL at $pg_admin: bash scripts/pgenv.sh)"
  fi
  echo "REF   [$v] plan $n terraform_data = ${wall[data]}s (benchfloor_min / terraform_data = $(ratio "${wall[floormin]}" "${wall[data]}"); cpu ${cpu[data]}s)"
}

for n in $sizes; do
  for cli in "${clis[@]}"; do
    run_cli "$cli" "$n"
  done
done
