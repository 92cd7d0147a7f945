#!/usr/bin/env bash
# Builds what an edge box needs into DIR (default dist/): bin/facec-run (the
# runtime alone, statically linked except for glibc), lib/libfacec.so and
# lib/libfacec.a (the C API, same runtime inside) and include/facec.h.
#
#   scripts/build-edge.sh [DIR]
#
# Static linking without changing Package.swift: the link line asks for
# -lturbojpeg, -lpng16, -lstdc++ ... ; a directory put first on the library
# path answers each with a linker script that names the static archive (as
# glibc's own libc.so is a script), so the same targets link statically here
# and dynamically in a plain `swift build`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
scratch="$root/.build/edge"
multiarch=$(gcc -print-multiarch)
sys="/usr/lib/$multiarch"
static="$scratch/static-libs"
mkdir -p "$static"
archive() { [ -f "$1" ] || { echo "build-edge: $1 is missing (scripts/setup.sh installs the -dev packages)" >&2; exit 1; }; echo "$1"; }
script() { local name=$1; shift; echo "INPUT($*)" > "$static/lib$name.so"; }
script turbojpeg "$(archive "$sys/libturbojpeg.a")"
script png16 "$(archive "$sys/libpng16.a")" "$(archive "$sys/libz.a")"
script webpdemux "$(archive "$sys/libwebpdemux.a")" "$(archive "$sys/libwebp.a")"
script webp "$(archive "$sys/libwebp.a")"
script protobuf-c "$(archive "$sys/libprotobuf-c.a")"
script stdc++ "$(archive "$(gcc -print-file-name=libstdc++.a)")"
script gcc_s "$(archive "$(gcc -print-file-name=libgcc_eh.a)")" "$(archive "$(gcc -print-file-name=libgcc.a)")"

# SwiftPM puts the -L of each pkg-config file (/usr/lib/<arch>) before ours:
# our own .pc files for the three pkg-config libraries point at the scripts.
pc="$scratch/pkgconfig"
mkdir -p "$pc"
for name in libturbojpeg libwebpdemux libprotobuf-c; do
    lib=${name#lib}
    printf 'Name: %s\nDescription: static %s for facec-run\nVersion: 0\nLibs: -L%s -l%s\nCflags:\n' "$name" "$name" "$static" "$lib" > "$pc/$name.pc"
done
PKG_CONFIG_PATH_SAVED=${PKG_CONFIG_PATH:-}
export PKG_CONFIG_PATH="$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

flags=(-c release --scratch-path "$scratch" --static-swift-stdlib
       -Xlinker -L"$static" -Xlinker --gc-sections -Xlinker --as-needed ${EDGE_LINK_EXTRA:-})
cd "$root"
swift build "${flags[@]}" --product facec-run
# Debian's libz.a and libpng16.a are not position-independent, so the
# shared library links the image and protobuf libraries dynamically (Debian's
# libturbojpeg0, libpng16-16, libwebp7, libwebpdemux2, libprotobuf-c1, zlib1g).
PKG_CONFIG_PATH=${PKG_CONFIG_PATH_SAVED:-} swift build -c release --scratch-path "$scratch" --static-swift-stdlib --product FacecC
swift build "${flags[@]}" --product FacecCStatic
bin="$scratch/release"

mkdir -p "$out/bin" "$out/lib" "$out/include"
strip -o "$out/bin/facec-run" "$bin/facec-run"
strip -o "$out/lib/libfacec.so" "$bin/libFacecC.so"
cp "$root/include/facec.h" "$out/include/facec.h"
echo "build-edge: $out/bin/facec-run ($(stat -c %s "$out/bin/facec-run") bytes), $out/lib/libfacec.so" >&2
