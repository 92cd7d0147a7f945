#!/usr/bin/env bash
# facec's face detection against OpenCV's on the photos of ../shared/faces, photo by
# photo in the same run, same thread count (see detection.py). Needs the fixtures
# venv (OpenCV 4.x; deepface for --deepface), see scripts/fixtures/README.md.
#
#   scripts/bench/detection.sh [--threads T] [--deepface]      (default: 1 thread)
source "$(dirname "$0")/setup.sh"
"$facec" convert "$root/Weights/deepid-random.h5" --detector opencv -o "$tmp/deepid.fgraph" --quiet
# deepface (--deepface) loads DeepID from $DEEPFACE_HOME: give it the same random weights.
mkdir -p "$tmp/home/.deepface/weights"
cp "$root/Weights/deepid-random.h5" "$tmp/home/.deepface/weights/deepid_keras_weights.h5"
DEEPFACE_HOME="$tmp/home" "$python" "$root/scripts/bench/detection.py" --facec "$facec" --model "$tmp/deepid.fgraph" --faces "$faces" "$@"
