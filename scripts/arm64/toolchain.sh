#!/usr/bin/env bash
# Sets up, once, everything an aarch64 build of facec needs, from Debian's
# archive only (no SDK download exists for Swift on Linux/arm64 here):
#   - a Debian trixie amd64 root (bookworm's debootstrap, unpacked from its
#     .deb, not installed) holding trixie's `swiftlang` 6.0.3 compiler;
#   - a sysroot of trixie's arm64 packages (Swift runtime, glibc, libstdc++,
#     and the libraries facec links: image and protobuf libraries as static
#     archives for facec-run and libfacec.a; hdf5, matio, sqlite, libpq for
#     the test bundle) wrapped as the Swift SDK bundle `debian-trixie-arm64`;
#   - bookworm's qemu-aarch64-static to run the results (no binfmt needed).
# Cached in $FACEC_ARM64_HOME (default ~/.cache/facec-arm64-toolchain),
# about 5 GB; each part is skipped when its stamp exists. Needs root.
#
#   scripts/arm64/toolchain.sh
set -euo pipefail
W=${FACEC_ARM64_HOME:-$HOME/.cache/facec-arm64-toolchain}
MIRROR=${FACEC_ARM64_MIRROR:-http://deb.debian.org/debian}
R=$W/trixie
SDKID=debian-trixie-arm64
B=/sdks/$SDKID.artifactbundle                # inside the root
S=$B/arm64/sysroot
say() { echo "arm64 toolchain [$(date +%T)]: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { echo "arm64 toolchain: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
mkdir -p "$W"
cd "$W"

if [ ! -f .host-tools ]; then
    say "bookworm's debootstrap and qemu-user-static, unpacked"
    rm -rf dbs qemu ./*.deb
    apt-get download debootstrap qemu-user-static 2>&1 | grep -v -i unsandboxed || true
    dpkg-deb -x debootstrap_*_all.deb dbs
    mkdir -p qemu
    dpkg-deb --fsys-tarfile qemu-user-static_*_amd64.deb | tar -x -O ./usr/bin/qemu-aarch64-static > qemu/qemu-aarch64-static
    chmod +x qemu/qemu-aarch64-static
    rm -f ./*.deb
    touch .host-tools
fi

# Bumped whenever the sysroot's package list changes (2: liblz4).
sdk_version=2

mounts() {
    mountpoint -q "$R/proc" || mount -t proc proc "$R/proc"   # swift finds its runtime through /proc
    mountpoint -q "$R/dev" || mount --bind /dev "$R/dev"
}
unmount() { for m in "$R/dev" "$R/proc"; do mountpoint -q "$m" && umount "$m"; done; return 0; }

if [ ! -f .root ]; then
    say "debootstrap trixie (amd64, minbase)"
    unmount; rm -rf "$R"
    DEBOOTSTRAP_DIR=$W/dbs/usr/share/debootstrap "$W/dbs/usr/sbin/debootstrap" --variant=minbase --arch=amd64 \
        trixie "$R" "$MIRROR" > debootstrap.log 2>&1 || { tail -20 debootstrap.log >&2; exit 1; }
    touch .root
fi
trap unmount EXIT
mounts

if [ ! -f .sdk ] || [ "$(cat .sdk)" != "$sdk_version" ]; then
    say "swiftlang 6.0.3 in the root, the arm64 sysroot as a Swift SDK"
    cat > "$R/root/facec-sdk.sh" <<EOS
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
dpkg --add-architecture arm64
apt-get update -q
apt-get install -y -q --no-install-recommends swiftlang libc6-dev pkgconf opencv-data binutils-aarch64-linux-gnu file
rm -rf /debs-arm64 $B && mkdir -p /debs-arm64 $S && cd /debs-arm64
# The runtime, the image and protobuf libraries (static archives inside the
# -dev packages) and, for the test bundle, hdf5/matio/deflate/sqlite/libpq
# with their dependencies.
base="swiftlang:arm64 libswiftlang:arm64 libc6:arm64 libc6-dev:arm64 linux-libc-dev libgcc-14-dev:arm64 libgcc-s1:arm64
  libstdc++6:arm64 libstdc++-14-dev:arm64 zlib1g:arm64 zlib1g-dev:arm64
  libturbojpeg0-dev:arm64 libturbojpeg0:arm64 libpng-dev:arm64 libpng16-16t64:arm64 libwebp-dev:arm64 libwebp7:arm64
  libwebpdemux2:arm64 libwebpmux3:arm64 libwebpdecoder3:arm64 libsharpyuv-dev:arm64 libsharpyuv0:arm64
  libprotobuf-c-dev:arm64 libprotobuf-c1:arm64"
tests=\$(apt-get -s install --no-install-recommends libhdf5-dev:arm64 libmatio-dev:arm64 libdeflate-dev:arm64 \
  libsqlite3-dev:arm64 libpq-dev:arm64 liblz4-dev:arm64 2>/dev/null | awk '/^Inst/{print \$2}')
apt-get download -q \$base \$tests 2>&1 | grep -E '^E:' && exit 1 || true
for d in *.deb; do case \$d in swiftlang_*) ;; *) dpkg-deb -x \$d $S ;; esac; done
dpkg-deb --fsys-tarfile swiftlang_*_arm64.deb | tar -x -C $S \
  ./usr/libexec/swift/lib/swift ./usr/libexec/swift/lib/swift_static ./usr/libexec/swift/lib/clang
rm -rf /debs-arm64 /var/cache/apt/archives/*.deb
ln -sfn usr/lib $S/lib                          # /lib/ld-linux-aarch64.so.1 for qemu -L
# 6.0.3's static-executable link file still names three ICU archives it no
# longer ships: empty stand-ins.
for l in icui18nswift icuucswift icudataswift; do
  /usr/libexec/swift/bin/llvm-ar rc $S/usr/libexec/swift/lib/swift_static/linux/lib\$l.a; done
# hdf5's .pc names /usr/include/hdf5/serial literally (no \\\${prefix}), so
# PKG_CONFIG_SYSROOT_DIR misses it: a copy with the sysroot written in.
mkdir -p /sdks/pkgconfig-arm64
sed -e "s|-I/usr|-I$S/usr|g; s|-L/usr|-L$S/usr|g" $S/usr/lib/aarch64-linux-gnu/pkgconfig/hdf5-serial.pc > /sdks/pkgconfig-arm64/hdf5-serial.pc
cat > $B/info.json <<'J'
{ "schemaVersion": "1.0",
  "artifacts": { "$SDKID": { "type": "swiftSDK", "version": "6.0.3", "variants": [ { "path": "arm64" } ] } } }
J
cat > $B/arm64/swift-sdk.json <<'J'
{ "schemaVersion": "4.0",
  "targetTriples": { "aarch64-unknown-linux-gnu": {
      "sdkRootPath": "sysroot",
      "swiftResourcesPath": "sysroot/usr/libexec/swift/lib/swift",
      "swiftStaticResourcesPath": "sysroot/usr/libexec/swift/lib/swift_static",
      "toolsetPaths": ["toolset.json"] } } }
J
cat > $B/arm64/toolset.json <<'J'
{ "schemaVersion": "1.0", "rootPath": "/usr/libexec/swift/bin",
  "swiftCompiler": { "extraCLIOptions": ["-use-ld=lld"] }, "linker": { "path": "ld.lld" } }
J
cd /     # (from a deleted folder, swift-driver 6.0.3 traps in Foundation)
HOME=/root swift sdk list --swift-sdks-path /sdks
EOS
    chroot "$R" /bin/bash /root/facec-sdk.sh > sdk.log 2>&1 || { tail -30 sdk.log >&2; exit 1; }
    cp qemu/qemu-aarch64-static "$R/usr/local/bin/"
    echo "$sdk_version" > .sdk
fi
say "ready in $W ($(du -sh "$W" 2>/dev/null | cut -f1))"
