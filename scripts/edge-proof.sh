#!/usr/bin/env bash
# Proves that facec-run needs nothing but glibc: builds a minimal Debian root
# (debootstrap --variant=minbase, cached), copies in only the runtime binary,
# a model and photos, and runs check, run, verify and detect inside it (chroot).
# Prints each command's output after a "== <command>" line. Needs root and
# debootstrap (Debian's package); builds dist/ first if it is missing.
#
#   scripts/edge-proof.sh [DIST]      (default: dist/, made by scripts/build-edge.sh)
#
# The root is cached in $FACEC_EDGE_ROOT (default /root/.cache/facec-edge-root);
# delete it to start again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dist=${1:-$root/dist}
cache=${FACEC_EDGE_ROOT:-/root/.cache/facec-edge-root}
suite=${FACEC_EDGE_SUITE:-bookworm}
mirror=${FACEC_EDGE_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" -eq 0 ] || { echo "edge-proof: needs root (debootstrap and chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "edge-proof: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 2; }

if [ ! -f "$cache/.complete" ]; then
    rm -rf "$cache"
    mkdir -p "$cache"
    echo "edge-proof: debootstrap --variant=minbase $suite into $cache (once)" >&2
    debootstrap --variant=minbase "$suite" "$cache" "$mirror" >"$cache.log" 2>&1 || { tail -20 "$cache.log" >&2; exit 1; }
    touch "$cache/.complete"
fi
[ -x "$dist/bin/facec-run" ] || "$root/scripts/build-edge.sh" "$dist"

# Only glibc's libraries may be needed, and the root must not have the others.
ldd "$dist/bin/facec-run" | awk '{print $1}' | grep -v -E '^(linux-vdso\.so\.1|/lib64/ld-linux-x86-64\.so\.2|lib(c|m|dl|pthread|rt)\.so\.6)$' \
    && { echo "edge-proof: facec-run needs more than glibc" >&2; exit 1; }
for lib in libturbojpeg libpng16 libwebp libprotobuf-c libswiftCore libhdf5 libmatio; do
    if find "$cache/usr/lib" "$cache/lib" -name "$lib*" 2>/dev/null | grep -q .; then
        echo "edge-proof: the minimal root unexpectedly has $lib" >&2; exit 1
    fi
done

box="$cache/facec-proof"
rm -rf "$box"
mkdir -p "$box"
trap 'rm -rf "$box"' EXIT
cp "$dist/bin/facec-run" "$box/"
# The model is converted here (the converter's side), then shipped.
(cd "$root" && swift build -c release --product facec >/dev/null)
"$root/.build/release/facec" convert "$root/Weights/deepid-random.h5" --detector opencv -o "$box/model.fgraph" --quiet
cp "$root/Weights/demo-couple.jpg" "$root/Weights/demo-face.jpg" "$root/Weights/demo-face2.jpg" "$box/"

inside() { echo "== $*"; chroot "$cache" /usr/bin/env -i PATH=/usr/bin:/bin /facec-proof/facec-run "$@"; }
inside check /facec-proof/model.fgraph
inside run /facec-proof/model.fgraph /facec-proof/demo-couple.jpg /facec-proof/demo-face.jpg --threads 1
inside verify /facec-proof/model.fgraph /facec-proof/demo-face.jpg /facec-proof/demo-face2.jpg --threads 1
inside detect /facec-proof/model.fgraph /facec-proof/demo-couple.jpg --json
echo "== ok"
