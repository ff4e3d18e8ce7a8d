#!/usr/bin/env bash
# Exploration benchmark (it reports, it does not fail): how much of every
# version's decision points libFuzzer reaches from nothing (one zero byte and
# the dictionary, no seeds; or, with --from-seeds, from the seed corpus) in a
# fixed time, with cargo-fuzz's default build,
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
#   --max-lens "default 128 64"  one run per libFuzzer -max_len as well
#             ("default": none given, libFuzzer's own length control); each
#             row then gives its exec/s too. Capping the length buys exec/s
#             with shorter scenarios: this shows what it costs in decision
#             points (docs/fuzzing.md, "Input length: not capped").
#   --from-seeds  start from a copy of corpus/TARGET, as the README's
#             campaign commands do, instead of from one zero byte (the
#             seeds' own decision points are then counted too, and shown
#             in a row of their own)
set -euo pipefail

secs=120
seeds="1 2"
builds="default no-trace-compares function-entries"
parallel=0
max_lens=default
from_seeds=0
target=differential
usage="usage: $0 [--secs N] [--seeds \"1 2\"] [--builds \"B ...\"] [--max-lens \"L ...\"] [--from-seeds] [--parallel] [TARGET]"
while [ $# -gt 0 ]; do
  case "$1" in
    --secs) secs="${2:-}"; shift 2 || shift ;;
    --seeds) seeds="${2:-}"; shift 2 || shift ;;
    --builds) builds="${2:-}"; shift 2 || shift ;;
    --max-lens) max_lens="${2:-}"; shift 2 || shift ;;
    --from-seeds) from_seeds=1; shift ;;
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
case "$secs" in ''|*[!0-9]*) echo "$usage" >&2; exit 2 ;; esac
for seed in $seeds; do
  case "$seed" in *[!0-9]*) echo "--seeds: '$seed' is not a number" >&2; exit 2 ;; esac
done
for len in $max_lens; do
  case "$len" in
    default) ;;
    ''|*[!0-9]*|0) echo "--max-lens: '$len' is not 'default' or a positive number" >&2; exit 2 ;;
  esac
done
[ -n "$seeds" ] && [ -n "$builds" ] && [ -n "$max_lens" ] || { echo "$usage" >&2; exit 2; }
if [ "$from_seeds" = 1 ] && [ ! -d "corpus/$target" ]; then
  echo "no seed corpus corpus/$target" >&2; exit 2
fi

# shellcheck source=benches/common.sh
. "$(dirname "$0")/common.sh"

echo "== building (cargo fuzz build -s none -O: default, --no-trace-compares, function entries; cargo build --release)" >&2
build_fuzz_targets "$target"
build_function_entry_targets "$target"
cargo build --release >&2

mode="one run at a time"
[ "$parallel" = 1 ] && mode="the builds of a -seed side by side"
start="one zero byte"
[ "$from_seeds" = 1 ] && start="corpus/$target"
echo "Exploration from $start, $target, ${secs} s a run, $mode, $(date -u +%Y-%m-%d), $(nproc) cores"
echo
echo "| build | -max_len | -seed | inputs run | exec/s | decision points reached (of all versions') | per version |"
echo "|---|---:|---:|---:|---:|---:|---|"

# coverage_row BUILD LEN SEED EXECS RATE DIR: a table row for the decision
# points the inputs in DIR reach.
coverage_row() {
  target/release/rseq-fuzz coverage --target "$target" "$6" 2>&1 \
    | awk -v b="$1" -v l="$2" -v s="$3" -v e="$4" -v x="$5" '
        /^v[0-9]/ { r += $2; t += $3; per = per sep $1 " " $2 "/" $3; sep = ", " }
        END { printf "| %s | %s | %s | %s | %s | %d/%d | %s |\n", b, l, s, e, x, r, t, per }'
}

if [ "$from_seeds" = 1 ]; then
  coverage_row "(the seeds alone)" - - - - "corpus/$target"
fi

# explore BUILD LEN SEED: one libFuzzer run, into its own directory under
# $scratch, from one zero byte or from a copy of the seeds.
explore() {
  local build="$1" len="$2" seed="$3" bin corpus cap=()
  bin="$(bin_of "$build")/$target"
  corpus="$scratch/$build-$len-$seed"
  mkdir -p "$corpus"
  if [ "$from_seeds" = 1 ]; then
    cp corpus/"$target"/* "$corpus"/
  else
    printf '\0' > "$corpus/zero"
  fi
  [ "$len" = default ] || cap=(-max_len="$len")
  echo "== $build, -max_len=$len, -seed=$seed (${secs} s)" >&2
  "$bin" -seed="$seed" -max_total_time="$secs" -dict=corpus/rseq.dict "${cap[@]}" \
    -print_final_stats=1 -artifact_prefix="$scratch/" "$corpus" > "$corpus.log" 2>&1 || {
      echo "libFuzzer run failed (a finding?); log:" >&2; tail -20 "$corpus.log" >&2; return 1; }
}

# report BUILD LEN SEED: the table row of a finished run.
report() {
  local run="$scratch/$1-$2-$3" execs rate
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$run.log")
  coverage_row "$1" "$2" "$3" "$execs" "$rate" "$run"
}

for seed in $seeds; do
  for len in $max_lens; do
    if [ "$parallel" = 1 ]; then
      pids=()
      for build in $builds; do
        explore "$build" "$len" "$seed" &
        pids+=("$!")
      done
      for pid in "${pids[@]}"; do wait "$pid"; done
    else
      for build in $builds; do explore "$build" "$len" "$seed"; done
    fi
    for build in $builds; do report "$build" "$len" "$seed"; done
  done
done
