#!/usr/bin/env python3
"""facec's face detection against OpenCV's, photo by photo, in the same run.

For every photo of ../shared/faces, interleaved so both see the same machine state:
  OpenCV  what deepface's opencv detector runs: the black border of half the size,
          detectMultiScale3(img, 1.1, 10, outputRejectLevels=True) on it, then per face
          cvtColor + the eye cascade's detectMultiScale(gray, 1.1, 10); cv2.setNumThreads(T).
          Decoding is not timed (cv2.imread before the clock starts).
  facec   `facec detect MODEL PHOTO --timing --threads T`: its own split of the same work
          (frame and grey, pyramid rows with integral images, cascade, eyes) plus the
          alignment, which the OpenCV figure does not include; decoding reported apart.
With --deepface (deepface importable): deepface's DeepFace.extract_faces per photo
(decode, detect, align) against `facec run` per photo (decode, detect, align, DeepID).

Prints medians over the photos and the ratio facec/OpenCV (the goal: <= 0.5), the
worst photo, the shares of facec's time, and the whole set through one `facec detect`
process (what a user runs) against OpenCV's total.

  scripts/bench/detection.sh [--threads T] [--deepface]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import cv2

CASCADES = "/usr/share/opencv4/haarcascades/"


def opencv_detect(face, eye, img):
    h, w = img.shape[:2]
    b = cv2.copyMakeBorder(img, int(0.5 * h), int(0.5 * h), int(0.5 * w), int(0.5 * w), cv2.BORDER_CONSTANT, value=[0, 0, 0])
    faces, _, _ = face.detectMultiScale3(b, 1.1, 10, outputRejectLevels=True)
    for (x, y, fw, fh) in (faces if len(faces) else []):
        gray = cv2.cvtColor(b[int(y):int(y + fh), int(x):int(x + fw)], cv2.COLOR_BGR2GRAY)
        eye.detectMultiScale(gray, 1.1, 10)
    return len(faces)


def facec_detect(facec, model, path, threads):
    out = subprocess.run([facec, "detect", model, path, "--timing", "--threads", str(threads), "--no-enforce-detection"],
                         check=True, capture_output=True, text=True).stdout
    lines = [json.loads(l) for l in out.splitlines() if l.strip()]
    return lines[0]["timing_ms"], sum(1 for l in lines if "facial_area" in l and l.get("face_confidence", 0) > 0)


def med(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--facec", required=True)
    ap.add_argument("--model", required=True, help="a .fgraph with the opencv detector")
    ap.add_argument("--faces", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--deepface", action="store_true")
    a = ap.parse_args()
    cv2.setNumThreads(a.threads)
    face = cv2.CascadeClassifier(CASCADES + "haarcascade_frontalface_default.xml")
    eye = cv2.CascadeClassifier(CASCADES + "haarcascade_eye.xml")
    photos = sorted(n for n in os.listdir(a.faces) if n.lower().endswith((".jpg", ".jpeg", ".png", ".webp")))
    rows = []
    for n in photos:
        p = os.path.join(a.faces, n)
        img = cv2.imread(p)
        t0 = time.perf_counter()
        count = opencv_detect(face, eye, img)
        cv_ms = (time.perf_counter() - t0) * 1e3
        t, fcount = facec_detect(a.facec, a.model, p, a.threads)
        rows.append((n, cv_ms, t, count, fcount))
    cv = [r[1] for r in rows]
    fd = [r[2]["detection"] - r[2]["alignment"] for r in rows]   # the work OpenCV's figure covers
    fa = [r[2]["detection"] for r in rows]
    print(f"OpenCV {cv2.__version__} vs facec, {len(rows)} photos, {a.threads} thread(s); ms per photo")
    print(f"{'':34} {'median':>9} {'mean':>9} {'worst':>9}")
    print(f"{'OpenCV detectMultiScale3 + eyes':34} {med(cv):9.1f} {statistics.mean(cv):9.1f} {max(cv):9.1f}")
    print(f"{'facec, the same work':34} {med(fd):9.1f} {statistics.mean(fd):9.1f} {max(fd):9.1f}")
    print(f"{'facec, with alignment':34} {med(fa):9.1f} {statistics.mean(fa):9.1f} {max(fa):9.1f}")
    ratios = [f / c for f, c in zip(fd, cv)]
    worst = max(range(len(rows)), key=lambda i: cv[i])
    print(f"ratio facec/OpenCV: of medians {med(fd) / med(cv):.3f}, median per photo {med(ratios):.3f}, "
          f"worst photo per photo {max(ratios):.3f}; on OpenCV's slowest photo ({rows[worst][0]}) {fd[worst] / cv[worst]:.3f}")
    mismatched = [r[0] for r in rows if r[3] != r[4]]
    if mismatched:
        print(f"note: face counts differ from OpenCV's raw detections on {mismatched} (deepface drops empty crops)")
    keys = ["decode", "frame_gray", "pyramid", "cascade", "eyes", "alignment"]
    total = {k: sum(r[2][k] for r in rows) for k in keys}
    whole = sum(total.values())
    print("facec's time over all photos: " + ", ".join(f"{k} {100 * total[k] / whole:.1f}%" for k in keys))

    # The whole set through one process, as a user runs it.
    paths = [os.path.join(a.faces, n) for n in photos]
    t0 = time.perf_counter()
    subprocess.run([a.facec, "detect", a.model, *paths, "--json", "--threads", str(a.threads), "--no-enforce-detection"],
                   check=True, capture_output=True)
    facec_all = time.perf_counter() - t0
    t0 = time.perf_counter()
    for p in paths:
        opencv_detect(face, eye, cv2.imread(p))
    cv_all = time.perf_counter() - t0
    print(f"all {len(paths)} photos, decoding included: facec detect (one process) {facec_all:.2f} s, "
          f"OpenCV imread + detection {cv_all:.2f} s, ratio {facec_all / cv_all:.3f}")

    if a.deepface:
        deepface_vs_run(a, paths)


def deepface_vs_run(a, paths):
    """deepface's detection alone (extract_faces) against facec's whole run with DeepID."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from deepface import DeepFace
    df, fr = [], []
    for p in paths:
        t0 = time.perf_counter()
        try:
            DeepFace.extract_faces(img_path=p, detector_backend="opencv", align=True, enforce_detection=False)
        except ValueError:
            pass
        df.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        subprocess.run([a.facec, "run", a.model, p, "--threads", str(a.threads), "--no-enforce-detection"], check=True, capture_output=True)
        fr.append((time.perf_counter() - t0) * 1e3)
    print(f"deepface extract_faces (decode, detect, align) median {med(df):.1f} ms; facec run (process start, model load, "
          f"decode, detect, align, DeepID) median {med(fr):.1f} ms; ratio {med(fr) / med(df):.3f}")


if __name__ == "__main__":
    sys.exit(main())
