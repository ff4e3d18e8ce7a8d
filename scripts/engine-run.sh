#!/usr/bin/env bash
# Run one target on one engine from its seed corpus, for a bounded time, in a
# scratch directory (corpus/ is read, never written), and say whether the
# engine found anything.
#
# Usage: scripts/engine-run.sh ENGINE TARGET SECONDS [--canary] [--expect-finding] [--keep DIR]
#   ENGINE    libfuzzer | afl | honggfuzz | embedded
#   --canary  build with the test-only `canary` feature (the broken model)
#   --expect-finding
#             succeed only if the engine finds something (canary check), and
#             stop at the first finding; without it, succeed only if nothing
#             is found (smoke run)
#   --keep DIR
#             use DIR as the scratch directory and keep it
# Prints one line: "ENGINE TARGET: found|nothing after N s (execs ...)".
# Exit: 0 as expected, 1 otherwise, 2 usage.
#
# Builds what it needs, incrementally: cargo fuzz build -s none (stable),
# cargo afl build --release, cargo hfuzz build, cargo build --release.
set -euo pipefail

usage() { sed -n '2,20p' "$0" >&2; exit 2; }
[ $# -ge 3 ] || usage
engine="$1" target="$2" secs="$3"; shift 3
canary=0 expect=0 keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --canary) canary=1; shift ;;
    --expect-finding) expect=1; shift ;;
    --keep) keep="$2"; shift 2 ;;
    *) usage ;;
  esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seeds="$root/corpus/$target"
dict="$root/corpus/rseq.dict"
if [ -n "$keep" ]; then
  work="$keep"; rm -rf "$work"; mkdir -p "$work"
else
  work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
fi
work="$(cd "$work" && pwd)"
features=()
[ "$canary" = 1 ] && features=(--features canary)

# A seed directory that exists and is not empty (AFL++ refuses an empty one).
seed_copy() {
  local dst="$1"
  mkdir -p "$dst"
  if [ -d "$seeds" ] && [ -n "$(ls -A "$seeds" 2>/dev/null)" ]; then
    cp -r "$seeds/." "$dst/"
  else
    printf '\0' > "$dst/empty-seed"
  fi
}

# Build first, so that the time below is the engine's.
build() { "$@" > "$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; exit 1; }; }
case "$engine" in
  libfuzzer) build bash -c "cd fuzz && cargo fuzz build -s none ${features[*]} $target" ;;
  afl) build bash -c "cd fuzz-afl && cargo afl build --release ${features[*]}" ;;
  honggfuzz) build bash -c "cd fuzz-hfuzz && HFUZZ_BUILD_ARGS='${features[*]}' cargo hfuzz build" ;;
  embedded) build cargo build --release "${features[@]}" ;;
esac

