#!/usr/bin/env bash
# Fetch a Debian kernel image to boot with scripts/live-vm/run.sh: the
# newest linux-image-SERIES.*-cloud-amd64-unsigned package the machine's apt
# sources offer (SERIES defaults to 6.12), unpacked (not installed) into DIR.
# Prints two lines: the kernel image and its config.
#
# Usage: scripts/live-vm/debian-kernel.sh DIR [SERIES]
set -euo pipefail
dir="${1:?usage: $0 DIR [SERIES]}"
series="${2:-6.12}"
pattern="^linux-image-${series//./\\.}\\.[0-9.]*(-[0-9]+)?(\\+deb[0-9]+)?-cloud-amd64-unsigned\$"
pkg="$(apt-cache search --names-only "$pattern" | awk '{print $1}' | sort -V | tail -1)"
if [ -z "$pkg" ]; then
  echo "debian-kernel: no package matches $pattern (run apt-get update?)" >&2
  exit 2
fi
mkdir -p "$dir"
deb="$(cd "$dir" && apt-get download "$pkg" 2>/dev/null >&2; ls -t "$dir"/"$pkg"_*.deb | head -1)"
[ -f "$deb" ] || { echo "debian-kernel: could not download $pkg" >&2; exit 2; }
dpkg-deb -x "$deb" "$dir/root"
ls "$dir"/root/boot/vmlinuz-* | head -1
ls "$dir"/root/boot/config-* | head -1
