#!/usr/bin/env bash
# The whole test suite: Swift (swift test) and Python (pytest on the wheel).
# Arguments go to swift test (e.g. --filter).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
swift test "$@"
scripts/test-python.sh
