#!/usr/bin/env python3
"""facec's MTCNN detector against deepface's "mtcnn" backend, photo by photo, in one run.

For every photo of ../shared/faces, interleaved so both see the same machine state:
  deepface  DeepFace.extract_faces(img, detector_backend="mtcnn", enforce_detection=False)
            on the array cv2.imread decoded before the clock starts (so: detection,
            alignment and deepface's own steps, not decoding), TensorFlow limited to
            T intra-op and inter-op threads; one warm-up call first (model loading).
  facec     `facec detect MODEL PHOTO --timing --threads T` with the mtcnn model: its
            detection time (decoding reported apart, not counted), and the same with
            the opencv (Haar) model for the ratio between facec's two detectors.
Prints medians over the photos, the ratios (goal: facec mtcnn <= 0.25x deepface's),
and the whole set through one `facec detect` process against deepface's total.

  scripts/bench/mtcnn.sh [--threads T]
"""
import argparse
import json
import os
import statistics
import subprocess
import time


def facec_detect(facec, model, path, threads):
    out = subprocess.run([facec, "detect", model, path, "--timing", "--threads", str(threads), "--no-enforce-detection"],
                         check=True, capture_output=True, text=True).stdout
    lines = [json.loads(l) for l in out.splitlines() if l.strip()]
    return lines[0]["timing_ms"]["detection"], sum(1 for l in lines if l.get("face_confidence", 0) > 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--facec", required=True)
    ap.add_argument("--mtcnn-model", required=True)
    ap.add_argument("--opencv-model", required=True)
    ap.add_argument("--faces", required=True)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import cv2
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    from deepface import DeepFace
    photos = sorted(n for n in os.listdir(a.faces) if n.lower().endswith((".jpg", ".jpeg", ".png", ".webp")))
    paths = [os.path.join(a.faces, n) for n in photos]
    DeepFace.extract_faces(cv2.imread(paths[0]), detector_backend="mtcnn", enforce_detection=False)
    rows = []
    for p in paths:
        img = cv2.imread(p)
        t0 = time.perf_counter()
        faces = DeepFace.extract_faces(img, detector_backend="mtcnn", enforce_detection=False)
        df_ms = (time.perf_counter() - t0) * 1e3
        mt, mcount = facec_detect(a.facec, a.mtcnn_model, p, a.threads)
        hr, _ = facec_detect(a.facec, a.opencv_model, p, a.threads)
        dcount = sum(1 for f in faces if f["confidence"] > 0)
        rows.append((os.path.basename(p), df_ms, mt, hr, dcount, mcount))
    med = statistics.median
    df, mt, hr = [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]
    print(f"deepface mtcnn vs facec, {len(rows)} photos, {a.threads} thread(s); ms per photo, decoding excluded")
    print(f"{'':30} {'median':>9} {'mean':>9} {'worst':>9}")
    for name, xs in [("deepface extract_faces mtcnn", df), ("facec mtcnn", mt), ("facec opencv (Haar)", hr)]:
        print(f"{name:30} {med(xs):9.1f} {statistics.mean(xs):9.1f} {max(xs):9.1f}")
    ratios = [m / d for m, d in zip(mt, df)]
    print(f"ratio facec mtcnn / deepface mtcnn: of sums {sum(mt) / sum(df):.3f}, median per photo {med(ratios):.3f}, worst photo {max(ratios):.3f}")
    print(f"ratio facec mtcnn / facec opencv: of sums {sum(mt) / sum(hr):.3f}, median per photo {med([m / h for m, h in zip(mt, hr)]):.3f}")
    differ = [r[0] for r in rows if r[4] != r[5]]
    print(f"face counts: deepface {sum(r[4] for r in rows)}, facec {sum(r[5] for r in rows)}" + (f"; differ on {differ}" if differ else ", same on every photo"))
    t0 = time.perf_counter()
    subprocess.run([a.facec, "detect", a.mtcnn_model, *paths, "--json", "--threads", str(a.threads), "--no-enforce-detection"],
                   check=True, capture_output=True)
    facec_all = time.perf_counter() - t0
    t0 = time.perf_counter()
    for p in paths:
        DeepFace.extract_faces(p, detector_backend="mtcnn", enforce_detection=False)
    df_all = time.perf_counter() - t0
    print(f"all {len(paths)} photos, decoding included: facec detect (one process) {facec_all:.2f} s, "
          f"deepface extract_faces {df_all:.2f} s, ratio {facec_all / df_all:.3f}")


if __name__ == "__main__":
    main()
