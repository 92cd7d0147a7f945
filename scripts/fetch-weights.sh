#!/usr/bin/env bash
# Fetches the trained weights facec can use, once, from PyPI (the only place
# they are published), checks them and prints where they are:
#   scripts/fetch-weights.sh dlib    # -> .../dlib_face_recognition_resnet_model_v1.dat
#   scripts/fetch-weights.sh mtcnn   # -> .../mtcnn-1.0.0 (pnet.lz4, rnet.lz4, onet.lz4)
# dlib's face recognition ResNet (CC0) from the sdist of face_recognition_models
# 0.3.0, the file behind deepface's "Dlib" model and the face_recognition library;
# MTCNN's P-, R- and O-Net (MIT) from the wheel of mtcnn 1.0.0, the detector
# behind deepface's "mtcnn" backend.
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
mtcnn) ;;
*) echo "fetch-weights: unknown weights '$what' (known: dlib, mtcnn)" >&2; exit 64 ;;
esac
if [ "$what" = mtcnn ]; then
    wheel=mtcnn-1.0.0-py3-none-any.whl
    wheel_sha=0a96b4868e56db9ae984449519642be6dba03240e608a67e928ebb47833e9144
    dir=$cache/mtcnn-1.0.0
    sums="ea6b0c3e685ebee3165326ad6484acc95f2ef78f1c94fbf40a55704fa989f7b5  pnet.lz4
cb00e6460f3c98b0bfafaba3c0a0ded4bdf6e62cee7174d969e8670d7e757fee  rnet.lz4
94f6ea2f4cf985275ee958cdd762d17b6009348a4fb9d8c6be39ba73ffd22ca3  onet.lz4"
    if [ -d "$dir" ] && (cd "$dir" && echo "$sums" | sha256sum -c --status); then echo "$dir"; exit 0; fi
    mkdir -p "$cache"
    work=$(mktemp -d "$cache/.fetch.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    echo "fetch-weights: downloading $wheel from PyPI (1.9 MB, once)" >&2
    python3 -m pip download --quiet --no-deps --only-binary :all: mtcnn==1.0.0 -d "$work" >&2
    echo "$wheel_sha  $work/$wheel" | sha256sum -c --status \
      || { echo "fetch-weights: $wheel: sha256 mismatch, not used" >&2; exit 1; }
    mkdir -p "$work/out"
    python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in ("pnet", "rnet", "onet"):
        open(sys.argv[2] + "/" + n + ".lz4", "wb").write(z.read("mtcnn/assets/weights/" + n + ".lz4"))' "$work/$wheel" "$work/out"
    (cd "$work/out" && echo "$sums" | sha256sum -c --status) \
      || { echo "fetch-weights: mtcnn weights: sha256 mismatch, not used" >&2; exit 1; }
    rm -rf "$dir"
    mv "$work/out" "$dir"
    echo "$dir"
    exit 0
fi
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
