#!/usr/bin/env bash
# Builds facec's edge-box runtime for aarch64 (Raspberry Pi 3/4/5, Jetson,
# RK3588) on this x86-64 machine, with Debian trixie's Swift 6.0.3 and arm64
# packages (scripts/arm64/toolchain.sh sets them up once, ~1.5 min, cached):
#   DIR/bin/facec-run     one static executable (no libraries needed at all:
#                         runs on any aarch64 Linux, bookworm boxes included)
#   DIR/lib/libfacec.a    the C API, self-contained (Swift runtime, image and
#                         protobuf libraries inside; only facec_* exported)
#   DIR/include/facec.h
#   DIR/bin/facec-embed-example   examples/embed.c linked statically with it
# Default DIR: dist/arm64. Needs root (the toolchain lives in a chroot).
#
#   scripts/build-arm64.sh [DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist/arm64}
mkdir -p "$out/bin" "$out/lib" "$out/include"
out=$(cd "$out" && pwd)
"$root/scripts/arm64/toolchain.sh"
inroot="$root/scripts/arm64/in-root.sh"
scratch="$root/.build/aarch64"
# -static-executable: glibc linked in too (a --static-swift-stdlib binary built
# against trixie would need glibc >= 2.38 on the box). libwebp.a needs
# libsharpyuv, libpng16.a needs zlib: named after them.
flags=(-c release --scratch-path "$scratch" --swift-sdks-path /sdks --swift-sdk debian-trixie-arm64
       --static-swift-stdlib -Xswiftc -static-executable -Xlinker -lsharpyuv -Xlinker -lz)
"$inroot" swift build "${flags[@]}" --product facec-run
"$inroot" swift build "${flags[@]}" --product FacecCStatic
bin="$scratch/aarch64-unknown-linux-gnu/release"

# libfacec.a exactly as scripts/build-edge.sh makes the x86 one: one
# relocatable object, every symbol but facec_* local.
work="$scratch/libfacec"
mkdir -p "$work"
"$inroot" bash -c '
set -euo pipefail
bin=$1 work=$2 S=$FACEC_ARM64_SYSROOT
SS=$S/usr/libexec/swift/lib/swift_static/linux L=$S/usr/lib/aarch64-linux-gnu
G=$(ls -d $S/usr/lib/gcc/aarch64-linux-gnu/*/ | head -1)
ld.lld -r -o $work/all.o --whole-archive $bin/libFacecCStatic.a --no-whole-archive $SS/aarch64/swiftrt.o \
  --start-group $SS/libswiftCore.a $SS/libswift_Concurrency.a $SS/libswift_StringProcessing.a $SS/libswift_RegexParser.a \
  $SS/libswiftSynchronization.a $SS/libswiftGlibc.a $SS/libswiftDispatch.a $SS/libdispatch.a $SS/libBlocksRuntime.a \
  $SS/libswift_Builtin_float.a $L/libturbojpeg.a $L/libpng16.a $L/libz.a $L/libwebpdemux.a $L/libwebp.a $L/libsharpyuv.a \
  $L/libprotobuf-c.a $G/libstdc++.a $G/libgcc_eh.a $G/libgcc.a --end-group
aarch64-linux-gnu-objcopy --wildcard --keep-global-symbol="facec_*" --strip-debug $work/all.o $work/facec.o
rm -f $work/libfacec.a && aarch64-linux-gnu-ar rcs $work/libfacec.a $work/facec.o
aarch64-linux-gnu-strip -o $work/facec-run $bin/facec-run
clang --target=aarch64-linux-gnu --sysroot=$S -fuse-ld=lld -O2 -I include examples/embed.c $work/libfacec.a \
  -static -lm -lpthread -ldl -o $work/facec-embed-example
aarch64-linux-gnu-strip $work/facec-embed-example
' _ "$bin" "$work"
cp "$work/facec-run" "$work/facec-embed-example" "$out/bin/"
cp "$work/libfacec.a" "$out/lib/"
cp "$root/include/facec.h" "$out/include/"
echo "build-arm64: $out/bin/facec-run ($(stat -c %s "$out/bin/facec-run") bytes), $out/lib/libfacec.a ($(stat -c %s "$out/lib/libfacec.a")); run here with $(printf '%s' "${FACEC_ARM64_HOME:-$HOME/.cache/facec-arm64-toolchain}")/qemu/qemu-aarch64-static -cpu cortex-a76 $out/bin/facec-run" >&2
