#!/usr/bin/env bash
# The Python package's tests: builds the wheel (scripts/build-python.sh),
# installs it into a virtual environment outside the repository
# (~/.cache/facec-python-venv; numpy, pandas and pytest pinned in
# python/requirements-test.txt) and runs pytest on Tests/python, which also
# uses the facec CLI (swift build) and the Dlib weights (scripts/setup.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${FACEC_PYTHON_VENV:-$HOME/.cache/facec-python-venv}
swift build --package-path "$root" --product facec 2>&1 | tail -n 1 >&2
wheel=$("$root/scripts/build-python.sh" 2>/dev/null | tail -n 1)
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/python/requirements-test.txt"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
cd "$root/Tests/python"
FACEC_EXPECT_WHEEL=1 exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
