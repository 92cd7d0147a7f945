#!/usr/bin/env bash
# The aarch64 proof CI runs (.ci/run): builds facec-run, libfacec.a and the C
# example for aarch64 (scripts/build-arm64.sh) and the test bundle, then under
# qemu-aarch64 as a Cortex-A53 (Pi 3), A72 (Pi 4) and A76 (Pi 5):
#   - the kernel conformance suites (each CPU model runs the paths it may
#     take; qemu stops an A53/A72 on any instruction they lack);
#   - the instruction set the runtime picks (`inspect`): portable on A53/A72,
#     neondot (SDOT int8) on A76;
#   - facec-run over photos of ../shared/faces with DeepID (f32), Dlib (f32)
#     and Dlib int8, and the C example with DeepID and Dlib, each against the x86
#     output of the same commit: the same faces, boxes, eyes and confidences,
#     embeddings within cosine 0.99999 (f32) or 0.999 (int8, its budget).
# Set-up and builds are retried once (a download or the 6.0.3 compiler can
# fail transiently). Needs root. FACEC_ARM64_CPUS overrides the CPU models.
#
#   scripts/arm64/check.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
W=${FACEC_ARM64_HOME:-$HOME/.cache/facec-arm64-toolchain}
cpus=${FACEC_ARM64_CPUS:-cortex-a53 cortex-a72 cortex-a76}
faces=${FACEC_FACES_DIR:-$(cd .. && pwd)/shared/faces}
# Small photos (qemu runs about 20× slower than the host), one with five faces.
photos=(img5.jpg img25.jpg img46.jpg img10.jpg img12.jpg selfie-many-people.jpg)
work=$root/.build/aarch64-check
mkdir -p "$work"
say() { echo "arm64-check [$(date +%T)]: $*" >&2; }
retry() { "$@" || { say "retrying once: $*"; "$@"; }; }
qemu=$W/qemu/qemu-aarch64-static

say "toolchain"
retry scripts/arm64/toolchain.sh
say "aarch64 build (facec-run, libfacec.a, C example)"
retry scripts/build-arm64.sh "$work/dist" 2>&1 | tail -n 2
run=$work/dist/bin/facec-run
kind=$(scripts/arm64/in-root.sh file -b "$run")
case $kind in *"ARM aarch64"*"statically linked"*) ;; *) say "facec-run is not a static aarch64 executable: $kind"; exit 1;; esac
size=$(stat -c %s "$run")
[ "$size" -le $((10 << 20)) ] || { say "facec-run is $size bytes, over 10 MB"; exit 1; }
say "facec-run: $size bytes, $kind"

say "aarch64 test bundle (release)"
retry scripts/arm64/in-root.sh swift build -c release --build-tests --scratch-path "$root/.build/aarch64-tests" \
    --swift-sdks-path /sdks --swift-sdk debian-trixie-arm64 -Xcc -fPIC -Xswiftc -enable-testing 2>&1 | grep -E "error|Compiling|Build" | tail -n 3

say "x86 references: models and outputs"
swift build --product facec 2>&1 | tail -n 1
facec=$(swift build --show-bin-path)/facec
scripts/build-edge.sh "$work/x86" 2>&1 | tail -n 1
x86run=$work/x86/bin/facec-run
scripts/fetch-weights.sh dlib >/dev/null
dat=$(scripts/fetch-weights.sh dlib)
"$facec" convert Weights/deepid-random.h5 --detector opencv -o "$work/deepid.fgraph" --quiet
"$facec" convert "$dat" --detector opencv -o "$work/dlib.fgraph" --quiet
"$facec" convert "$dat" --detector opencv --weights int8 -o "$work/dlib-int8.fgraph" --quiet
inputs=()
for p in "${photos[@]}"; do inputs+=("$faces/$p"); done
for m in deepid dlib; do "$x86run" run "$work/$m.fgraph" "${inputs[@]}" --threads 2 > "$work/x86-$m.jsonl"; done

scripts/arm64/in-root.sh clang --target=aarch64-linux-gnu --sysroot=/sdks/debian-trixie-arm64.artifactbundle/arm64/sysroot \
    -fuse-ld=lld -O2 -static scripts/arm64/sdot-probe.c -o "$work/sdot-probe"

status=0
check() { scripts/arm64/compare.py "$@" || status=1; }
for cpu in $cpus; do
    expect=portable
    [ "$cpu" = cortex-a76 ] && expect=neondot
    # The control: qemu must refuse SDOT where the real core has none.
    probe=$("$qemu" -cpu "$cpu" "$work/sdot-probe" 2>&1 || true)
    case "$expect:$probe" in
        neondot:"sdot 10"|portable:*"Illegal instruction"*) say "$cpu: control: ${probe%%$'\n'*}" ;;
        *) say "$cpu: the SDOT control gave '$probe'"; status=1 ;;
    esac
    line=$("$qemu" -cpu "$cpu" "$run" inspect "$work/dlib-int8.fgraph" | grep "micro-kernels")
    case $line in *"micro-kernels $expect "*) say "$cpu: $line" ;; *) say "$cpu: expected $expect: $line"; status=1 ;; esac

    say "$cpu: kernel conformance suites"
    scripts/arm64/in-root.sh qemu-aarch64-static -cpu "$cpu" -L /sdks/debian-trixie-arm64.artifactbundle/arm64/sysroot \
        -E LD_LIBRARY_PATH=/usr/libexec/swift/lib/swift/linux:/usr/lib/aarch64-linux-gnu/hdf5/serial \
        "$root/.build/aarch64-tests/aarch64-unknown-linux-gnu/release/facecPackageTests.xctest" --testing-library swift-testing \
        --filter 'KernelTests|ConvPoolKernelTests|DetectorKernelTests|SearchKernelTests|ReducedWeightKernelTests|Int8ActivationKernelTests|ZeroExtendedAddTests|Int8ChannelSpreadTests|ExactSearchTests' \
        > "$work/tests-$cpu.log" 2>&1 || { tail -n 30 "$work/tests-$cpu.log" >&2; status=1; }
    grep -E "Test run with|passed after|failed after" "$work/tests-$cpu.log" | tail -n 1 >&2

    say "$cpu: facec-run and the C example on ${#photos[@]} photos"
    for m in deepid dlib dlib-int8; do
        "$qemu" -cpu "$cpu" "$run" run "$work/$m.fgraph" "${inputs[@]}" --threads 2 > "$work/$cpu-$m.jsonl" || status=1
    done
    check "$work/x86-deepid.jsonl" "$work/$cpu-deepid.jsonl" --min-cosine 0.99999 --label "$cpu facec-run DeepID f32"
    check "$work/x86-dlib.jsonl" "$work/$cpu-dlib.jsonl" --min-cosine 0.99999 --label "$cpu facec-run Dlib f32"
    check "$work/x86-dlib.jsonl" "$work/$cpu-dlib-int8.jsonl" --min-cosine 0.999 --label "$cpu facec-run Dlib int8 (against x86 f32)"
    for m in deepid dlib; do
        "$qemu" -cpu "$cpu" "$work/dist/bin/facec-embed-example" "$work/$m.fgraph" "${inputs[@]}" > "$work/$cpu-c-$m.jsonl" || status=1
        check "$work/x86-$m.jsonl" "$work/$cpu-c-$m.jsonl" --min-cosine 0.99999 --label "$cpu C example $m f32"
    done
done
[ $status -eq 0 ] && say "aarch64: all checks passed" || say "aarch64: FAILED (logs in $work)"
exit $status
