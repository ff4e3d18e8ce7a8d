#!/usr/bin/env bash
# Corpus minimization with an engine's own tool: keep a smallest set of inputs
# of corpus/<target> that preserves that engine's edge coverage.
#
# Usage: scripts/cmin.sh ENGINE TARGET [OUT]
#   ENGINE  libfuzzer (cargo fuzz cmin) | afl (afl-cmin.bash of cargo-afl's AFL++)
#   OUT     output directory (default: target/cmin/<engine>/<target>); it is
#           replaced. corpus/<target> is never written: review OUT, then copy
#           it over corpus/<target> yourself if you want it.
# Prints "ENGINE TARGET: N files, B bytes -> M files, C bytes".
#
# Edge coverage is one build's view; `rseq-fuzz corpus minimize` keeps the
# decision coverage of every kernel version instead (docs/fuzzing.md).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
engine="$1" target="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="${3:-target/cmin/$engine/$target}"
seeds="corpus/$target"
[ -d "$seeds" ] || { echo "no $seeds" >&2; exit 1; }
rm -rf "$out"; mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

count() { find "$1" -type f | wc -l; }
bytes() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}'; }

case "$engine" in
  libfuzzer)
    # cargo fuzz cmin minimizes a directory in place: give it a copy.
    cp -r "$seeds" "$out"
    (cd fuzz && cargo fuzz cmin -s none "$target" "$out") > "$out.log" 2>&1 || {
      tail -30 "$out.log" >&2; exit 1; }
    ;;
  afl)
    (cd fuzz-afl && cargo afl build --release) > "$out.log" 2>&1 || { tail -30 "$out.log" >&2; exit 1; }
    # afl-cmin.bash, from the AFL++ that cargo-afl built: AFL++ 4.40c's
    # default afl-cmin (the Python rewrite that `cargo afl cmin` runs) records
    # no tuples for afl.rs binaries here and keeps nothing.
    afl_bin="$(ls -d "${XDG_DATA_HOME:-$HOME/.local/share}"/afl.rs/rustc-"$(rustc -V | awk '{print $2}')"-*/afl.rs-*/afl/bin | tail -1)"
    [ -x "$afl_bin/afl-cmin.bash" ] || { echo "no AFL++ (cargo afl config --build)" >&2; exit 1; }
    AFL_NO_AFFINITY=1 PATH="$afl_bin:$PATH" "$afl_bin/afl-cmin.bash" -i "$seeds" -o "$out" \
      -- "fuzz-afl/target/release/$target" >> "$out.log" 2>&1 || { tail -30 "$out.log" >&2; exit 1; }
    ;;
  *) echo "unknown engine $engine (libfuzzer | afl)" >&2; exit 2 ;;
esac
echo "$engine $target: $(count "$seeds") files, $(bytes "$seeds") bytes -> $(count "$out") files, $(bytes "$out") bytes ($out)"
