#!/usr/bin/env bash
# Exploration benchmark (it reports, it does not fail): how much of every
# version's decision points libFuzzer reaches from nothing (one zero byte and
# the dictionary, no seeds) in a fixed time, with cargo-fuzz's default build,
# with --no-trace-compares, and with that and SanitizerCoverage on function
# entries instead of edges, one run per libFuzzer -seed.
#
# Without trace-compares an input runs about twice as fast (no
# SanitizerCoverage comparison callbacks), while libFuzzer loses the
# comparison operands it would otherwise splice into inputs; the dictionary
# (corpus/rseq.dict) supplies the ABI's magic values. This measures which
# matters more for these targets. With function entries libFuzzer sees far
# fewer features an input (the decision map is the same in every build), so
# it keeps fewer inputs and the map's kernel-level novelty weighs more.
#
# Usage: benches/exploration.sh [--secs N] [--seeds "1 2"] [--builds "B ..."] [--parallel] [TARGET]
#   TARGET defaults to differential; --secs defaults to 120.
#   --builds  which of default, no-trace-compares, function-entries (all three
#             by default)
#   --parallel  run the builds of one -seed at the same time, one process
#             each (on a machine with a core for each: they then share its
#             load alike, and a long comparison takes a third of the time)
set -euo pipefail

secs=120
seeds="1 2"
builds="default no-trace-compares function-entries"
parallel=0
target=differential
usage="usage: $0 [--secs N] [--seeds \"1 2\"] [--builds \"B ...\"] [--parallel] [TARGET]"
while [ $# -gt 0 ]; do
  case "$1" in
    --secs) secs="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --builds) builds="$2"; shift 2 ;;
    --parallel) parallel=1; shift ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) target="$1"; shift ;;
  esac
done
for build in $builds; do
  case "$build" in
    default | no-trace-compares | function-entries) ;;
    *) echo "unknown build '$build' (default, no-trace-compares, function-entries)" >&2; exit 2 ;;
  esac
done

# shellcheck source=benches/common.sh
. "$(dirname "$0")/common.sh"

echo "== building (cargo fuzz build -s none -O: default, --no-trace-compares, function entries; cargo build --release)" >&2
build_fuzz_targets "$target"
build_function_entry_targets "$target"
cargo build --release >&2

mode="one run at a time"
[ "$parallel" = 1 ] && mode="the builds of a -seed side by side"
echo "Exploration from one zero byte, $target, ${secs} s a run, $mode, $(date -u +%Y-%m-%d), $(nproc) cores"
echo
echo "| build | -seed | inputs run | decision points reached (of all versions') | per version |"
echo "|---|---:|---:|---:|---|"
# explore BUILD SEED: one libFuzzer run from one zero byte, into its own
# directory under $scratch.
explore() {
  local build="$1" seed="$2" bin corpus
  bin="$(bin_of "$build")/$target"
  corpus="$scratch/$build-$seed"
  mkdir -p "$corpus"
  printf '\0' > "$corpus/zero"
  echo "== $build, -seed=$seed (${secs} s)" >&2
  "$bin" -seed="$seed" -max_total_time="$secs" -dict=corpus/rseq.dict \
    -print_final_stats=1 -artifact_prefix="$scratch/" "$corpus" > "$scratch/$build-$seed.log" 2>&1 || {
      echo "libFuzzer run failed (a finding?); log:" >&2; tail -20 "$scratch/$build-$seed.log" >&2; return 1; }
}

# report BUILD SEED: the table row of a finished run.
report() {
  local build="$1" seed="$2" execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$build-$seed.log")
  target/release/rseq-fuzz coverage --target "$target" "$scratch/$build-$seed" 2>&1 \
    | awk -v b="$build" -v s="$seed" -v e="$execs" '
        /^v[0-9]/ { r += $2; t += $3; per = per sep $1 " " $2 "/" $3; sep = ", " }
        END { printf "| %s | %s | %s | %d/%d | %s |\n", b, s, e, r, t, per }'
}

for seed in $seeds; do
  if [ "$parallel" = 1 ]; then
    pids=()
    for build in $builds; do
      explore "$build" "$seed" &
      pids+=("$!")
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
  else
    for build in $builds; do explore "$build" "$seed"; done
  fi
  for build in $builds; do report "$build" "$seed"; done
done
