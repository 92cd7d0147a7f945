#!/usr/bin/env bash
# Detection quality with real weights, facec's two detectors side by side (deepface's
# "opencv" and "mtcnn" backends, which facec reproduces): faces found and faces with
# both eyes on the 64 shared photos and on the same photos turned by -30 and +30
# degrees (OpenCV's warpAffine, edges replicated), and verify --pairs accuracy on
# master.csv with the Dlib model. Needs the fixtures venv (OpenCV) and the Dlib and
# MTCNN weights (scripts/setup.sh).
#
#   scripts/bench/detector_quality.sh
source "$(dirname "$0")/setup.sh"
weights=$("$root/scripts/fetch-weights.sh" dlib)
for d in opencv mtcnn; do "$facec" convert "$weights" --detector $d -o "$tmp/$d.fgraph" --quiet; done
mkdir -p "$tmp/turned"
"$python" - "$faces" "$tmp/turned" <<'PY'
import cv2, glob, os, sys
for p in sorted(glob.glob(os.path.join(sys.argv[1], "*.jpg"))):
    img = cv2.imread(p)
    h, w = img.shape[:2]
    for a in (-30, 30):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), a, 1.0)
        out = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
        cv2.imwrite(os.path.join(sys.argv[2], f"{os.path.basename(p)[:-4]}_turned{a}.jpg"), out, [cv2.IMWRITE_JPEG_QUALITY, 95])
PY
count() {  # MODEL PHOTOS...: photos, photos with a face, faces, faces with both eyes
    "$facec" detect "$1" "${@:2}" --json --no-enforce-detection | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
found = [r for r in rows if r.get("face_confidence", 0) > 0]
both = sum(1 for r in found if r["facial_area"]["left_eye"] and r["facial_area"]["right_eye"])
photos, hit = len(set(r["input"] for r in rows)), len(set(r["input"] for r in found))
print(f"{photos:4} photos, {hit:4} with a face, {len(found):4} faces, {both:4} with both eyes")'
}
for d in opencv mtcnn; do
    echo "$d, shared photos:  $(count "$tmp/$d.fgraph" "$faces"/*.jpg)"
    echo "$d, turned ±30°:    $(count "$tmp/$d.fgraph" "$tmp"/turned/*.jpg)"
    echo "$d, Dlib on master.csv: $("$facec" verify "$tmp/$d.fgraph" --pairs "$faces/master.csv" --root "$faces" -o "$tmp/pairs.csv")"
done
