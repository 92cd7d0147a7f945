#!/usr/bin/env bash
# Hostile use of the built CLI, as a user (or an attacker) would try it: output
# paths that are devices, FIFOs, links or inputs; folders with symbolic link
# loops; a pids-limited cgroup; a full file system; a model replaced while it
# runs; two processes creating one gallery. Each case must end in the right
# result, or in one line "facec: ..." and a non-zero status: no crash, no hang,
# nothing replaced or destroyed. Cases that need root or a kernel feature the
# machine lacks (mknod, cgroups, tmpfs) say so and are skipped.
#
#   scripts/hostile-check.sh [BUILD_DIR]     (default .build/debug; CI runs it after swift test)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "${1:-$root/.build/debug}" && pwd)
facec=$bin/facec
facec_run=$bin/facec-run
[ -x "$facec" ] && [ -x "$facec_run" ] || { echo "hostile-check: build first (swift build): $facec" >&2; exit 1; }
work=$(mktemp -d /tmp/facec-hostile.XXXXXX)
cgroup=""
cleanup() {
    [ -n "$cgroup" ] && rmdir "$cgroup" 2>/dev/null
    mountpoint -q "$work/small" 2>/dev/null && umount "$work/small"
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1
failures=0 checks=0 skipped=()
bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
skip() { skipped+=("$*"); }

# run [timeout] CMD...: status in $rc, stderr in $err (a timeout is 124, a signal 128+N).
run() {
    local limit=60
    [[ "$1" =~ ^[0-9]+$ ]] && { limit=$1; shift; }
    timeout -k 5 "$limit" "$@" >"$work/stdout" 2>"$work/stderr"
    rc=$?
    err=$(cat "$work/stderr")
}
# ok NAME CMD...: status 0.
ok() {
    local name=$1; shift
    checks=$((checks + 1))
    run "$@"
    [ "$rc" -eq 0 ] || bad "$name: status $rc: $err"
}
# refused NAME TEXT CMD...: non-zero, no crash or hang, one line naming TEXT.
refused() {
    local name=$1 text=$2; shift 2
    checks=$((checks + 1))
    run "$@"
    if [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ]; then bad "$name: status $rc (want a clean failure): $err"; return; fi
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || bad "$name: not one line: $err"
    [[ "$err" == facec:* || "$err" == facec-run:* ]] || bad "$name: not 'facec: ...': $err"
    [[ "$err" == *"$text"* ]] || bad "$name: does not say '$text': $err"
}
kind() { stat -c %F "$1" 2>/dev/null || echo missing; }
same() { [ "$(sha256sum <"$1")" = "$2" ] || bad "$3: $1 was changed"; }

"$facec" convert "$root/Weights/deepid-random.h5" --detector opencv -o m.fgraph --quiet || { echo "hostile-check: convert failed" >&2; exit 1; }
"$facec" convert "$root/Weights/deepid-random.h5" --detector opencv --weights int8 -o other.fgraph --quiet
cp "$root/Weights/demo-face.jpg" a.jpg
cp "$root/Weights/demo-couple.jpg" b.jpg
printf 'file_x,file_y\na.jpg,b.jpg\n' > pairs.csv
writers() {   # the output-writing commands, each given $1 as its output
    echo "run --npy|$facec run m.fgraph a.jpg --npy $1"
    echo "verify --pairs -o|$facec verify m.fgraph --pairs pairs.csv -o $1"
    echo "facec-run run --npy|$facec_run run m.fgraph a.jpg --npy $1"
}

# 1. Outputs that are devices, FIFOs, links, directories.
if mknod nulldev c 1 3 2>/dev/null && mknod fulldev c 1 7 2>/dev/null; then
    while IFS='|' read -r name cmd; do
        ok "$name to a null device" $cmd
        [ "$(kind nulldev)" = "character special file" ] || bad "$name replaced a character device: $(kind nulldev)"
    done < <(writers nulldev)
    while IFS='|' read -r name cmd; do
        refused "$name to a full device" "No space left on device" $cmd
        [ "$(kind fulldev)" = "character special file" ] || bad "$name replaced a character device"
    done < <(writers fulldev)
    refused "convert -o a device" "is a character device" "$facec" convert "$root/Weights/deepid-random.h5" -o nulldev
    [ "$(kind nulldev)" = "character special file" ] || bad "convert replaced a character device"
else
    skip "character devices (mknod needs root)"
fi
while IFS='|' read -r name cmd; do
    rm -f fifo got; mkfifo fifo
    (timeout 30 cat fifo > got) & reader=$!   # bounded: a writer that replaced the FIFO never opens it
    ok "$name to a FIFO" $cmd
    wait "$reader"
    [ "$(kind fifo)" = "fifo" ] || bad "$name replaced a FIFO"
    [ -s got ] || bad "$name: the FIFO's reader got nothing"
done < <(writers fifo)
while IFS='|' read -r name cmd; do
    rm -f private link; echo old > private; chmod 600 private; ln -s private link
    ok "$name through a symbolic link" $cmd
    [ "$(kind link)" = "symbolic link" ] || bad "$name replaced a symbolic link"
    [ "$(stat -c %a private)" = 600 ] || bad "$name changed the mode of a private file: $(stat -c %a private)"
    [ "$(head -c 3 private)" != old ] || bad "$name did not write through the link"
done < <(writers link)
ln -s "$work/nowhere/x" dangling
refused "a dangling link" "symbolic link to a missing file" "$facec" run m.fgraph a.jpg --npy dangling
refused "a directory" "is a directory" "$facec" run m.fgraph a.jpg --npy "$work"
refused "a missing directory, before any work" "does not exist" "$facec" verify m.fgraph --pairs pairs.csv -o no/such/x.csv

# 2. Outputs that are inputs: refused before any work, inputs unchanged.
cp m.fgraph m2.fgraph; cp "$root/Weights/deepid-random.h5" src.h5; ln b.jpg b-hard.npy
sums=$(sha256sum a.jpg b.jpg m2.fgraph src.h5 pairs.csv)
refused "run --npy = a photo" "is also an input" "$facec" run m.fgraph a.jpg b.jpg --npy b.jpg
refused "run --npy = the model" "is also an input" "$facec" run m2.fgraph a.jpg --npy m2.fgraph
refused "run --npy = a hard link to a photo" "is also an input" "$facec" run m.fgraph a.jpg b.jpg --npy b-hard.npy
refused "convert -o = the source" "is also an input" "$facec" convert src.h5 -o src.h5
refused "verify -o = the pairs file" "is also an input" "$facec" verify m.fgraph --pairs pairs.csv -o pairs.csv
refused "facec-run run --npy = a photo" "is also an input" "$facec_run" run m.fgraph a.jpg b.jpg --npy b.jpg
refused "gallery add into a photo" "is also an input" "$facec" gallery add m.fgraph b.jpg a.jpg b.jpg
mkdir -p crops; cp a.jpg crops/a_face0.png
refused "detect --crops over a photo" "where a crop would be written" "$facec" detect m.fgraph a.jpg crops/a_face0.png --crops crops
[ "$(sha256sum a.jpg b.jpg m2.fgraph src.h5 pairs.csv)" = "$sums" ] || bad "an input was changed"
cmp -s a.jpg crops/a_face0.png || bad "a photo in the crops folder was overwritten"

# 3. Inputs that are not regular files: refused at once, never read.
rm -f fifo; mkfifo fifo
refused "a FIFO as a photo" "FIFO" "$facec" run m.fgraph fifo
refused "a FIFO as the model" "FIFO" "$facec" run fifo a.jpg
refused "a FIFO as the pairs list" "FIFO" "$facec" verify m.fgraph --pairs fifo
refused "a FIFO as weights" "FIFO" "$facec" convert fifo
refused "/dev/zero as a photo" "is a character device, not a regular file" "$facec" run m.fgraph /dev/zero
refused "--threads 100000" "--threads must be 1 to 1024" "$facec" bench m.fgraph --threads 100000
refused "--threshold 0x10" "not a decimal number" "$facec" verify m.fgraph a.jpg b.jpg --threshold 0x10
refused "an option twice" "given more than once" "$facec" run m.fgraph a.jpg --threads 2 --threads 1

# 4. Gallery folders with symbolic link loops.
mkdir -p people/x people/y; cp a.jpg people/x/; cp b.jpg people/y/
ln -s .. people/x/up; ln -s ../x people/y/over; ln -s . people/y/self
ok "gallery add over link loops" "$facec" gallery add m.fgraph loops.db people
[ "$("$facec" gallery list loops.db | wc -l)" -eq 2 ] || bad "gallery add over link loops: $("$facec" gallery list loops.db | wc -l) photos, want 2"

# 5. Two adds creating one new gallery at once.
lost=0
for trial in $(seq 10); do
    rm -f race.db race.db-*
    "$facec" gallery add m.fgraph race.db a.jpg >/dev/null 2>race1 & p1=$!
    "$facec" gallery add m.fgraph race.db b.jpg >/dev/null 2>race2 & p2=$!
    wait $p1 || bad "concurrent gallery creation, trial $trial: $(cat race1)"
    wait $p2 || bad "concurrent gallery creation, trial $trial: $(cat race2)"
    [ "$("$facec" gallery list race.db 2>/dev/null | wc -l)" -eq 2 ] || lost=$((lost + 1))
done
checks=$((checks + 10))
[ $lost -eq 0 ] || bad "concurrent gallery creation lost photos in $lost of 10 trials"

# 6. The model file replaced in place (cp over it) while runs use it: each run
# is wholly the old model or wholly the new one (or, caught mid-copy, a clean
# refusal naming the file): never a crash, nulls, or a mixture.
photos=(); for i in $(seq 40); do photos+=(a.jpg b.jpg); done
strip() { sed 's/"ms":[^,]*,"network_ms":[^}]*//' "$1"; }
"$facec" run m.fgraph "${photos[@]}" > expected-m.jsonl
"$facec" run other.fgraph "${photos[@]}" > expected-other.jsonl
cp m.fgraph live.fgraph
( for i in $(seq 300); do cp other.fgraph live.fgraph; cp m.fgraph live.fgraph; done ) & copier=$!
for attempt in 1 2 3 4 5; do
    checks=$((checks + 1))
    run 120 "$facec" run live.fgraph "${photos[@]}" --threads 2
    if [ "$rc" -eq 0 ]; then
        strip "$work/stdout" > got.jsonl
        cmp -s got.jsonl <(strip expected-m.jsonl) || cmp -s got.jsonl <(strip expected-other.jsonl) \
            || bad "model replaced while running: the output is neither model's"
    elif [ "$rc" -ge 124 ]; then bad "model replaced while running: status $rc: $err"
    else [[ "$err" == *"live.fgraph: "* ]] || bad "model replaced while running: $err"
    fi
done
kill $copier 2>/dev/null; wait $copier 2>/dev/null

# 7. A pids-limited cgroup (containers): the threads that exist do the work.
if [ -w /sys/fs/cgroup/pids ] && mkdir /sys/fs/cgroup/pids/facec-hostile-$$ 2>/dev/null; then
    cgroup=/sys/fs/cgroup/pids/facec-hostile-$$
elif [ -w /sys/fs/cgroup/cgroup.subtree_control ] && grep -qw pids /sys/fs/cgroup/cgroup.controllers 2>/dev/null \
     && mkdir /sys/fs/cgroup/facec-hostile-$$ 2>/dev/null; then
    cgroup=/sys/fs/cgroup/facec-hostile-$$
fi
if [ -n "$cgroup" ] && echo 6 > "$cgroup/pids.max" 2>/dev/null; then
    limited=(sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cgroup")   # joins the cgroup, then runs the command
    for cmd in "bench m.fgraph --threads 8 --runs 20" "bench m.fgraph --threads 8 --batch 8 --runs 5" \
               "run m.fgraph a.jpg b.jpg a.jpg --threads 8" "detect m.fgraph a.jpg b.jpg --threads 8" \
               "verify m.fgraph a.jpg b.jpg --threads 8" "gallery add m.fgraph pids.db people --threads 8"; do
        ok "pids.max=6: $cmd" "${limited[@]}" "$facec" $cmd
    done
    ok "pids.max=6: facec-run" "${limited[@]}" "$facec_run" run m.fgraph a.jpg b.jpg --threads 8
else
    skip "pids-limited cgroup (needs a writable pids controller)"
fi

# 8. A full file system: the cause named, no partial or temporary file left.
mkdir -p small
if mount -t tmpfs -o size=256k tmpfs small 2>/dev/null; then
    head -c 200000 /dev/zero > small/filler
    refused "convert to a full disk" "No space left on device" "$facec" convert "$root/Weights/deepid-random.h5" -o small/m.fgraph
    photos=(); for i in $(seq 300); do photos+=(a.jpg); done
    head -c 60000 /dev/zero > small/filler2 2>/dev/null
    refused "run --npy to a full disk" "No space left on device" "$facec" run m.fgraph "${photos[@]}" --npy small/e.npy
    [ "$(ls -A small | grep -v '^filler')" = "" ] || bad "a full disk left files: $(ls -A small)"
    umount small
else
    skip "full file system (mounting a tmpfs needs root)"
fi

# 9. The MTCNN detector (mtcnn 1.0.0's weights, fetched by set-up): damaged
# weight files refused before anything is written; hostile photos end in one line.
mtcnn_dir=${XDG_CACHE_HOME:-$HOME/.cache}/facec-weights/mtcnn-1.0.0
if [ -f "$mtcnn_dir/onet.lz4" ]; then
    mkdir -p mw && cp "$mtcnn_dir"/*.lz4 mw/
    ok "convert --detector mtcnn" "$facec" convert "$root/Weights/deepid-random.h5" --detector mtcnn --mtcnn-weights mw -o mt.fgraph --quiet
    ok "detect with mtcnn" "$facec_run" detect mt.fgraph a.jpg
    head -c 1000 "$mtcnn_dir/pnet.lz4" > mw/pnet.lz4
    refused "truncated pnet.lz4" "pnet.lz4" "$facec" convert "$root/Weights/deepid-random.h5" --detector mtcnn --mtcnn-weights mw -o mt2.fgraph
    [ ! -e mt2.fgraph ] || bad "a model was written from a truncated pnet.lz4"
    cp "$mtcnn_dir/pnet.lz4" mw/pnet.lz4 && cp "$mtcnn_dir/onet.lz4" mw/rnet.lz4
    refused "onet weights as rnet.lz4" "rnet.lz4" "$facec" convert "$root/Weights/deepid-random.h5" --detector mtcnn --mtcnn-weights mw -o mt2.fgraph
    refused "--mtcnn-weights without --detector mtcnn" "--mtcnn-weights goes with --detector mtcnn" "$facec" convert "$root/Weights/deepid-random.h5" --mtcnn-weights mw -o mt2.fgraph
    refused "--detector opencv on an mtcnn model" "carries the mtcnn detector" "$facec" run mt.fgraph a.jpg --detector opencv
    head -c 3000 a.jpg > cut.jpg
    refused "a truncated JPEG with mtcnn" "cut.jpg" "$facec" detect mt.fgraph cut.jpg
    printf 'P6\n1 1\n255\n' > one.ppm
    refused "a PPM photo with mtcnn" "one.ppm" "$facec" detect mt.fgraph one.ppm
else
    skip "MTCNN (run scripts/fetch-weights.sh mtcnn)"
fi

echo "hostile-check: $checks checks, $failures failed${skipped:+; skipped: ${skipped[*]}}" >&2
[ $failures -eq 0 ]
