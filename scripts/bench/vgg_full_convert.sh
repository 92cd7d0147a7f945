#!/usr/bin/env bash
# Full-size VGG-Face conversion benchmark (not a unit test: ~540 MB input).
# Writes a full-size Oxford-layout MAT v7 file with random weights (145 M
# parameters; scripts/fixtures/vgg_full_size.py, numpy only) outside the
# repository, converts it with `facec convert` under /usr/bin/time, and reports
# the time, the peak resident memory against one copy of the weights, the
# .fgraph size and one image's latency on one and on two cores.
#
#   scripts/bench/vgg_full_convert.sh [WORKDIR]     (default ~/.cache/facec-bench/vgg-full)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$HOME/.cache/facec-bench/vgg-full}
mkdir -p "$work"
python=${FACEC_PYTHON:-python3}
"$python" -c "import numpy" 2>/dev/null || { echo "needs python3 with numpy (pip install numpy)" >&2; exit 1; }
mat="$work/vgg_face.mat"
if [ ! -s "$mat" ]; then
    echo "writing $mat (full size, random weights)..." >&2
    "$python" "$root/scripts/fixtures/vgg_full_size.py" "$mat" >&2
fi
(cd "$root" && swift build -c release --product facec >/dev/null)
facec="$root/.build/release/facec"
out="$work/vgg_face.fgraph"
weights_mb=$(( 145002878 * 4 / 1000000 ))
/usr/bin/time -v "$facec" convert "$mat" -o "$out" 2> "$work/time.txt"
secs=$(grep "Elapsed" "$work/time.txt" | awk '{print $NF}')
peak_kb=$(grep "Maximum resident" "$work/time.txt" | awk '{print $NF}')
echo "source      $(stat -c %s "$mat") bytes ($(basename "$mat"), MAT v7 compressed), weights ${weights_mb} MB as float32"
echo "convert     ${secs} (m:ss), peak RSS $((peak_kb / 1024)) MB = $(awk "BEGIN {printf \"%.2f\", $peak_kb / 1024 / $weights_mb}")x the weights"
echo "fgraph      $(stat -c %s "$out") bytes"
for t in 1 2; do
    echo "latency     $("$facec" bench "$out" --threads "$t" --runs 10 | sed -n 2p) [threads=$t]"
done
/usr/bin/time -v "$facec" bench "$out" --threads 2 --runs 3 2>&1 >/dev/null | grep "Maximum resident" | awk -v w="$(stat -c %s "$out")" '{printf "inference   peak RSS %d MB = weights (mmapped .fgraph) + %d MB\n", $NF/1024, ($NF*1024 - w)/1048576}'
