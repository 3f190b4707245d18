#!/usr/bin/env bash
# make bench: Go benchmarks of the store, the connection layer and the sync
# engine, then scripted `tofu plan` runs. Prints ratios measured in one run.
# Needs libvirtd (scripts/testenv.sh) and the pinned OpenTofu (scripts/tofu.sh).
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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "== store: 10,000 VM rows upserted in batched transactions"
bench ./internal/store/ 'BenchmarkUpsert10k'
echo "== hypervisor: one domain's VMInfo over the shared connection vs a fresh connection per call"
bench ./internal/hypervisor/ 'BenchmarkVMInfo(Shared|Fresh)$'
shared=$(metric BenchmarkVMInfoShared ns/op); fresh=$(metric BenchmarkVMInfoFresh ns/op)
echo "RATIO vminfo fresh/shared = $(ratio "$fresh" "$shared") (shared ${shared} ns/op, fresh ${fresh} ns/op)"

if [ -d internal/syncer ]; then
  echo "== sync engine: full sync vs the libvirt floor, event latency, peak RSS"
  bench ./internal/syncer/ 'Benchmark(FullSync|EventToRow)$'
  for n in 1000 5000; do
    echo "RATIO full sync $n domains / libvirt floor (list + XML, same connection and readers) = $(metric "BenchmarkFullSync/$n/bulk/first" ratio) (resync $(metric "BenchmarkFullSync/$n/bulk/resync" ratio))"
  done
  echo "EVENT to row latency over 1,000 events: p50 $(metric BenchmarkEventToRow p50-ms) ms, p99 $(metric BenchmarkEventToRow p99-ms) ms"
  echo "PEAK RSS during a 5,000-domain full sync: $(metric BenchmarkFullSync/5000/bulk/first peak-rss-MiB) MiB"
fi

if [ -f scripts/bench-plan.sh ]; then
  bash scripts/bench-plan.sh
fi
echo "== summary"
grep -E '^Benchmark' "$out/go.txt" || true
