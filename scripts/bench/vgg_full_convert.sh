#!/usr/bin/env bash
# Full-size VGG-Face conversion benchmark (not a unit test: ~540 MB input).
# Writes a full-size Oxford-layout VGG-Face .mat with random weights (145 M
# parameters; scripts/fixtures/vgg_full_size.py) outside the repository,
# converts it with `facec convert` under /usr/bin/time, and reports the time
# (next to the time `cat` takes to read the same file), the peak resident
# memory against one copy of the weights, the .fgraph size and one image's
# latency on one and on two cores.
#
#   scripts/bench/vgg_full_convert.sh [--format v7|v73|v73-raw] [--cold] [WORKDIR]
#
#   --format v7      MAT v7 (compressed Level 5; the default)
#            v73     MAT v7.3 in MATLAB's HDF5 layout, gzip level 3 (MATLAB's
#                    default for v7.3; needs h5py)
#            v73-raw MAT v7.3 uncompressed (MATLAB's `save -v7.3 -nocompression`)
#   --cold           drop the page cache before reading and converting (root)
#   WORKDIR          default ~/.cache/facec-bench/vgg-full
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
format=v7 cold=0 work=$HOME/.cache/facec-bench/vgg-full
while [ $# -gt 0 ]; do
    case "$1" in
        --format) format=$2; shift 2 ;;
        --cold) cold=1; shift ;;
        *) work=$1; shift ;;
    esac
done
mkdir -p "$work"
python=${FACEC_PYTHON:-python3}
case "$format" in
    v7) mat="$work/vgg_face.mat"; args=(); need=numpy ;;
    v73) mat="$work/vgg_face_v73.mat"; args=(--v73); need=h5py ;;
    v73-raw) mat="$work/vgg_face_v73_raw.mat"; args=(--v73 --level 0); need=h5py ;;
    *) echo "unknown --format $format (v7, v73, v73-raw)" >&2; exit 64 ;;
esac
"$python" -c "import $need" 2>/dev/null || { echo "needs python3 with $need (pip install $need, or FACEC_PYTHON=...)" >&2; exit 1; }
if [ ! -s "$mat" ]; then
    echo "writing $mat (full size, random weights)..." >&2
    "$python" "$root/scripts/fixtures/vgg_full_size.py" "$mat" "${args[@]}" >&2
fi
(cd "$root" && swift build -c release --product facec >/dev/null)
facec="$root/.build/release/facec"
out="$work/vgg_face_$format.fgraph"
weights_mb=$(( 145002878 * 4 / 1000000 ))
drop() { if [ "$cold" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi; }
drop
start=$(date +%s.%N); cat "$mat" > /dev/null; read_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')
drop
/usr/bin/time -v "$facec" convert "$mat" -o "$out" --quiet 2> "$work/time.txt"
secs=$(grep "Elapsed" "$work/time.txt" | awk '{print $NF}')
peak_kb=$(grep "Maximum resident" "$work/time.txt" | awk '{print $NF}')
echo "source      $(stat -c %s "$mat") bytes ($(basename "$mat"), $format$([ "$cold" = 1 ] && echo ", cold page cache")), weights ${weights_mb} MB as float32"
printf "read        cat takes %.2f s to read it\n" "$read_s"
echo "convert     ${secs} (m:ss), peak RSS $((peak_kb / 1024)) MB = $(awk "BEGIN {printf \"%.2f\", $peak_kb / 1024 / $weights_mb}")x the weights"
echo "fgraph      $(stat -c %s "$out") bytes"
for t in 1 2; do
    echo "latency     $("$facec" bench "$out" --threads "$t" --runs 10 | sed -n 2p) [threads=$t]"
done
/usr/bin/time -v "$facec" bench "$out" --threads 2 --runs 3 2>&1 >/dev/null | grep "Maximum resident" | awk -v w="$(stat -c %s "$out")" '{printf "inference   peak RSS %d MB = weights (the .fgraph read into memory) + %d MB\n", $NF/1024, ($NF*1024 - w)/1048576}'