start=$(date +%s)
found=0
info=""
case "$engine" in
  libfuzzer)
    mkdir -p "$work/corpus" "$work/artifacts"
    dirs=("$work/corpus")
    [ -d "$seeds" ] && dirs+=("$seeds")
    set +e
    (cd fuzz && cargo fuzz run -s none "${features[@]}" "$target" "${dirs[@]}" -- \
        -max_total_time="$secs" -print_final_stats=1 -dict="$dict" \
        -artifact_prefix="$work/artifacts/") > "$work/log" 2>&1
    rc=$?
    set -e
    # slow-unit-* files are inputs that once ran over 10 s (or met a
    # stalled machine), not findings.
    if find "$work/artifacts" -type f ! -name 'slow-unit-*' | grep -q .; then found=1; fi
    if [ "$rc" != 0 ] && [ "$found" = 0 ]; then
      echo "libfuzzer $target: the run failed (rc $rc) without a finding:" >&2; tail -30 "$work/log" >&2; exit 1
    fi
    info="execs $(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)"
    ;;
  afl)
    seed_copy "$work/in"
    export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
    [ "$expect" = 1 ] && export AFL_BENCH_UNTIL_CRASH=1
    set +e
    (cd fuzz-afl && cargo afl fuzz -V "$secs" -i "$work/in" -o "$work/out" -x "$dict" \
        "target/release/$target") > "$work/log" 2>&1
    rc=$?
    set -e
    if ls "$work/out/default/crashes/" 2>/dev/null | grep -q '^id:'; then found=1; fi
    # A seed that already fails an oracle stops AFL++ before fuzzing.
    if grep -q "results in a crash" "$work/log"; then found=1; fi
    if [ "$rc" != 0 ] && [ "$found" = 0 ]; then
      echo "afl $target: the run failed (rc $rc):" >&2; tail -30 "$work/log" >&2; exit 1
    fi
    info="execs $(sed -n 's/^execs_done *: *//p' "$work/out/default/fuzzer_stats" 2>/dev/null || echo '?')"
    ;;
  honggfuzz)
    seed_copy "$work/in"
    hf_args="--run_time $secs --threads 1 -w $dict"
    [ "$expect" = 1 ] && hf_args+=" --exit_upon_crash"
    set +e
    (cd fuzz-hfuzz && HFUZZ_BUILD_ARGS="${features[*]}" HFUZZ_INPUT="$work/in" \
        HFUZZ_WORKSPACE="$work/ws" HFUZZ_RUN_ARGS="$hf_args" \
        cargo hfuzz run "$target") > "$work/log" 2>&1
    rc=$?
    set -e
    if ls "$work/ws/$target/" 2>/dev/null | grep -q '\.fuzz$'; then found=1; fi
    if [ "$rc" != 0 ] && [ "$found" = 0 ]; then
      echo "honggfuzz $target: the run failed (rc $rc):" >&2; tail -30 "$work/log" >&2; exit 1
    fi
    info="execs $(sed -n 's/.*Summary iterations:\([0-9]*\).*/\1/p' "$work/log" | tail -1)"
    ;;
  embedded)
    set +e
    target/release/rseq-fuzz fuzz --json --target "$target" --time "$secs" \
      --work "$work/work" --findings "$work/findings" > "$work/summary.json" 2> "$work/log"
    rc=$?
    set -e
    case "$rc" in
      0) ;;
      1) found=1 ;;
      *) echo "embedded $target: the run failed (rc $rc):" >&2; tail -30 "$work/log" >&2; exit 1 ;;
    esac
    info="execs $(grep -m1 '"executions"' "$work/summary.json" | tr -dc 0-9)"
    ;;
  *) usage ;;
esac
took=$(( $(date +%s) - start ))

# The inputs an engine saved as findings.
finding_files() {
  case "$engine" in
    libfuzzer) find "$work/artifacts" -type f ! -name 'slow-unit-*' ;;
    afl) find "$work/out/default/crashes" -type f -name 'id:*' 2>/dev/null ;;
    honggfuzz) find "$work/ws/$target" -maxdepth 1 -type f -name '*.fuzz' ;;
    embedded) find "$work/findings" -type f ! -name '*.txt' ! -name '*.json' ! -name 'slow-unit-*' 2>/dev/null ;;
  esac | sort | head -3
}

if [ "$found" = 1 ]; then
  echo "$engine $target: found after ${took} s ($info)"
  if [ "$expect" = 0 ]; then
    echo "--- log tail ($work/log):" >&2; tail -20 "$work/log" >&2
    # The scratch directory goes when this script ends: print each finding's
    # oracle verdict and the input itself, so that the log reproduces it
    # (base64 -d > f; rseq-fuzz explain --target T f).
    for f in $(finding_files); do
      echo "--- finding $(basename "$f"), base64:" >&2; base64 -w0 "$f" >&2; echo >&2
      cargo run -q --release "${features[@]}" -- run --target "$target" "$f" 2>&1 | grep -E '^ *FINDING' | head -3 >&2 || true
    done
    exit 1
  fi
else
  echo "$engine $target: nothing after ${took} s ($info)"
  [ "$expect" = 1 ] && exit 1
fi
exit 0
