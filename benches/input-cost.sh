#!/usr/bin/env bash
# What one input costs a target, in instructions (valgrind's callgrind),
# over inputs a fuzzer made and over the seed corpus. A benchmark, not a
# test: it reports and never fails on a figure.
#
# exec/s under libFuzzer (benches/fuzz-bench.sh) is what issue 5's goals are
# stated in, but on a 2-core machine it moves by a tenth from run to run,
# and it mixes the model's cost with libFuzzer's and with the lengths of the
# inputs libFuzzer happens to make. Instructions an input over a fixed set
# of inputs move by well under 1 %, so a change to the models, oracles or
# runner can be judged by them before the slow exec/s benchmark. The seeds
# are not enough: libFuzzer grows its inputs, and its inputs cost several
# times what the seeds do.
#
# The fuzzer-made set: libFuzzer in the campaign build
# (scripts/campaign-build.sh), -seed=1, a fixed number of runs, from
# corpus/TARGET with the dictionary; the new inputs it keeps, by name (a
# hash of the contents, so an arbitrary sample), the first --inputs of them.
# The set is not repeatable: it depends on the code's coverage, and two
# libFuzzer runs with the same -seed kept different inputs here (2026-12-02:
# 1,170 and 1,155 inputs, 288 of them in both; 94,137 and 88,041
# instructions an exit_to_user input). So compare two versions of the code
# on one saved set: --keep DIR saves it, --from DIR reuses it.
#
# Instructions an input are round 2 minus round 1 of examples/replay_target
# over the set, divided by its size, so that one-time set-up (the run
# tables, the first allocations) does not count.
#
# Usage: benches/input-cost.sh [--runs N] [--inputs K] [--keep DIR | --from DIR] [TARGET...]
#   TARGET      default: cs_analysis exit_to_user registration differential
#   --runs N    libFuzzer runs that make the set (default 300000)
#   --inputs K  inputs of the set to replay (default 300)
#   --keep DIR  save the made sets as DIR/TARGET
#   --from DIR  replay the sets saved in DIR/TARGET instead of making them
set -euo pipefail

runs=300000
inputs=300
keep=""
from=""
targets=()
usage="usage: $0 [--runs N] [--inputs K] [--keep DIR | --from DIR] [TARGET...]"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:-}"; shift 2 || shift ;;
    --inputs) inputs="${2:-}"; shift 2 || shift ;;
    --keep) keep="${2:-}"; shift 2 || shift ;;
    --from) from="${2:-}"; shift 2 || shift ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(cs_analysis exit_to_user registration differential)
if [ -n "$keep" ] && [ -n "$from" ]; then echo "$usage" >&2; exit 2; fi
for n in "$runs" "$inputs"; do
  case "$n" in ''|*[!0-9]*) echo "$usage" >&2; exit 2 ;; esac
done
command -v valgrind > /dev/null || {
  echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
if [ -n "$from" ] && [ ! -d "$from" ]; then echo "no saved sets in $from" >&2; exit 2; fi
keep="${keep:+$(mkdir -p "$keep" && cd "$keep" && pwd)}"
from="${from:+$(cd "$from" && pwd)}"

# shellcheck source=benches/common.sh
. "$(dirname "$0")/common.sh"

cargo build --release --example replay_target >&2
replay=target/release/examples/replay_target

# instructions TARGET FILE... -> instructions an input (round 2 minus round 1)
instructions() {
  local t="$1"; shift
  local one two
  one=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$replay" "$t" 1 "$@" 2>&1 \
    | sed -n 's/.*Collected : *//p')
  two=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$replay" "$t" 2 "$@" 2>&1 \
    | sed -n 's/.*Collected : *//p')
  echo $(( (two - one) / $# ))
}

# replay_figures TARGET FILE... -> "us_per_input allocations_per_input"
replay_figures() {
  local t="$1"; shift
  "$replay" "$t" 10 "$@" | sed -E 's/.* ([0-9.]+) us\/input, ([0-9]+) allocations\/input/\1 \2/'
}

for t in "${targets[@]}"; do
  [ -d "corpus/$t" ] || { echo "no corpus/$t: unknown target '$t'" >&2; exit 2; }
done

echo "| target | inputs | set | bytes an input | instructions an input | us an input (replay, 10 rounds) | allocations an input |"
echo "|---|---:|---|---:|---:|---:|---:|"
for t in "${targets[@]}"; do
  if [ -n "$from" ]; then
    set_dir="$from/$t"
    [ -d "$set_dir" ] || { echo "no saved set $set_dir" >&2; exit 2; }
  else
    campaign_cargo_fuzz build "$t" >&2
    set_dir="${keep:-$scratch}/$t"
    rm -rf "$set_dir"; mkdir -p "$set_dir"
    echo "== $t: making the set (libFuzzer -seed=1 -runs=$runs)" >&2
    "$bin_functions/$t" -seed=1 -runs="$runs" -dict=corpus/rseq.dict \
      -artifact_prefix="$scratch/" "$set_dir" "corpus/$t" > "$scratch/$t-make.log" 2>&1 || {
        echo "libFuzzer failed making the set; log:" >&2; tail -20 "$scratch/$t-make.log" >&2; exit 1; }
  fi
  for set in fuzzer-made seeds; do
    if [ "$set" = seeds ]; then dir="corpus/$t"; else dir="$set_dir"; fi
    mapfile -t files < <(find "$dir" -maxdepth 1 -type f | LC_ALL=C sort | head -n "$inputs")
    [ ${#files[@]} -gt 0 ] || { echo "$dir holds no input" >&2; exit 1; }
    bytes=$(cat "${files[@]}" | wc -c)
    read -r us allocs < <(replay_figures "$t" "${files[@]}")
    echo "| $t | ${#files[@]} | $set | $(( bytes / ${#files[@]} )) | $(instructions "$t" "${files[@]}") | $us | $allocs |"
  done
done
