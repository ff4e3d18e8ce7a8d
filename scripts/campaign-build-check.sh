#!/usr/bin/env bash
# The README's libFuzzer campaign build, checked as CI's smoke runs check
# cargo-fuzz's default build (which is the one they use):
#
#  1. It builds with the README's command (scripts/campaign-build.sh: -O,
#     --no-trace-compares, RUSTFLAGS asking SanitizerCoverage for function
#     entries, its own target dir), the build benches/fuzz-bench.sh measures.
#  2. The RUSTFLAGS took effect. cargo-fuzz appends them after its own
#     flags and LLVM takes the last value; were either to change, the build
#     would quietly count edges again. Over corpus/exit_to_user libFuzzer's
#     `cov:` is about 240 in this build and about 2,800 in the default one
#     (2026-12-02); the check asks for less than a quarter.
#  3. Each target runs SECS seconds from corpus/<target> with the
#     dictionary and finds nothing.
#
# Usage: scripts/campaign-build-check.sh [SECS]   (default 5; from anywhere)
set -euo pipefail
secs="${1:-5}"
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# shellcheck source=scripts/campaign-build.sh
. scripts/campaign-build.sh

# cov_over_corpus BUILD: libFuzzer's coverage count after reading
# corpus/exit_to_user, running nothing else (-runs=0).
cov_over_corpus() {
  local dir="$work/cov-$1" log="$work/cov-$1.log"
  mkdir -p "$dir"
  if [ "$1" = campaign ]; then
    campaign_cargo_fuzz run exit_to_user "$dir" corpus/exit_to_user -- -runs=0 > "$log" 2>&1
  else
    cargo fuzz run -s none exit_to_user "$dir" corpus/exit_to_user -- -runs=0 > "$log" 2>&1
  fi || { echo "the $1 build of exit_to_user failed; log:" >&2; tail -20 "$log" >&2; return 1; }
  sed -n 's/.*INITED cov: \([0-9]*\).*/\1/p' "$log" | tail -1
}

campaign_cov="$(cov_over_corpus campaign)"
default_cov="$(cov_over_corpus default)"
if [ -z "$campaign_cov" ] || [ -z "$default_cov" ]; then
  echo "no 'INITED cov:' line from libFuzzer" >&2
  exit 1
fi
echo "coverage over corpus/exit_to_user: campaign build $campaign_cov, default build $default_cov"
if [ $((campaign_cov * 4)) -ge "$default_cov" ]; then
  echo "the campaign build counts about as much as the default build: the function-entry RUSTFLAGS did not take effect" >&2
  exit 1
fi

for target in cs_analysis exit_to_user registration differential; do
  mkdir -p "$work/$target"
  log="$work/$target.log"
  if ! campaign_cargo_fuzz run "$target" "$work/$target" "corpus/$target" -- \
      -max_total_time="$secs" -dict=corpus/rseq.dict -print_final_stats=1 \
      -artifact_prefix="$work/" > "$log" 2>&1; then
    echo "campaign build, $target: libFuzzer stopped (a finding?); log:" >&2
    tail -30 "$log" >&2
    exit 1
  fi
  echo "campaign build, $target: $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") inputs in $secs s, nothing found"
done
