#!/usr/bin/env bash
# Checks that failures of different oracles are different crashes to an
# engine that tells crashes apart by their stack.
#
# honggfuzz hashes the top seven frames of the aborting thread and keeps one
# input per hash. Under a plain panic hook those frames are all libc and std,
# so every oracle failure of a target was one crash and honggfuzz kept the
# first. rseq_fuzz::targets::separate_crashes_by_oracle() makes each oracle
# abort from a function of its own (rseq_fuzz::oracles::abort_<oracle>_oracle).
#
# The run: honggfuzz on cs_analysis from the seeds, with the canary model
# (which fails the security oracle) and RSEQ_FUZZ_STRICT=1 (registered
# divergences fail the differential oracle). It must keep at least two
# crashes, and each crash's top seven frames must name its oracle's abort
# function, with at least two different oracles among them.
#
# Usage: scripts/crash-identity-check.sh [SECONDS]   (default 20)
set -euo pipefail

secs="${1:-20}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin="$root/fuzz-hfuzz/hfuzz_target/$triple/release/cs_analysis"

cp -r corpus/cs_analysis "$work/in"
set +e
(cd fuzz-hfuzz && RSEQ_FUZZ_STRICT=1 HFUZZ_BUILD_ARGS="--features canary" \
    HFUZZ_INPUT="$work/in" HFUZZ_WORKSPACE="$work/ws" \
    HFUZZ_RUN_ARGS="--run_time $secs --threads 1" \
    cargo hfuzz run cs_analysis) > "$work/log" 2>&1
rc=$?
set -e
if [ "$rc" != 0 ]; then
  echo "honggfuzz run failed (rc $rc):" >&2; tail -30 "$work/log" >&2; exit 1
fi
report="$work/ws/cs_analysis/HONGGFUZZ.REPORT.TXT"
[ -f "$report" ] || { echo "honggfuzz saved no crash; log:" >&2; tail -30 "$work/log" >&2; exit 1; }
grep -h 'Summary' "$work/log" | tail -1

# honggfuzz runs the target without ASLR, so a PIE binary sits at the
# x86_64 default base; addr2line takes offsets into the file.
python3 - "$report" "$bin" <<'PY'
import re, subprocess, sys
report, binary = sys.argv[1], sys.argv[2]
BASE = 0x555555554000
crashes, current = [], None
for line in open(report, errors="replace"):
    if line.startswith("FUZZ_FNAME:"):
        current = {"file": line.split("/")[-1].strip(), "frames": []}
        crashes.append(current)
    elif current is not None and line.startswith(" <0x"):
        current["frames"].append((int(line[2:20], 16), binary in line))
oracles = set()
for c in crashes:
    top = c["frames"][:7]   # honggfuzz's hash: the top seven frames
    offsets = [hex(pc - BASE) for pc, in_bin in top if in_bin]
    names = subprocess.run(["addr2line", "-f", "-C", "-e", binary, *offsets],
                           capture_output=True, text=True).stdout.splitlines()[::2]
    found = [m.group(1) for n in names
             if (m := re.search(r"rseq_fuzz::oracles::abort_(\w+)_oracle", n))]
    print(f"{c['file']}: {found[0] if found else 'NO ORACLE FRAME'} ({' <- '.join(names)})")
    if not found:
        sys.exit("a crash's top frames name no oracle")
    oracles.add(found[0])
if len(oracles) < 2:
    sys.exit(f"expected crashes of at least two oracles, got {sorted(oracles)}")
print(f"crash identity: {len(crashes)} crashes, oracles {sorted(oracles)}")
PY
