#!/usr/bin/env bash
# What a user runs against what the network alone costs: `facec run` over
# every photo of ../shared/faces (decode, preprocessing, network; one process,
# model load included) against `facec bench --threads T` (network only, one
# image per call), per model and thread count, in one session.
#
#   scripts/bench/run_throughput.sh MODEL.fgraph [MODEL.fgraph ...]
#
# Prints per model and T in 1..cores: run ms/photo, bench ms/image, and
# run/bench (<= 1: the batch path keeps up with the network's own speed).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
facec=${FACEC:-$root/.build/release/facec}
faces=$root/../shared/faces
mapfile -t photos < <(ls "$faces"/*.jpg "$faces"/*.png "$faces"/*.webp 2>/dev/null)
cores=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-28s %7s %8s %12s %12s %9s\n' model threads photos run_ms/photo bench_ms/img run/bench
for model in "$@"; do
    for t in $(seq 1 "$cores"); do
        start=$(date +%s.%N)
        "$facec" run "$model" "${photos[@]}" --threads "$t" --npy "$tmp/e.npy" >/dev/null
        end=$(date +%s.%N)
        run_ms=$(python3 -c "print(($end - $start) * 1000 / ${#photos[@]})")
        # bench with B = T images per call runs one single-threaded instance per
        # thread (images across cores), as run does; B = 1 splits layers.
        bench_ms=$("$facec" bench "$model" --threads "$t" --batch "$t" --runs 10 --json | python3 -c "import json,sys; j=json.load(sys.stdin); print(j['median_ms'] / j['batch'])")
        best=$("$facec" bench "$model" --threads "$t" --runs 10 --json | python3 -c "import json,sys; print(json.load(sys.stdin)['median_ms'])")
        bench_ms=$(python3 -c "print(min($bench_ms, $best))")
        printf '%-28s %7d %8d %12.2f %12.2f %9.2f\n' "$(basename "$model")" "$t" "${#photos[@]}" "$run_ms" "$bench_ms" \
            "$(python3 -c "print($run_ms / $bench_ms)")"
    done
done
