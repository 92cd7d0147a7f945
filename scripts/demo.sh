#!/usr/bin/env bash
# Quick start: set up, build, convert the bundled DeepID weights (random
# weights: the real ones cannot be shipped) with deepface's face detector, and
# run the photo pipeline on the bundled photos: detect and align every face,
# embed each, verify two photos.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product facec 2>&1 | tail -n 1
facec=$(swift build -c release --show-bin-path)/facec
mkdir -p out
"$facec" convert Weights/deepid-random.h5 --detector opencv -o out/deepid-random.fgraph
"$facec" inspect out/deepid-random.fgraph | head -n 8
echo "--- faces in Weights/demo-couple.jpg (aligned crops written to out/crops/):"
"$facec" detect out/deepid-random.fgraph Weights/demo-couple.jpg --crops out/crops
echo "--- one embedding per face (first values shown):"
"$facec" run out/deepid-random.fgraph Weights/demo-couple.jpg | sed -E 's/("embedding":\[([^,]*,){4})[^]]*\]/\1...]/'
echo "--- verification: the closest pair of faces of two photos:"
"$facec" verify out/deepid-random.fgraph Weights/demo-face.jpg Weights/demo-couple.jpg
echo "--- recognition: a gallery from a folder laid out PERSON/photo.jpg, then find on a new photo:"
rm -rf out/people out/people.db out/people.db-wal out/people.db-shm
mkdir -p out/people/angelina-jolie out/people/couple
cp Weights/demo-face.jpg out/people/angelina-jolie/
cp Weights/demo-couple.jpg out/people/couple/
"$facec" gallery add out/deepid-random.fgraph out/people.db out/people
"$facec" find out/deepid-random.fgraph Weights/demo-face2.jpg --gallery out/people.db
