#!/usr/bin/env bash
# Test-case minimization with an engine's own tool.
#
# Usage: scripts/tmin.sh ENGINE TARGET INPUT [OUT] [--canary]
#   ENGINE  libfuzzer (cargo fuzz tmin) | afl (cargo afl tmin, i.e. afl-tmin)
#   INPUT   a finding (crash-*, a crashes/id:* file, a *.fuzz file) or any
#           corpus input; OUT defaults to INPUT.min
#   --canary  build with the test-only canary feature (for its findings)
#
# A finding is minimized as a crash, and the result must fail the SAME oracle
# ("oracle <name> failed:") as INPUT, not just any: the script replays both
# and refuses (exit 1, OUT removed) when the oracle changed. A non-crashing
# input is minimized by afl-tmin keeping its execution path (libFuzzer's tmin
# only minimizes crashes).
set -euo pipefail
args=() canary=()
for a in "$@"; do
  if [ "$a" = --canary ]; then canary=(--features canary); else args+=("$a"); fi
done
[ ${#args[@]} -ge 3 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
engine="${args[0]}" target="${args[1]}" input="${args[2]}"
out="${args[3]:-$input.min}"
root="$(cd "$(dirname "$0")/.." && pwd)"
input="$(cd "$(dirname "$input")" && pwd)/$(basename "$input")"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
cd "$root"
triple="$(rustc -vV | sed -n 's/^host: //p')"
lf="fuzz/target/$triple/release/$target"
log="$out.log"

(cd fuzz && cargo fuzz build -s none "${canary[@]}" "$target") > "$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }

# The oracle an input fails ("oracle <name> failed"), or "none".
oracle_of() {
  local o
  o=$("$lf" -runs=1 "$1" 2>&1 | grep -o -m1 'oracle [A-Za-z0-9_.-]* failed' || true)
  echo "${o:-none}"
}
before="$(oracle_of "$input")"

case "$engine" in
  libfuzzer)
    [ "$before" != none ] || { echo "$input fails no oracle: cargo fuzz tmin minimizes crashes only (use afl)" >&2; exit 1; }
    (cd fuzz && cargo fuzz tmin -s none "${canary[@]}" -r 2000 "$target" "$input" \
        -- -exact_artifact_path="$out") >> "$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
    ;;
  afl)
    (cd fuzz-afl && cargo afl build --release "${canary[@]}") >> "$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
    AFL_NO_AFFINITY=1 cargo afl tmin -i "$input" -o "$out" -- "fuzz-afl/target/release/$target" \
      >> "$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
    ;;
  *) echo "unknown engine $engine (libfuzzer | afl)" >&2; exit 2 ;;
esac
[ -f "$out" ] || { echo "no minimized file written; log: $log" >&2; exit 1; }
after="$(oracle_of "$out")"
if [ "$after" != "$before" ]; then
  echo "$engine $target: minimizing changed the failure ($before -> $after); discarded" >&2
  rm -f "$out"
  exit 1
fi
if [ "$before" = none ]; then kept="no oracle failure, execution path kept"; else kept="same failure kept: $before"; fi
echo "$engine $target: $(stat -c %s "$input") -> $(stat -c %s "$out") bytes, $kept ($out)"
