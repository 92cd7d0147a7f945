#!/usr/bin/env bash
# The README's Python example in one command (after scripts/setup.sh or the
# demo): builds the facec wheel, installs it into ~/.cache/facec-python-venv,
# compiles dlib's ResNet with deepface's detector into ~/.facec/models/Dlib.fgraph
# once (facec's model folder; FACEC_HOME moves it) and runs examples/deepface_dropin.py.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${FACEC_PYTHON_VENV:-$HOME/.cache/facec-python-venv}
models="${FACEC_HOME:-$HOME/.facec}/models"
wheel=$("$root/scripts/build-python.sh" 2>/dev/null | tail -n 1)
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall "$wheel" "pandas==3.1.1"
if [ ! -f "$models/Dlib.fgraph" ]; then
    swift build --package-path "$root" -c release --product facec 2>&1 | tail -n 1 >&2
    mkdir -p "$models"
    "$(swift build --package-path "$root" -c release --show-bin-path)/facec" convert "$("$root/scripts/fetch-weights.sh" dlib)" \
        --detector opencv -o "$models/Dlib.fgraph" --quiet
fi
exec "$venv/bin/python" "$root/examples/deepface_dropin.py"
