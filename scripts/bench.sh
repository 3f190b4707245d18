#!/usr/bin/env bash
# make bench: Go benchmarks of the store, the connection layer and the sync
# engine and the whole `virtumancer-sync --once` process, then plan and apply
# through the CLIs (scripts/bench-plan.sh). Prints ratios measured in one run.
# Needs libvirtd (scripts/testenv.sh) and the pinned OpenTofu (scripts/tofu.sh);
# `terraform` on PATH is measured too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

bench() { # package, regexp
  go test -run '^$' -bench "$2" -benchmem -count 1 -timeout 60m "$1" | tee -a "$out/go.txt"
}
metric() { # benchmark name, unit -> value
  awk -v b="$1" -v u="$2" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == u) print $i }' "$out/go.txt" | head -1
}
say() { echo "$*" | tee -a "$out/lines.txt"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "== store: 10,000 VM rows upserted in batched transactions"
bench ./internal/store/ 'BenchmarkUpsert10k'
echo "== hypervisor: one domain's VMInfo over the shared connection vs a fresh connection per call"
bench ./internal/hypervisor/ 'BenchmarkVMInfo(Shared|Fresh)$'
shared=$(metric BenchmarkVMInfoShared ns/op); fresh=$(metric BenchmarkVMInfoFresh ns/op)
say "RATIO vminfo fresh/shared = $(ratio "$fresh" "$shared") (shared ${shared} ns/op, fresh ${fresh} ns/op)"

if [ -d internal/syncer ]; then
  echo "== sync engine: full sync vs the libvirt floor, event latency, peak RSS; the --once process"
  bench ./internal/syncer/ 'Benchmark(FullSync|EventToRow|EventToRow20Hosts|SyncOnceProcess)$'
  for n in 1000 5000; do
    say "RATIO full sync $n domains / libvirt floor (list + XML, same connection and readers) = $(metric "BenchmarkFullSync/$n/bulk/first" ratio) (resync $(metric "BenchmarkFullSync/$n/bulk/resync" ratio))"
  done
  p=BenchmarkSyncOnceProcess
  say "RATIO virtumancer-sync --once 5,000 domains, whole process / libvirt floor (new connection: list + inactive XML + state, best of sequential and 8-way) = first $(metric $p ratio-first), resync $(metric $p ratio-resync) (target <= 1.3; first $(metric $p first-ms) ms, resync $(metric $p resync-ms) ms, floor sequential $(metric $p floor-seq-ms) ms, 8-way $(metric $p floor-8-ms) ms)"
  say "RATIO virtumancer-sync --once 5,000 domains, whole process / floor with one state call per domain (8-way $(metric $p floor-8-statecalls-ms) ms) = first $(metric $p ratio-first-statecalls), resync $(metric $p ratio-resync-statecalls) (for reference: a less strict floor)"
  say "EVENT to row latency over 1,000 events, one host: p50 $(metric BenchmarkEventToRow p50-ms) ms, p99 $(metric BenchmarkEventToRow p99-ms) ms"
  p=BenchmarkEventToRow20Hosts
  say "EVENT to row latency over 1,000 events, 20 host ids on test:///default (distinct URIs: scheme, socket=, mode=): p99 $(metric $p p99-ms) ms until all 20 rows, $(metric $p p99-own-ms) ms until the assigned host's row (target < 100 ms; p50 $(metric $p p50-ms) ms, max $(metric $p max-ms) ms)"
  say "PEAK RSS during a 5,000-domain full sync: $(metric BenchmarkFullSync/5000/bulk/first peak-rss-MiB) MiB"
  echo "== sync engine: full sync of 5,000 domains into PostgreSQL vs into SQLite (rounds alternate the backends)"
  bench ./internal/syncer/ 'BenchmarkFullSyncPostgres$'
  p=BenchmarkFullSyncPostgres
  say "RATIO full sync 5,000 domains into PostgreSQL / into SQLite = first $(metric $p/first ratio), resync $(metric $p/resync ratio) (target <= 1.2; first $(metric $p/first postgres-ms) vs $(metric $p/first sqlite-ms) ms, resync $(metric $p/resync postgres-ms) vs $(metric $p/resync sqlite-ms) ms)"
fi

if [ -f scripts/bench-plan.sh ]; then
  bash scripts/bench-plan.sh | tee -a "$out/lines.txt"
fi
if [ "${BENCH_GUESTS:-}" = 1 ]; then
  bash scripts/bench-guests.sh | tee -a "$out/lines.txt"
else
  echo "== guest floor skipped: BENCH_GUESTS=1 make bench also boots 2 x 10 tiny guests on qemu:///system (a few minutes)"
fi
echo "== summary (the machine may be shared: each time is a best of several runs unless it says one run)"
grep -E '^Benchmark' "$out/go.txt" || true
grep -E '^(RATIO|REF|EVENT|PEAK)' "$out/lines.txt" || true
