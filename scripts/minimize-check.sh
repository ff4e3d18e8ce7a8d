#!/usr/bin/env bash
# CI check of the minimization flows (docs/fuzzing.md, "Minimizing"):
#  1. cargo fuzz cmin and afl-cmin over corpus/<target> for every target: the
#     result is not empty, not larger, and replays without a finding;
#  2. afl-tmin on the largest input of each target (path-preserving mode):
#     the result is not larger and fails no oracle;
#  3. a finding: the canary build's libFuzzer finds the broken model from the
#     seed corpus, then cargo fuzz tmin and afl-tmin minimize that finding and
#     the result fails the same oracle (scripts/tmin.sh refuses otherwise).
# Everything is written under a scratch directory; corpus/ is only read.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
targets=(cs_analysis exit_to_user registration differential)
triple="$(rustc -vV | sed -n 's/^host: //p')"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
count() { find "$1" -type f | wc -l; }

(cd fuzz && cargo fuzz build -s none) > "$scratch/build.log" 2>&1 || { tail -30 "$scratch/build.log" >&2; exit 1; }
for t in "${targets[@]}"; do
  [ -d "corpus/$t" ] && [ -n "$(ls -A "corpus/$t")" ] || { echo "skip $t: corpus/$t is empty"; continue; }
  for engine in libfuzzer afl; do
    out="$scratch/cmin-$engine-$t"
    scripts/cmin.sh "$engine" "$t" "$out"
    n=$(count "$out"); m=$(count "corpus/$t")
    [ "$n" -ge 1 ] && [ "$n" -le "$m" ] || { echo "cmin $engine $t: $m -> $n files" >&2; exit 1; }
    "fuzz/target/$triple/release/$t" -runs=0 "$out" > "$scratch/replay.log" 2>&1 || {
      echo "cmin $engine $t: the minimized corpus fails on replay" >&2; tail -20 "$scratch/replay.log" >&2; exit 1; }
  done
  largest="$(find "corpus/$t" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-)"
  scripts/tmin.sh afl "$t" "$largest" "$scratch/tmin-afl-$t"
  [ "$(stat -c %s "$scratch/tmin-afl-$t")" -le "$(stat -c %s "$largest")" ]
done

# A finding, minimized by each engine's tool, keeps its oracle failure.
scripts/engine-run.sh libfuzzer cs_analysis 120 --canary --expect-finding --keep "$scratch/canary"
crash="$(find "$scratch/canary/artifacts" -type f -name 'crash-*' | head -1)"
[ -n "$crash" ] || { echo "the canary run left no crash file" >&2; exit 1; }
scripts/tmin.sh libfuzzer cs_analysis "$crash" "$scratch/tmin-lf-canary" --canary
scripts/tmin.sh afl cs_analysis "$crash" "$scratch/tmin-afl-canary" --canary
# Leave the non-canary builds in place for whatever runs next.
(cd fuzz && cargo fuzz build -s none cs_analysis) > /dev/null 2>&1
(cd fuzz-afl && cargo afl build --release) > /dev/null 2>&1
echo "minimization flows: ok"
