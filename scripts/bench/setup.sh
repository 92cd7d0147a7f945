# Sourced by the detection benchmarks (detection.sh, mtcnn.sh, detector_quality.sh):
# strict mode, the repository root, the fixtures venv's Python ($PYTHON), the shared
# photos ($FACES), a release facec in $facec, and a scratch folder $tmp removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-/root/.cache/facec-fixtures-venv/bin/python}
faces=${FACES:-$root/../shared/faces}
(cd "$root" && swift build -c release --product facec >/dev/null)
facec="$root/.build/release/facec"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
