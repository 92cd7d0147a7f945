#!/usr/bin/env bash
# Runs a command inside the aarch64 toolchain's root (scripts/arm64/toolchain.sh)
# with the repository mounted at its own path, and ../shared read-only when it
# exists, so the paths a build records (#filePath fixtures, the scratch
# folder) are the same inside and outside. The environment points SwiftPM
# and pkg-config at the arm64 sysroot; TARGET_ARCH=aarch64 makes Package.swift
# leave out the x86 flags.
#
#   scripts/arm64/in-root.sh CMD [ARGS...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
W=${FACEC_ARM64_HOME:-$HOME/.cache/facec-arm64-toolchain}
R=$W/trixie
S=/sdks/debian-trixie-arm64.artifactbundle/arm64/sysroot
[ -f "$W/.sdk" ] || { echo "arm64: the toolchain is not set up (scripts/arm64/toolchain.sh)" >&2; exit 2; }
shared=$(cd "$repo/.." && pwd)/shared
mounted=()
bind() {   # bind SOURCE [ro]: at the same path inside the root
    local target="$R$1"
    mkdir -p "$target"
    mountpoint -q "$target" && return 0
    mount --bind "$1" "$target"
    [ "${2:-}" != ro ] || mount -o remount,bind,ro "$target"
    mounted=("$target" "${mounted[@]}")
}
cleanup() { for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done; }
trap cleanup EXIT
mountpoint -q "$R/proc" || { mount -t proc proc "$R/proc"; mounted=("$R/proc" "${mounted[@]}"); }
bind /dev
bind "$repo"
[ -d "$shared" ] && bind "$shared" ro
chroot "$R" /usr/bin/env HOME=/root PATH=/usr/libexec/swift/bin:/usr/local/bin:/usr/bin:/bin TARGET_ARCH=aarch64 \
    PKG_CONFIG_PATH=/sdks/pkgconfig-arm64:$S/usr/lib/aarch64-linux-gnu/pkgconfig PKG_CONFIG_SYSROOT_DIR=$S \
    FACEC_ARM64_SYSROOT=$S bash -c 'cd "$0" && exec "$@"' "$repo" "$@"
