#!/usr/bin/env bash
# Fetch a Debian kernel image to boot with scripts/live-vm/run.sh: the
# newest x86-64 cloud kernel of SERIES (default 6.12) that the apt sources
# offer, unpacked (not installed) into DIR. Prints two lines: the kernel
# image and its config.
#
# SUITE (e.g. sid, trixie-backports) reads that suite of the machine's own
# Debian mirror instead of the configured ones, through a private apt state
# in DIR: the machine's apt configuration is not touched. That is where
# kernels of the rework (7.x) are: sid had 7.2.13 and trixie-backports
# 7.3.4 in December 2026.
#
# Usage: scripts/live-vm/debian-kernel.sh DIR [SERIES] [SUITE]
set -euo pipefail
dir="${1:?usage: $0 DIR [SERIES] [SUITE]}"
series="${2:-6.12}"
suite="${3:-}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

# shellcheck source=scripts/live-vm/apt-suite.sh
. "$(dirname "$0")/apt-suite.sh"
apt_suite "$dir" "$suite" || exit 2

# Up to Debian 13 the image is in linux-image-VERSION-cloud-amd64-unsigned
# (boot/vmlinuz-VERSION, boot/config-VERSION); from Debian 14 on in
# linux-binary-unsigned-VERSION-cloud-amd64 (usr/lib/modules/VERSION/
# vmlinuz.unsigned) and linux-base-VERSION-cloud-amd64 (its config).
s="${series//./\\.}"
pkg="$(apt-cache "${apt_opts[@]}" search --names-only \
  "^linux-(image-${s}[.+-].*-cloud-amd64-unsigned|binary-unsigned-${s}[.+-].*-cloud-amd64)\$" |
  awk '{print $1}' | sort -V | tail -1)"
if [ -z "$pkg" ]; then
  echo "debian-kernel: no cloud kernel of series $series${suite:+ in $suite}" >&2
  exit 2
fi
pkgs=("$pkg")
case "$pkg" in
  linux-binary-unsigned-*) pkgs+=("linux-base-${pkg#linux-binary-unsigned-}") ;;
esac
rm -rf "$dir/root"
for p in "${pkgs[@]}"; do
  (cd "$dir" && apt-get "${apt_opts[@]}" download "$p" >&2 2>/dev/null)
  deb="$(ls -t "$dir"/"$p"_*.deb 2>/dev/null | head -1)"
  [ -n "$deb" ] || { echo "debian-kernel: could not download $p" >&2; exit 2; }
  dpkg-deb -x "$deb" "$dir/root"
done
image="$(find "$dir/root" \( -name 'vmlinuz-*' -o -name vmlinuz.unsigned \) -type f | head -1)"
config="$(find "$dir/root" \( -path '*/boot/config-*' -o -path '*/modules/*/config' \) -type f | head -1)"
[ -n "$image" ] && [ -n "$config" ] || { echo "debian-kernel: $pkg holds no kernel image and config" >&2; exit 2; }
echo "$image"
echo "$config"
