#!/usr/bin/env bash
# Builds the Python wheel dist/python/facec-<version>-py3-none-manylinux_2_<N>_x86_64.whl:
# python/facec (pure Python, ctypes) with libfacec.so and the Debian image and
# protobuf libraries it loads beside it ($ORIGIN), so that `pip install` of the
# wheel needs no compiler and no -dev package. Prints the wheel's path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist/python}
"$root/scripts/build-edge.sh" "$root/dist" >&2
lib="$root/dist/lib/libfacec.so"
sys="/usr/lib/$(gcc -print-multiarch)"
bundle=()
# Every library libfacec.so needs beyond glibc, from Debian's packages.
for soname in $(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case "$soname" in
        libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|ld-linux*|librt.so.*) ;;
        *) [ -f "$sys/$soname" ] || { echo "build-python: $soname not found in $sys" >&2; exit 1; }
           bundle+=("$(readlink -f "$sys/$soname")") ;;
    esac
done
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
cp "$lib" "$staging/libfacec.so"
names=("$staging/libfacec.so")
for f in "${bundle[@]}"; do
    # Under its soname, the name the loader looks for.
    soname=$(readelf -d "$f" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    cp "$f" "$staging/$soname"
    strip --strip-unneeded "$staging/$soname"
    names+=("$staging/$soname")
done
rm -f "$out"/facec-*.whl
python3 "$root/scripts/make-wheel.py" "$out" "${names[@]}"
