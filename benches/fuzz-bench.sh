#!/usr/bin/env bash
# Fuzzing benchmarks (not timed tests: they report, they do not fail unless
# --check is given).
#
#  1. Each target's exec/s under libFuzzer (cargo fuzz, -s none, release),
#     next to an empty target built and run by this same script, as a ratio,
#     in three builds (benches/common.sh), each target against the empty
#     target of its own build: cargo-fuzz's default; --no-trace-compares;
#     and that with SanitizerCoverage on function entries instead of edges.
#     The goals are checked in the build the README's campaign commands use
#     ($campaign_build below).
#  2. Peak RSS of each run (libFuzzer's stat::peak_rss_mb).
#  3. The embedded engine's exec/s (`rseq-fuzz fuzz --target T`, release).
#  4. Three baselines that check nothing (rseq_fuzz::targets::baseline):
#     the library linked in and nothing run (libFuzzer's own cost per input
#     once the library's coverage counters are in the binary: it clears and
#     scans all of them on every input, a few thousand with edges, a few
#     hundred with function entries), decoding a cs_analysis input alone,
#     and decoding plus one model run. They bound what any target of this
#     library, and what cs_analysis's design, can reach.
#
# Goals (issue 5 §6): cs_analysis >= 40% of the empty target, the multi-step
# targets >= 10%, peak RSS <= 64 MB.
#
# Usage: benches/fuzz-bench.sh [--secs N] [--rounds R] [--check] [--out FILE]
#   --secs N   seconds per run (default 10; BENCH_SECS also works)
#   --rounds R measure each libFuzzer figure R times, each time right after
#              a run of its build's empty target, and report the medians
#              (default 1: one run, against one empty-target run a build).
#              On a 2-core machine the empty target's rate moved by a
#              quarter within an hour (1.25 M and 1.60 M exec/s, 2026-12-02),
#              more than a change of a few percent moves a target, so a
#              figure is best taken against an empty run made just before.
#   --check    exit 1 when a goal is missed
#   --out FILE also write the markdown table to FILE
# Runs from the repository root; reads corpus/<target> (copied, never written).
set -euo pipefail

secs="${BENCH_SECS:-10}"
rounds=1
check=0
out=""
usage="usage: $0 [--secs N] [--rounds R] [--check] [--out FILE]"
while [ $# -gt 0 ]; do
  case "$1" in
    --secs) secs="${2:-}"; shift 2 || shift ;;
    --rounds) rounds="${2:-}"; shift 2 || shift ;;
    --check) check=1; shift ;;
    --out) out="${2:-}"; shift 2 || shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
case "$secs$rounds" in
  *[!0-9]*) echo "$usage" >&2; exit 2 ;;
esac
if [ -z "$secs" ] || [ -z "$rounds" ] || [ "$secs" -lt 1 ] || [ "$rounds" -lt 1 ]; then
  echo "$usage" >&2; exit 2
fi

# shellcheck source=benches/common.sh
. "$(dirname "$0")/common.sh"

targets=(cs_analysis exit_to_user registration differential)
multi_goal=10
cs_goal=40
rss_goal=64

echo "== building (cargo fuzz build -s none -O: default, --no-trace-compares, function entries; cargo build --release)" >&2
t0=$(date +%s)
build_fuzz_targets
build_function_entry_targets
t1=$(date +%s)
cargo build --release >&2
t2=$(date +%s)
echo "build: cargo-fuzz $((t1 - t0)) s, release binary $((t2 - t1)) s (incremental if cached)" >&2

# The build the README's campaign commands use: the goals are checked there.
campaign_build=function-entries

# run_lf NAME CORPUS -> prints "execs exec_per_sec rss_mb" (binary from $bin)
run_lf() {
  local name="$1" seeds="$2" work; work="$(mktemp -d "$scratch/lf-$1-XXXX")"
  mkdir -p "$work"
  local dirs=("$work")
  if [ -n "$seeds" ] && [ -d "$seeds" ]; then dirs+=("$seeds"); fi
  "$bin/$name" -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$scratch/" "${dirs[@]}" > "$scratch/$name.log" 2>&1 || {
      echo "libFuzzer run of $name failed; log:" >&2; tail -20 "$scratch/$name.log" >&2; return 1; }
  local e r m
  e=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$name.log")
  r=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$scratch/$name.log")
  m=$(sed -n 's/^stat::peak_rss_mb: *//p' "$scratch/$name.log")
  echo "$e $r $m"
}

# run_embedded NAME -> prints "exec_per_sec rss_mb"
run_embedded() {
  local name="$1"
  target/release/rseq-fuzz fuzz --json --target "$name" --time "$secs" \
    --work "$scratch/emb" --findings "$scratch/emb-findings" > "$scratch/emb-$name.json" \
    2> "$scratch/emb-$name.log" || {
      echo "embedded run of $name failed:" >&2; tail -20 "$scratch/emb-$name.log" >&2; return 1; }
  python3 - "$scratch/emb-$name.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["targets"][0]
print(d["exec_per_sec"], d["peak_rss_mb"])
PY
}

