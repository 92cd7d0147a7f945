#!/usr/bin/env python3
"""What facec's Python layer costs per call: DeepFace.represent on a preloaded
model against the same call made by a C program through the C API
(c_represent_loop.c), same model, photo, flags and one thread, alternated in
rounds so both see the same machine; prints median microseconds per call and
the difference. Also: photos/s of 1 and 2 Python threads over the shared photos
(one shared model, a native session per thread), and their ratio.

    python3 scripts/bench/python_overhead.py --model DeepID.fgraph [--rounds 2000] [--photos ../shared/faces]
(run with the interpreter that has the facec wheel installed; needs cc and dist/ from scripts/build-edge.sh)
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def c_loop(binary, model, target, width, height, rounds, flags):
    env = dict(os.environ, FACEC_FLAGS=str(flags), LD_LIBRARY_PATH=os.path.join(ROOT, "dist", "lib"))
    out = subprocess.run([binary, model, target, str(width), str(height), str(rounds)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(out)


def py_loop(fn, rounds):
    for _ in range(10):
        fn()
    t = []
    for _ in range(rounds):
        s = time.perf_counter()
        fn()
        t.append((time.perf_counter() - s) * 1e6)
    return statistics.median(t)


def throughput(model_path, photos, threads, repeat):
    from facec import DeepFace, Model
    model = Model(model_path, threads=1)
    DeepFace.represent(photos[0], model=model)
    work = [p for _ in range(repeat) for p in photos]
    lock = threading.Lock()
    index = [0]

    def worker():
        DeepFace.represent(photos[0], model=model)  # this thread's session
        while True:
            with lock:
                i = index[0]
                index[0] += 1
            if i >= len(work):
                return
            DeepFace.represent(work[i], model=model, enforce_detection=False)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(work) / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3, help="alternations of C and Python")
    ap.add_argument("--photos", default=os.path.join(os.path.dirname(ROOT), "shared", "faces"))
    args = ap.parse_args()
    from facec import DeepFace, Model
    tmp = tempfile.mkdtemp()
    binary = os.path.join(tmp, "c_represent_loop")
    subprocess.run(["cc", "-O2", "-I", os.path.join(ROOT, "dist", "include"), os.path.join(ROOT, "scripts", "bench", "c_represent_loop.c"),
                    os.path.join(ROOT, "dist", "lib", "libfacec.so"), "-o", binary], check=True)
    model = Model(args.model, threads=1)
    crop = os.path.join(ROOT, "Weights", "demo-face.jpg")
    bgr = np.ascontiguousarray(DeepFace.extract_faces(crop, model=model, detector_backend="skip", color_face="bgr",
                                                      normalize_face=False)[0]["face"])
    raw = os.path.join(tmp, "pixels.raw")
    bgr.tofile(raw)
    h, w = bgr.shape[:2]
    print(f"# {model.name} ({args.model}), one thread, median of {args.rounds} calls per run, {args.repeats} alternations")
    print(f"# {'call':<44} {'C API us':>9} {'Python us':>10} {'extra us':>9}")
    cases = [
        ("represent(file, skip) / facec_embed_file", crop, 0, 0, 1,
         lambda: DeepFace.represent(crop, model=model, detector_backend="skip")),
        ("represent(ndarray, skip) / facec_embed_pixels", raw, w, h, 1,
         lambda: DeepFace.represent(bgr, model=model, detector_backend="skip")),
        ("represent(file) with detection / facec_embed_file", crop, 0, 0, 0,
         lambda: DeepFace.represent(crop, model=model, enforce_detection=False)),
    ]
    for name, target, cw, ch, flags, fn in cases:
        rounds = args.rounds if flags else max(50, args.rounds // 20)
        cs, ps = [], []
        for _ in range(args.repeats):
            cs.append(c_loop(binary, args.model, target, cw, ch, rounds, flags | (0 if flags else 4)))
            ps.append(py_loop(fn, rounds))
        c, p = statistics.median(cs), statistics.median(ps)
        print(f"  {name:<44} {c:9.1f} {p:10.1f} {p - c:9.1f}")
    photos = sorted(os.path.join(args.photos, f) for f in os.listdir(args.photos) if f.lower().endswith((".jpg", ".png")))
    one = throughput(args.model, photos, 1, 1)
    two = throughput(args.model, photos, 2, 1)
    print(f"# photos/s over {len(photos)} photos (detection + network, a session of 1 thread each): "
          f"1 Python thread {one:.1f}, 2 threads {two:.1f}: {two / one:.2f}x (cores: {len(os.sched_getaffinity(0))})")


if __name__ == "__main__":
    main()
