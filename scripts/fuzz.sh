#!/usr/bin/env bash
# libFuzzer on facec's parsers of untrusted input (Sources/facec-fuzz):
#
#   scripts/fuzz.sh TARGET [LIBFUZZER OPTIONS...]     e.g. -runs=1000000 or -max_total_time=1800
#   scripts/fuzz.sh --smoke SECONDS                    every target briefly (.ci/run)
#
# TARGET: fgraph, image, npy, pairs, detector, keras, mat. Built with
# -sanitize=fuzzer,address in .build/fuzz. Seeds: Tests/Fuzz/corpus/TARGET
# (committed, small); inputs found while fuzzing go to .build/fuzz/corpus/TARGET
# (not committed), crashes to .build/fuzz/artifacts/TARGET/. A fixed crash
# becomes a file in Tests/Fuzz/regressions/TARGET/ (FuzzRegressionTests replays them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
targets=(fgraph image npy pairs detector keras mat)
swift build -c release --scratch-path .build/fuzz --product facec-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFACEC_FUZZING -Xcc -fsanitize=fuzzer-no-link,address 2>&1 | grep -E "error|warning: unre" >&2 || true
fuzzer=.build/fuzz/release/facec-fuzz
[ -x "$fuzzer" ] || { echo "fuzz: the fuzzer build failed" >&2; exit 1; }
# HDF5 prints its error stack on stderr for every refused file; ASan's leak
# check would report the C libraries' caches at exit.
export HDF5_DISABLE_VERSION_CHECK=1 ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}

# The importers sit on libhdf5 (Keras, MAT v7.3), in which fuzzing finds crashes,
# hangs and huge allocations within seconds (Tests/Fuzz/upstream/; facec
# convert refuses them through CrashGuard). Their runs go on past such
# findings (fork mode, each saved under artifacts/), and ASan does not
# police those libraries' memcpy (replace_intrin=0): anything in facec's own
# code still shows as a crash with its stack.
run() {
    local target=$1; shift
    local extra=() options=$ASAN_OPTIONS
    if [ "$target" = keras ] || [ "$target" = mat ]; then
        extra=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
        options="$options:replace_intrin=0"
    fi
    mkdir -p ".build/fuzz/corpus/$target" ".build/fuzz/artifacts/$target"
    ASAN_OPTIONS=$options FACEC_FUZZ_TARGET=$target "$fuzzer" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "${extra[@]}" \
        -artifact_prefix=".build/fuzz/artifacts/$target/" "$@" ".build/fuzz/corpus/$target" "Tests/Fuzz/corpus/$target"
}

if [ "${1:-}" = "--smoke" ]; then
    seconds=${2:-20}
    for t in "${targets[@]}"; do
        echo "fuzz: $t for ${seconds}s" >&2
        status=0
        run "$t" -max_total_time="$seconds" 2>"$root/.build/fuzz/$t.log" || status=$?
        # Fork mode (the importers) exits non-zero after ignored findings in
        # the C libraries; it passes when it ran its time.
        if [ "$t" = keras ] || [ "$t" = mat ]; then grep -q "INFO: fuzzed for" "$root/.build/fuzz/$t.log" && status=0; fi
        if [ "$status" -ne 0 ]; then
            tail -40 "$root/.build/fuzz/$t.log" >&2; exit 1
        fi
        grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|oom/timeout/crash" "$root/.build/fuzz/$t.log" | tail -2 | tr '\n' ' ' >&2; echo >&2
    done
    exit 0
fi
[ $# -ge 1 ] || { echo "usage: scripts/fuzz.sh TARGET [libFuzzer options] | --smoke SECONDS (targets: ${targets[*]})" >&2; exit 64; }
target=$1; shift
[[ " ${targets[*]} " == *" $target "* ]] || { echo "fuzz: unknown target $target (${targets[*]})" >&2; exit 64; }
run "$target" "$@"
