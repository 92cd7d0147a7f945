#!/usr/bin/env bash
# Quick start: set up, build, convert the bundled DeepID weights (random
# weights: the real ones cannot be shipped) and run it on the bundled photo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product facec 2>&1 | tail -n 1
facec=$(swift build -c release --show-bin-path)/facec
mkdir -p out
"$facec" convert Weights/deepid-random.h5 -o out/deepid-random.fgraph
"$facec" inspect out/deepid-random.fgraph
echo "--- embedding of Weights/demo-face.jpg:"
"$facec" run out/deepid-random.fgraph Weights/demo-face.jpg
echo "--- verification of two photos of the same person:"
"$facec" verify out/deepid-random.fgraph Weights/demo-face.jpg Weights/demo-face2.jpg
