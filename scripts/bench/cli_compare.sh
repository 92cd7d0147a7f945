#!/usr/bin/env bash
# Two builds of facec on the commands users run, in one session (hyperfine,
# the two builds' runs interleaved): each workload's median for A and for B,
# and B/A (below 1: B is faster). For checking that a change costs nothing
# where it should cost nothing, e.g. A = the last commit's build, B = this one.
#
#   scripts/bench/cli_compare.sh A/facec B/facec [--runs N]
#
# Workloads, over the 64 photos of ../shared/faces with the demo DeepID model
# and deepface's detector (converted by B): `run` on 1 and 2 threads,
# `detect`, `check` (load with every validation), and, when
# scripts/bench/vgg_full_convert.sh has made it, `check` and `bench --runs 1`
# of the full-size VGG-Face model (757 MB: load time and memory).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 A/facec B/facec [--runs N]" >&2; exit 64; }
a=$(realpath "$1") b=$(realpath "$2"); shift 2
runs=10
[ "${1:-}" = "--runs" ] && runs=$2
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$b" convert "$root/Weights/deepid-random.h5" --detector opencv -o "$tmp/deepid.fgraph" --quiet
mapfile -t photos < <(ls "$root"/../shared/faces/*.jpg "$root"/../shared/faces/*.png "$root"/../shared/faces/*.webp 2>/dev/null)
[ ${#photos[@]} -gt 0 ] || photos=("$root/Weights/demo-face.jpg" "$root/Weights/demo-couple.jpg")
vgg=$HOME/.cache/facec-bench/vgg-full/vgg_face_v7.fgraph

workloads=("run T=1|run $tmp/deepid.fgraph ${photos[*]} --threads 1 --npy $tmp/out.npy"
           "run T=2|run $tmp/deepid.fgraph ${photos[*]} --threads 2 --npy $tmp/out.npy"
           "detect T=2|detect $tmp/deepid.fgraph ${photos[*]} --threads 2"
           "check DeepID|check $tmp/deepid.fgraph")
[ -s "$vgg" ] && workloads+=("check VGG-Face 757 MB|check $vgg" "bench VGG-Face (load + 1 image)|bench $vgg --runs 1 --threads 2")

printf '%-32s %10s %10s %7s   %s\n' workload "A ms" "B ms" "B/A" "peak RSS A / B (MB)"
for w in "${workloads[@]}"; do
    name=${w%%|*} args=${w#*|}
    hyperfine -N --warmup 1 --runs "$runs" --export-json "$tmp/h.json" "$a $args" "$b $args" >/dev/null 2>&1
    read -r ma mb < <(python3 -c "import json; r=json.load(open('$tmp/h.json'))['results']; print(r[0]['median']*1e3, r[1]['median']*1e3)")
    rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
    ra=$(rss $a $args) rb=$(rss $b $args)
    printf '%-32s %10.1f %10.1f %7.3f   %d / %d\n' "$name" "$ma" "$mb" "$(python3 -c "print($mb / $ma)")" $((ra / 1024)) $((rb / 1024))
done