# Every libFuzzer figure comes from each of the three builds, each against
# the empty target of its own build.
builds=(default no-trace-compares function-entries)
declare -A empty_rate
empty_rss=0
for b in "${builds[@]}"; do
  echo "== libFuzzer, $b build: empty target (${secs} s)" >&2
  bin="$(bin_of "$b")"
  read -r _ rate rss < <(run_lf bench_empty "")
  [ "${rate:-0}" -gt 0 ] || { echo "empty target ran no input ($b build)" >&2; exit 1; }
  empty_rate[$b]=$rate
  if [ "$b" = default ]; then empty_rss=$rss; fi
done

# median FORMAT VALUE... -> the median, printed with awk's FORMAT
median() {
  local format="$1"; shift
  printf '%s\n' "$@" | sort -g | awk -v f="$format" '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf f "\n", m }'
}

# cells NAME CORPUS -> sets $cells (one "exec/s (pct%)" column a build),
# $pct_of_campaign (the campaign build's percentage) and $max_rss. With
# --rounds above 1, each build's figure is the median of that many runs,
# each against an empty-target run made just before it.
cells() {
  local name="$1" seeds="$2" b rate rss pct r empty
  local -a rates pcts
  cells="" max_rss=0
  for b in "${builds[@]}"; do
    bin="$(bin_of "$b")"
    rates=() pcts=()
    for ((r = 1; r <= rounds; r++)); do
      empty="${empty_rate[$b]}"
      if [ "$rounds" -gt 1 ]; then
        echo "== $name: round $r of $rounds, empty target, $b build (${secs} s)" >&2
        read -r _ empty _ < <(run_lf bench_empty "")
        [ "${empty:-0}" -gt 0 ] || { echo "empty target ran no input ($b build)" >&2; exit 1; }
      fi
      echo "== $name: libFuzzer, $b build (${secs} s)" >&2
      read -r _ rate rss < <(run_lf "$name" "$seeds")
      rates+=("$rate")
      # Two decimals: most targets are far below 1 % of libFuzzer's own rate.
      pcts+=("$(awk -v r="$rate" -v e="$empty" 'BEGIN { printf "%.2f", r * 100 / e }')")
      if [ "$rss" -gt "$max_rss" ]; then max_rss=$rss; fi
    done
    rate=$(median "%d" "${rates[@]}")
    pct=$(median "%.2f" "${pcts[@]}")
    cells+=" $rate (${pct}%) |"
    if [ "$b" = "$campaign_build" ]; then pct_of_campaign=$pct; fi
  done
}

fail=0
table="| target | default build exec/s (% of its empty) | --no-trace-compares | function entries | goal | peak RSS MB | embedded exec/s | embedded RSS MB |
|---|---:|---:|---:|---:|---:|---:|---:|
| (empty target) | ${empty_rate[default]} (100%) | ${empty_rate[no-trace-compares]} (100%) | ${empty_rate[function-entries]} (100%) | | $empty_rss | | |"
for b in bench_linked_noop bench_cs_decode bench_cs_one_run; do
  cells "$b" "corpus/cs_analysis"
  case "$b" in
    bench_linked_noop) what="(baseline) library linked, nothing run" ;;
    bench_cs_decode) what="(baseline) cs_analysis input decoded, nothing run" ;;
    *) what="(baseline) decoded, plus one version's run, no oracle" ;;
  esac
  table+="
| $what |$cells | $max_rss | | |"
done
for t in "${targets[@]}"; do
  cells "$t" "corpus/$t"
  echo "== $t: embedded engine (${secs} s)" >&2
  read -r erate erss < <(run_embedded "$t")
  goal=$multi_goal; [ "$t" = cs_analysis ] && goal=$cs_goal
  mark=""
  if awk -v p="$pct_of_campaign" -v g="$goal" 'BEGIN { exit !(p < g) }' \
      || [ "$max_rss" -gt "$rss_goal" ] || [ "$erss" -gt "$rss_goal" ]; then
    mark=" (missed)"; fail=1
  fi
  table+="
| $t |$cells ≥${goal}%$mark | $max_rss | $erate | $erss |"
done

how="${secs} s per run"
if [ "$rounds" -gt 1 ]; then
  how+=", medians of $rounds runs, each against an empty-target run just before it (the empty row is one run)"
fi
echo
echo "Fuzzing benchmarks, $(date -u +%Y-%m-%d), $how, $(nproc) cores, rustc $(rustc -V | cut -d' ' -f2)"
echo
echo "$table"
echo
echo "Goals: cs_analysis ≥ ${cs_goal}% of the empty target, multi-step ≥ ${multi_goal}%, in the $campaign_build build (the campaign commands'); peak RSS ≤ ${rss_goal} MB."
if [ -n "$out" ]; then
  { echo "Fuzzing benchmarks, $(date -u +%Y-%m-%d), $how"; echo; echo "$table"; } > "$out"
fi
if [ "$check" = 1 ] && [ "$fail" = 1 ]; then
  echo "a goal was missed" >&2
  exit 1
fi
