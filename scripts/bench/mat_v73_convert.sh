#!/usr/bin/env bash
# MAT v7.3 against v7: `facec convert` time of every v7.3 test fixture next to
# its Level-5 twin (the same weights), median of RUNS runs each, interleaved,
# release build. The goal: v7.3 at most 2x its twin.
#
#   scripts/bench/mat_v73_convert.sh [RUNS]      (default 15)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-15}
(cd "$root" && swift build -c release --product facec >/dev/null)
facec="$root/.build/release/facec"
vgg="$root/Tests/FacecTests/Fixtures/vgg"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Median wall time (ms) of converting $1, $runs times.
median_ms() {
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s%N)
        "$facec" convert "$1" -o "$tmp/out.fgraph" --quiet
        t1=$(date +%s%N)
        echo $(( (t1 - t0) / 1000 ))
    done | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] / 1000 }'
}

printf "%-38s %9s   %-24s %9s   %s\n" "MAT v7.3 file" "ms" "v7 twin" "ms" "ratio"
for pair in vgg_oxford_v73.mat:vgg_oxford_v7.mat vgg_oxford_v73_hdf5storage.mat:vgg_oxford_v7.mat \
            vgg_tidy_v73.mat:vgg_tidy_v7.mat vgg_typed_v73.mat:vgg_typed_v7.mat \
            vgg_structarray_v73.mat:vgg_structarray_v7.mat vgg_structarray_v73_hdf5storage.mat:vgg_structarray_v7.mat; do
    a=${pair%%:*} b=${pair##*:}
    ta=$(median_ms "$vgg/$a") tb=$(median_ms "$vgg/$b")
    printf "%-38s %9s   %-24s %9s   %.2fx\n" "$a" "$ta" "$b" "$tb" "$(awk -v a="$ta" -v b="$tb" 'BEGIN {print a / b}')"
done
