#!/usr/bin/env bash
# Behaviour unchanged by a refactor: builds facec at BASE (a git revision, in a
# worktree under ~/.cache/facec-base) and at the working tree, then has both
# convert the same weights and run the commands users run on the shared photos
# (convert, run, detect --crops, verify, verify --pairs, gallery add, find,
# inspect, check), and compares every output byte for byte (timings removed:
# the JSON fields ms, network_ms, time_ms and the seconds in summaries).
# Prints one line per output and exits 1 at the first difference.
#
#   scripts/check-same-outputs.sh BASE [--threads T]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base=${1:?usage: scripts/check-same-outputs.sh BASE-REVISION [--threads T]}
shift
threads=2
[[ "${1:-}" == --threads ]] && threads=$2
faces=${FACES:-$root/../shared/faces}
dat=${DLIB_DAT:-$HOME/.cache/facec-weights/dlib_face_recognition_resnet_model_v1.dat}
[[ -f $dat ]] || "$root/scripts/fetch-weights.sh" dlib >/dev/null

rev=$(git -C "$root" rev-parse --verify "$base^{commit}")
tree=$HOME/.cache/facec-base/$rev
if [[ ! -d $tree ]]; then
    mkdir -p "$(dirname "$tree")"
    git -C "$root" worktree add --detach "$tree" "$rev" >/dev/null
fi
echo "building $base ($rev) and the working tree (release)"
(cd "$tree" && swift build -c release --product facec >/dev/null)
(cd "$root" && swift build -c release --product facec >/dev/null)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
photos=$(ls "$faces"/*.jpg | sort)
strip_times() { sed -E 's/"(ms|network_ms|time_ms)": ?[0-9.eE+-]+/"\1":0/g; s/[0-9]+(\.[0-9]+)? ?(s|ms)\b/T/g'; }

for side in before after; do
    if [[ $side == before ]]; then facec=$tree/.build/release/facec; else facec=$root/.build/release/facec; fi
    d=$out/$side; mkdir -p "$d/crops"
    (
        cd "$d"
        "$facec" convert "$dat" --detector opencv -o dlib.fgraph --quiet
        "$facec" convert "$root/Weights/deepid-random.h5" --detector opencv -o deepid.fgraph --quiet
        "$facec" inspect dlib.fgraph > inspect.txt
        "$facec" check dlib.fgraph > check.txt
        # shellcheck disable=SC2086
        "$facec" run dlib.fgraph $photos --threads "$threads" 2>run.err | strip_times > run.jsonl || true
        # shellcheck disable=SC2086
        "$facec" run deepid.fgraph $photos --threads "$threads" 2>/dev/null | strip_times > run-deepid.jsonl || true
        # shellcheck disable=SC2086
        "$facec" detect dlib.fgraph $photos --crops crops --threads "$threads" 2>detect.err | strip_times > detect.jsonl || true
        (cd crops && sha256sum -- * | sort -k2) > crops.sha256
        "$facec" verify dlib.fgraph "$faces/img1.jpg" "$faces/img2.jpg" | strip_times > verify.txt || true
        (cd "$faces" && "$facec" verify "$d/dlib.fgraph" --pairs master.csv --threads "$threads" 2>/dev/null) | strip_times > pairs.txt || true
        # shellcheck disable=SC2086
        "$facec" gallery add dlib.fgraph people.db $photos --threads "$threads" 2>gallery.err | strip_times > gallery.txt || true
        # shellcheck disable=SC2086
        "$facec" find dlib.fgraph $photos --gallery people.db --threads "$threads" 2>/dev/null | strip_times > find.jsonl || true
        sha256sum dlib.fgraph deepid.fgraph | awk '{print $1}' > models.sha256
        rm -rf crops dlib.fgraph deepid.fgraph people.db
    )
done
status=0
for f in $(cd "$out/after" && ls); do
    if cmp -s "$out/before/$f" "$out/after/$f"; then
        printf 'same       %-16s %8d bytes\n' "$f" "$(wc -c < "$out/after/$f")"
    else
        printf 'DIFFERENT  %s\n' "$f"; diff "$out/before/$f" "$out/after/$f" | head -5; status=1
    fi
done
exit $status
