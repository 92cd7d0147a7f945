#!/usr/bin/env bash
# facec's MTCNN detector against deepface's mtcnn backend (and facec's Haar detector)
# on the photos of ../shared/faces, photo by photo in the same run (see mtcnn_speed.py; not mtcnn.py, which would shadow the mtcnn package).
# Needs the fixtures venv (deepface 0.0.103, mtcnn 1.0.0, TensorFlow; scripts/fixtures/README.md)
# and mtcnn's weights (scripts/fetch-weights.sh mtcnn).
#
#   scripts/bench/mtcnn.sh [--threads T]      (default: 1 thread)
source "$(dirname "$0")/setup.sh"
"$facec" convert "$root/Weights/deepid-random.h5" --detector mtcnn -o "$tmp/mtcnn.fgraph" --quiet
"$facec" convert "$root/Weights/deepid-random.h5" --detector opencv -o "$tmp/opencv.fgraph" --quiet
"$python" "$root/scripts/bench/mtcnn_speed.py" --facec "$facec" --mtcnn-model "$tmp/mtcnn.fgraph" --opencv-model "$tmp/opencv.fgraph" --faces "$faces" "$@"
