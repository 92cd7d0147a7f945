#!/usr/bin/env bash
# libFuzzer on facec's parsers of untrusted input (Sources/facec-fuzz):
#
#   scripts/fuzz.sh TARGET [LIBFUZZER OPTIONS...]     e.g. -runs=1000000 or -max_total_time=1800
#   scripts/fuzz.sh --smoke SECONDS                    every target briefly (.ci/run)
#
# TARGET: fgraph, fgraph-header, image, npy, pairs, detector, keras, mat, dlib, joblib.
# fgraph-header is structure-aware: its mutator edits the decoded header (or
# a weight, or a preamble word) and recomputes the checksums. Built with
# -sanitize=fuzzer,address in .build/fuzz. Seeds: Tests/Fuzz/corpus/TARGET
# (committed, small); inputs found while fuzzing go to .build/fuzz/corpus/TARGET
# (not committed), crashes to .build/fuzz/artifacts/TARGET/. A fixed crash
# becomes a file in Tests/Fuzz/regressions/TARGET/ (FuzzRegressionTests replays them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
targets=(fgraph fgraph-header image npy pairs detector keras mat dlib joblib)
swift build -c release --scratch-path .build/fuzz --product facec-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFACEC_FUZZING -Xcc -fsanitize=fuzzer-no-link,address 2>&1 | grep -E "error|warning: unre" >&2 || true
fuzzer=.build/fuzz/release/facec-fuzz
[ -x "$fuzzer" ] || { echo "fuzz: the fuzzer build failed" >&2; exit 1; }
# ASan's leak check would report the C libraries' caches at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}

# Every parser is facec's own (the importers' too: Debian's libhdf5 and
# libmatio crashed, hung and allocated gigabytes within seconds of fuzzing,
# Tests/Fuzz/upstream/), so every target runs plainly: any crash, hang or
# allocation over the limit stops the run and is a bug to fix.
run() {
    local target=$1; shift
    mkdir -p ".build/fuzz/corpus/$target" ".build/fuzz/artifacts/$target"
    FACEC_FUZZ_TARGET=$target "$fuzzer" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix=".build/fuzz/artifacts/$target/" "$@" ".build/fuzz/corpus/$target" "Tests/Fuzz/corpus/$target"
}

if [ "${1:-}" = "--smoke" ]; then
    seconds=${2:-20}
    for t in "${targets[@]}"; do
        echo "fuzz: $t for ${seconds}s" >&2
        status=0
        run "$t" -max_total_time="$seconds" 2>"$root/.build/fuzz/$t.log" || status=$?
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
