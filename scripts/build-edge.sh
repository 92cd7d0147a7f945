#!/usr/bin/env bash
# Builds what an edge box needs into DIR (default dist/): bin/facec-run (the
# runtime alone, statically linked except for glibc), the C API as
# lib/libfacec.a (self-contained: glibc only) and lib/libfacec.so (Swift
# runtime inside; the image libraries from Debian's packages) and
# include/facec.h.
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
export PKG_CONFIG_PATH="$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

flags=(-c release --scratch-path "$scratch" --static-swift-stdlib
       -Xlinker -L"$static" -Xlinker --gc-sections -Xlinker --as-needed ${EDGE_LINK_EXTRA:-})
cd "$root"
swift build "${flags[@]}" --product facec-run
swift build "${flags[@]}" --product FacecCStatic
bin="$scratch/release"

mkdir -p "$out/bin" "$out/lib" "$out/include"
strip -o "$out/bin/facec-run" "$bin/facec-run"

# libfacec.a: one relocatable object with the API, the Swift runtime and the
# image libraries inside (ld -r pulls what is used), every symbol but
# facec_* made local so it cannot clash with the application's own copies.
# An application links it with `cc app.c libfacec.a -lm -lpthread -ldl`.
swift_static="$(dirname "$(dirname "$(command -v swiftc)")")/lib/swift_static/linux"
arch=$(uname -m)
work="$scratch/libfacec"
mkdir -p "$work"
ld -r -o "$work/all.o" --whole-archive "$bin/libFacecCStatic.a" --no-whole-archive "$swift_static/$arch/swiftrt.o" \
    --start-group "$swift_static"/libswiftCore.a "$swift_static"/libswift_Concurrency.a "$swift_static"/libswift_StringProcessing.a \
    "$swift_static"/libswift_RegexParser.a "$swift_static"/libswiftSynchronization.a "$swift_static"/libswiftGlibc.a \
    "$swift_static"/libswiftDispatch.a "$swift_static"/libdispatch.a "$swift_static"/libBlocksRuntime.a \
    "$swift_static"/libswift_Builtin_float.a \
    "$sys/libturbojpeg.a" "$sys/libpng16.a" "$sys/libz.a" "$sys/libwebpdemux.a" "$sys/libwebp.a" "$sys/libprotobuf-c.a" \
    "$(gcc -print-file-name=libstdc++.a)" "$(gcc -print-file-name=libgcc_eh.a)" "$(gcc -print-file-name=libgcc.a)" --end-group
objcopy --wildcard --keep-global-symbol='facec_*' --strip-debug "$work/all.o" "$work/facec.o"
rm -f "$out/lib/libfacec.a"
ar rcs "$out/lib/libfacec.a" "$work/facec.o"

# libfacec.so: the same objects with the Swift runtime inside (SwiftPM's own
# dynamic product would need the toolchain's libswiftCore.so). Debian's
# libz.a and libpng16.a are not position-independent, so the shared library
# takes the image and protobuf libraries from Debian's packages (libturbojpeg0,
# libpng16-16, libwebp7, libwebpdemux2, libprotobuf-c1, zlib1g).
printf '{ global: facec_*; local: *; };\n' > "$work/exports.map"
# The shared library takes the image and protobuf libraries from the system
# (Debian's packages) or, first, from its own folder ($ORIGIN: the Python
# wheel carries them there, scripts/build-python.sh); C++ and libgcc are linked in.
cc -shared -o "$work/libfacec.so" -Wl,-soname,libfacec.so -Wl,--version-script="$work/exports.map" -Wl,--gc-sections -Wl,-rpath,'$ORIGIN' \
    -Wl,--whole-archive "$bin/libFacecCStatic.a" -Wl,--no-whole-archive "$swift_static/$arch/swiftrt.o" \
    -Wl,--start-group "$swift_static"/libswiftCore.a "$swift_static"/libswift_Concurrency.a "$swift_static"/libswift_StringProcessing.a \
    "$swift_static"/libswift_RegexParser.a "$swift_static"/libswiftSynchronization.a "$swift_static"/libswiftGlibc.a \
    "$swift_static"/libswiftDispatch.a "$swift_static"/libdispatch.a "$swift_static"/libBlocksRuntime.a \
    "$swift_static"/libswift_Builtin_float.a -Wl,--end-group \
    -Wl,--no-as-needed -lturbojpeg -lpng16 -lwebpdemux -lwebp -lprotobuf-c -lz -Wl,--as-needed \
    "$(gcc -print-file-name=libstdc++.a)" -static-libgcc -lm -lpthread -ldl
strip -o "$out/lib/libfacec.so" "$work/libfacec.so"
cp "$root/include/facec.h" "$out/include/facec.h"
echo "build-edge: $out/bin/facec-run ($(stat -c %s "$out/bin/facec-run") bytes), $out/lib/libfacec.so ($(stat -c %s "$out/lib/libfacec.so")), $out/lib/libfacec.a ($(stat -c %s "$out/lib/libfacec.a"))" >&2
