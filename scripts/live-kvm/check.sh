#!/usr/bin/env bash
# Run the KVM_RUN live check (kvm_rseq.c, which says what the models
# predict) ROUNDS times on the host kernel and compare with the model of
# the host's release: v6.18 writes the IDs at guest entry without a fix-up
# (cpu_id is 1 while KVM_RUN still runs; rseq_cs is still set after it
# returns); v6.19 and later leave both to the exit (cpu_id is 0 until it
# returns). Needs gcc, /dev/kvm and two CPUs; exits 2 if they are missing,
# 1 on a disagreement.
#
# Usage: scripts/live-kvm/check.sh [ROUNDS]   (default 5)
set -euo pipefail
rounds="${1:-5}"
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(mktemp -d)/kvm_rseq"
gcc -O2 -pthread -o "$bin" "$here/kvm_rseq.c"
release="$(uname -r)"
# A glob: on v6.19+ whether the exit clears rseq_cs depends on the
# rseq_debug key (the debug path evaluates the section), so it is left open.
case "$release" in
  6.18.*|6.1[0-7].*) model="v6.18"; want="during=1 in_run=1 after=1 rseq_cs_after=set exit=5" ;;
  *) model="v6.19+"; want="during=-1 in_run=0 after=1 rseq_cs_after=* exit=5" ;;
esac
echo "host kernel $release: expecting the $model model's outcome: $want"
bad=0
for i in $(seq "$rounds"); do
  set +e
  got="$(timeout 60 "$bin")"
  rc=$?
  set -e
  [ "$rc" -eq 2 ] && { echo "cannot run the check here"; exit 2; }
  echo "round $i: $got"
  # shellcheck disable=SC2053 # $want is a glob on purpose
  [[ "$got" == $want ]] || bad=$((bad + 1))
done
echo "$((rounds - bad)) of $rounds rounds agree with the model"
[ "$bad" -eq 0 ]
