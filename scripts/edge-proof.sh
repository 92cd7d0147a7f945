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
# Incremental: seconds when nothing changed.
"$root/scripts/build-edge.sh" "$dist" >&2

# Only glibc's libraries may be needed (the example program's too), and the
# root must not have the others.
glibc_only() {
    if ldd "$1" | awk '{print $1}' | grep -v -E '^(linux-vdso\.so\.1|/lib64/ld-linux-x86-64\.so\.2|lib(c|m|dl|pthread|rt)\.so\.6)$'; then
        echo "edge-proof: $1 needs more than glibc" >&2; exit 1
    fi
}
glibc_only "$dist/bin/facec-run"
size=$(stat -c %s "$dist/bin/facec-run")
[ "$size" -le $((10 << 20)) ] || { echo "edge-proof: facec-run is $size bytes, over the 10 MB budget" >&2; exit 1; }
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
# The converter: $FACEC_CONVERTER (the test suite passes its own build), else a release build.
facec=${FACEC_CONVERTER:-}
if [ -z "$facec" ]; then (cd "$root" && swift build -c release --product facec >/dev/null); facec="$root/.build/release/facec"; fi
"$facec" convert "$root/Weights/deepid-random.h5" --detector opencv -o "$box/model.fgraph" --quiet
# The C API's example program, linked with the self-contained libfacec.a.
cc -O2 -I "$dist/include" "$root/examples/embed.c" "$dist/lib/libfacec.a" -lm -lpthread -ldl -o "$box/embed"
glibc_only "$box/embed"
cp "$root/Weights/demo-couple.jpg" "$root/Weights/demo-face.jpg" "$root/Weights/demo-face2.jpg" "$box/"

# No /proc or /sys is mounted: the binary must not need them.
inside() { echo "== $*"; chroot "$cache" /usr/bin/env -i PATH=/usr/bin:/bin /facec-proof/facec-run "$@"; }
inside check /facec-proof/model.fgraph | tee "$box/check.txt"
grep -q '^ok: ' "$box/check.txt" || { echo "edge-proof: check did not pass inside the root" >&2; exit 1; }
inside run /facec-proof/model.fgraph /facec-proof/demo-couple.jpg /facec-proof/demo-face.jpg --threads 1
inside verify /facec-proof/model.fgraph /facec-proof/demo-face.jpg /facec-proof/demo-face2.jpg --threads 1
inside detect /facec-proof/model.fgraph /facec-proof/demo-couple.jpg --json
echo "== embed (C API, libfacec.a) /facec-proof/model.fgraph /facec-proof/demo-couple.jpg"
chroot "$cache" /usr/bin/env -i /facec-proof/embed /facec-proof/model.fgraph /facec-proof/demo-couple.jpg
# libfacec.so on this machine (it takes the image libraries from Debian's
# packages, which the minimal root lacks): the same faces.
cc -O2 -I "$dist/include" "$root/examples/embed.c" -L "$dist/lib" -lfacec -Wl,-rpath,"$dist/lib" -o "$box/embed-so"
echo "== embed-so (C API, libfacec.so, outside the root) model.fgraph demo-couple.jpg"
(cd "$box" && ./embed-so model.fgraph demo-couple.jpg | sed 's|"input":"demo-couple.jpg"|"input":"/facec-proof/demo-couple.jpg"|')
echo "== ok"
