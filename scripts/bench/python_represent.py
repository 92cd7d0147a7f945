#!/usr/bin/env python3
"""Photos per second of `DeepFace.represent(path, model_name="DeepID", detector_backend="opencv")`
over the photos of ../shared/faces: deepface 0.0.103 on ONNX Runtime (as `pip install deepface`
installs it), deepface 0.0.103 on TensorFlow, and facec's Python package
(`from facec import DeepFace`), measured in one run, on the same CPUs and thread count.

  python3 scripts/bench/python_represent.py --peers-only [--threads 1,2] [--limit N] [--dlib]
  python3 scripts/bench/python_represent.py --facec-python PY --model DEEPID.fgraph \\
      [--dlib --dlib-model DLIB.fgraph] [--threads 1,2] [--rounds R] [--json OUT.json]

The driver needs only the standard library (run it with any python3). It runs one worker
process (this same file, `--worker ...`) per flavour, thread count and round, one at a time,
each with its own interpreter, and reads one JSON line from it:

  flavour       interpreter (default)                              represent call
  deepface-onnx --onnx-python ~/.cache/facec-deepface-onnx-venv     deepface.DeepFace.represent(path,
                (`pip install deepface==0.0.103` + Werkzeug, see      model_name=M, detector_backend="opencv")
                below: deepface picks onnxruntime there)
  deepface-tf   --tf-python ~/.cache/facec-fixtures-venv             the same
                (deepface 0.0.103 --no-deps + TensorFlow 2.21, tf-keras,
                 OpenCV 4.14, dlib-bin: scripts/fixtures/README.md)
  facec         --facec-python (required unless --peers-only)        facec.DeepFace.represent(path,
                with PYTHONPATH=<repo>/python prepended; FACEC_LIBRARY    model_name=M, model=FGRAPH,
                passed through, or set by --facec-library               detector_backend="opencv")

M is "DeepID" (deepface loads Weights/deepid-random.h5 as deepid_keras_weights.h5, or
deepid_weights.onnx made from it by deepid_onnx.py; facec loads --model, made by
`facec convert Weights/deepid-random.h5 --detector opencv -o ...`). With --dlib, also "Dlib"
(dlib's ResNet with its real weights, from `scripts/fetch-weights.sh dlib`, linked into
DEEPFACE_HOME; deepface's Dlib client calls the dlib library whatever its backend, so it runs
in each deepface venv that has dlib; facec loads --dlib-model, made by
`facec convert ~/.cache/facec-weights/dlib_face_recognition_resnet_model_v1.dat --detector opencv`).
All deepface workers share DEEPFACE_HOME=--home (default ~/.cache/facec-bench/deepface-home);
nothing is downloaded. Run deepid_onnx.py once first (it writes the weights there and checks them).

Photos: the image files (.jpg .jpeg .png .webp .bmp) of --faces, sorted; --limit N keeps the
first N. The ONNX venv's deepface first tries to load each (deepface.commons.image_utils.load_image,
as represent does); files it cannot read are listed and left out for every flavour. A photo on
which a represent call raises (e.g. no face) is listed with the error; its time still counts.

What a worker measures: import, model build (modeling.build_model of the recognition model and
of the opencv detector; facec: DeepFace.build_model(FGRAPH)) and one represent call on the first
photo are the warm-up (reported as startup_s, not timed); then one represent call per photo,
each timed with perf_counter. Printed per row: photos, faces, seconds, photos/s, the median and
p90 ms per photo, the median ms per photo spent in the recognition model's own call (deepface:
its client's forward, wrapped and timed, not changed; facec: not available), CPU time / wall
time, and the ratio facec photos/s / peer photos/s (> 1: facec faster) for each peer row of the
same model and threads. With --rounds R the whole sequence is repeated R times (alternating
flavours) and each round is a row. The driver also compares the faces found (number and
x, y, w, h per photo) across flavours and prints the photos where they differ.

Threads (--threads 1, 2 or a list such as 1,2). For every worker:
 - CPU affinity: the worker is pinned to CPUs 0..N-1 (os.sched_setaffinity before exec, what
   `taskset -c 0-(N-1)` does; --no-pin to leave it). This bounds every thread pool below,
   including the ones that cannot be set.
 - env OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS = N; FACEC_THREADS = N.
 - OpenCV: cv2.setNumThreads(N) in the deepface workers (the Haar cascades run in OpenCV's
   parallel_for; the face order may depend on the thread count, the faces do not).
 - ONNX Runtime: deepface 0.0.103 gives no way to set its threads: onnx_utils.build_session
   creates `ort.SessionOptions()` with only log_severity_level set, so intra_op_num_threads is
   0 (ORT's default: one thread per physical core, spinning) and there is no environment
   variable for it. The worker replaces onnxruntime.SessionOptions, before deepface builds its
   session, with a subclass whose constructor sets intra_op_num_threads=N and
   inter_op_num_threads=1 (execution mode stays sequential); deepface's own build_session then
   builds the session as usual. The applied values are read back from the session.
 - TensorFlow: tf.config.threading.set_intra_op_parallelism_threads(N) and
   set_inter_op_parallelism_threads(N) before deepface builds its model (deepface sets none),
   plus TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS = N. oneDNN stays at TF's default (on).
 - dlib (Dlib rows): compute_face_descriptor has no thread setting; dlib-bin is built without
   BLAS; only the CPU affinity bounds it.
 - facec: FACEC_THREADS = N (the package is expected to honour it).
--as-installed leaves ONNX Runtime, TensorFlow and OpenCV at their defaults (only the CPU
affinity and the environment variables above are set), to see what deepface does by itself.

"other" is how many CPUs other processes kept busy while a worker ran (/proc/stat minus the
worker's own CPU time); rows above 0.1 are flagged: re-run them on a quiet machine.

Versions. The ONNX venv is made as a user makes it:
  python3 -m venv ~/.cache/facec-deepface-onnx-venv
  ~/.cache/facec-deepface-onnx-venv/bin/pip install deepface==0.0.103
  ~/.cache/facec-deepface-onnx-venv/bin/pip install Werkzeug==3.1.9
`pip install deepface==0.0.103` pulls onnxruntime 1.32.0, opencv-contrib-python-headless
5.1.0.95, numpy 2.4.6, pandas 3.1.1, retina-face 0.0.19, gdown, requests, tqdm...; no TensorFlow,
no PyTorch, so deepface runs on ONNX Runtime. Werkzeug is needed because deepface 0.0.103 imports
it in deepface/commons/image_utils.py without requiring it (only its [api] extra brings it,
through Flask): without it `from deepface import DeepFace` fails. The TF venv pins OpenCV 4.14
(opencv-python-headless), so the two deepface rows differ in OpenCV's version too (their Haar
cascades find the same faces on all 64 photos; their cv2.warpAffine differs slightly, see
deepid_onnx.py); each worker reports its versions.

First measurement (peers only, 64 photos, 73 faces, quiet machine: other <= 0.02; AMD EPYC, 2 cores):
  deepface-onnx DeepID  1 thread  0.764 photos/s  median 792 ms  net 0.57 ms
  deepface-tf   DeepID  1 thread  0.749 photos/s  median 802 ms  net 11.8 ms
  deepface-onnx DeepID  2 threads 1.317 photos/s  median 441 ms  net 0.56 ms
  deepface-tf   DeepID  2 threads 1.325 photos/s  median 443 ms  net 12.3 ms
The network is under 2% of a photo's time; OpenCV's face and eye cascades on the bordered
full-size photo are nearly all of it.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path.home() / ".cache"
DEFAULT_HOME = CACHE / "facec-bench" / "deepface-home"
DEFAULT_ONNX_PY = CACHE / "facec-deepface-onnx-venv" / "bin" / "python"
DEFAULT_TF_PY = CACHE / "facec-fixtures-venv" / "bin" / "python"
DLIB_DAT = "dlib_face_recognition_resnet_model_v1.dat"
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


# ====================================================================== worker side

def _areas(reps):
    out = []
    for r in reps:
        try:
            a = r["facial_area"]
            out.append([int(a["x"]), int(a["y"]), int(a["w"]), int(a["h"])])
        except Exception:  # noqa: BLE001 - an unexpected result shape is reported, not fatal
            out.append(None)
    return out


def _timed_loop(represent, photos, forward_times):
    per_photo, results, errors = [], {}, {}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for p in photos:
        n_fwd = len(forward_times) if forward_times is not None else 0
        t0 = time.perf_counter()
        try:
            reps = represent(p)
            results[Path(p).name] = _areas(reps)
        except Exception as e:  # noqa: BLE001 - recorded per photo
            errors[Path(p).name] = f"{type(e).__name__}: {e}"
        dt = time.perf_counter() - t0
        per_photo.append(dt)
        if forward_times is not None and len(forward_times) > n_fwd:  # one entry per photo
            calls = forward_times[n_fwd:]
            del forward_times[n_fwd:]
            forward_times.append(sum(calls))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return per_photo, results, errors, wall, cpu


def _summary(per_photo, results, errors, wall, cpu, forward_times):
    ms = sorted(1000 * t for t in per_photo)
    out = {"photos": len(per_photo), "faces": sum(len(v) for v in results.values()),
           "seconds": wall, "photos_per_s": len(per_photo) / wall if wall > 0 else None,
           "median_ms": statistics.median(ms) if ms else None,
           "p90_ms": ms[min(len(ms) - 1, int(0.9 * len(ms)))] if ms else None,
           "cpu_util": cpu / wall if wall > 0 else None,
           "errors": errors, "areas": results}
    if forward_times:
        out["net_median_ms"] = statistics.median(1000 * t for t in forward_times)
        out["net_total_s"] = sum(forward_times)
    return out


def worker_list(args):
    """Which photos deepface can load (as represent does: image_utils.load_image, None check)."""
    import cv2
    import deepface
    from deepface.commons import image_utils
    ok, skipped = [], {}
    for p in args.photo:
        try:
            img, _ = image_utils.load_image(p)
            if img is None:
                raise ValueError(f"cv2.imread (OpenCV {cv2.__version__}) cannot decode it")
            ok.append(p)
        except Exception as e:  # noqa: BLE001
            skipped[Path(p).name] = f"{type(e).__name__}: {e}"
    print(json.dumps({"deepface": deepface.__version__, "opencv": cv2.__version__,
                      "ok": ok, "skipped": skipped}))
    return 0


def worker_deepface(args, photos):
    t_start = time.perf_counter()
    n = args.threads
    applied = {"affinity": sorted(os.sched_getaffinity(0))}
    os.environ["DEEPFACE_HOME"] = args.home
    import numpy as np
    import cv2
    if not args.as_installed:
        cv2.setNumThreads(n)
    applied["cv2_threads"] = cv2.getNumThreads()

    from deepface.commons import backend_utils
    backend = backend_utils.get_backend_engine()
    versions = {"python": sys.version.split()[0], "numpy": np.__version__, "opencv": cv2.__version__}
    if backend == "tensorflow":
        import tensorflow as tf
        if not args.as_installed:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
        applied["tf_intra_op"] = tf.config.threading.get_intra_op_parallelism_threads()
        applied["tf_inter_op"] = tf.config.threading.get_inter_op_parallelism_threads()
        applied["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "(default)")
        versions["tensorflow"] = tf.__version__
        try:
            import tf_keras
            versions["tf_keras"] = tf_keras.__version__
        except ImportError:
            pass
    elif backend == "onnx":
        import onnxruntime as ort
        versions["onnxruntime"] = ort.__version__
        if not args.as_installed:
            base = ort.SessionOptions

            class ThreadedSessionOptions(base):  # what deepface's build_session instantiates
                def __init__(self, *a, **kw):
                    super().__init__(*a, **kw)
                    self.intra_op_num_threads = n
                    self.inter_op_num_threads = 1

            ort.SessionOptions = ThreadedSessionOptions
    import deepface
    from deepface import DeepFace
    from deepface.modules import modeling
    versions["deepface"] = deepface.__version__

    model = modeling.build_model(task="facial_recognition", model_name=args.model_name)
    modeling.build_model(task="face_detector", model_name="opencv")
    if backend == "onnx" and args.model_name != "Dlib":
        so = model.model.get_session_options()
        applied["ort_intra_op"] = so.intra_op_num_threads
        applied["ort_inter_op"] = so.inter_op_num_threads
        applied["ort_providers"] = model.model.get_providers()
    if args.model_name == "Dlib":
        import dlib
        versions["dlib"] = dlib.__version__
        applied["dlib_threads"] = "not settable (affinity only)"

    forward_times = []
    forward = model.forward

    def timed_forward(img):
        t0 = time.perf_counter()
        try:
            return forward(img)
        finally:
            forward_times.append(time.perf_counter() - t0)

    model.forward = timed_forward  # instance attribute; deepface calls model.forward(batch)

    def represent(p):
        return DeepFace.represent(p, model_name=args.model_name, detector_backend="opencv")

    represent(photos[0])  # warm-up
    forward_times.clear()
    startup = time.perf_counter() - t_start
    res = _summary(*_timed_loop(represent, photos, forward_times), forward_times)
    res.update({"flavour": f"deepface-{'onnx' if backend == 'onnx' else 'tf' if backend == 'tensorflow' else backend}",
                "backend": backend, "model": args.model_name, "threads": n, "applied": applied,
                "versions": versions, "startup_s": startup, "interpreter": sys.executable})
    print(json.dumps(res))
    return 0


def worker_facec(args, photos):
    t_start = time.perf_counter()
    import facec
    from facec import DeepFace
    applied = {"affinity": sorted(os.sched_getaffinity(0)), "FACEC_THREADS": os.environ.get("FACEC_THREADS")}
    versions = {"python": sys.version.split()[0], "facec": getattr(facec, "__version__", "?")}

    if hasattr(DeepFace, "build_model"):  # facec's build_model(path) opens and caches the model
        DeepFace.build_model(args.fgraph)

    def represent(p):
        return DeepFace.represent(p, model_name=args.model_name, model=args.fgraph, detector_backend="opencv")

    represent(photos[0])  # warm-up
    startup = time.perf_counter() - t_start
    res = _summary(*_timed_loop(represent, photos, None), None)
    res.update({"flavour": "facec", "backend": "facec", "model": args.model_name, "threads": args.threads,
                "applied": applied, "versions": versions, "startup_s": startup,
                "interpreter": sys.executable, "fgraph": args.fgraph})
    print(json.dumps(res))
    return 0


def worker_main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", required=True, choices=["list", "deepface", "facec"])
    ap.add_argument("--photo", action="append", default=[])
    ap.add_argument("--photos-file")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model-name", default="DeepID")
    ap.add_argument("--fgraph")
    ap.add_argument("--home", default=str(DEFAULT_HOME))
    ap.add_argument("--as-installed", action="store_true")
    args = ap.parse_args(argv)
    if args.photos_file:
        args.photo += json.loads(Path(args.photos_file).read_text())
    if args.worker == "list":
        return worker_list(args)
    if args.worker == "deepface":
        return worker_deepface(args, args.photo)
    return worker_facec(args, args.photo)


# ====================================================================== driver side

def log(msg):
    sys.stdout.flush()
    print(msg, file=sys.stderr, flush=True)


def cpu_busy_s():
    """Busy CPU seconds of the whole machine so far (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as fh:
        f = [int(v) for v in fh.readline().split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def run_worker(python, argv, env_extra, threads, pin, timeout=3600):
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
                "MKL_NUM_THREADS": str(threads), "FACEC_THREADS": str(threads),
                "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": str(threads),
                "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""})
    env.update(env_extra)
    cpus = set(range(threads))
    pre = (lambda: os.sched_setaffinity(0, cpus)) if pin else None
    ru0, busy0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_busy_s(), time.perf_counter()
    r = subprocess.run([str(python), str(Path(__file__).resolve()), *argv], env=env, capture_output=True,
                       text=True, preexec_fn=pre, timeout=timeout)
    ru1, busy1, wall = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_busy_s(), time.perf_counter() - t0
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        tail = "\n".join(r.stderr.strip().splitlines()[-15:])
        return {"error": f"exit status {r.returncode}: {tail}"}
    out = json.loads(lines[-1])
    own = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    # CPUs kept busy by other processes while the worker ran (0 on a quiet machine)
    out["other_load"] = max(0.0, (busy1 - busy0) - own) / wall if wall > 0 else None
    return out


def ensure_home(home, want_dlib):
    weights = home / ".deepface" / "weights"
    missing = [f for f in ("deepid_keras_weights.h5", "deepid_weights.onnx") if not (weights / f).exists()]
    if missing:
        sys.exit(f"{weights} lacks {', '.join(missing)}: run first\n"
                 f"  {DEFAULT_TF_PY} scripts/bench/deepid_onnx.py --home {home}")
    if want_dlib and not (weights / DLIB_DAT).exists():
        src = CACHE / "facec-weights" / DLIB_DAT
        if not src.exists():
            sys.exit(f"--dlib: {src} is missing; run scripts/fetch-weights.sh dlib")
        (weights / DLIB_DAT).symlink_to(src)


def has_module(python, module):
    r = subprocess.run([str(python), "-c", f"import importlib.util,sys; sys.exit(importlib.util.find_spec({module!r}) is None)"],
                       capture_output=True)
    return r.returncode == 0


def fmt(v, spec):
    width = int(spec.split(".")[0] or 0)
    return "-".rjust(width) if v is None else format(v, spec)


def main():
    if "--worker" in sys.argv:
        return worker_main(sys.argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--faces", default=os.environ.get("FACEC_FACES_DIR", str(REPO.parent / "shared" / "faces")))
    ap.add_argument("--threads", default="1", help="1, 2 or a list such as 1,2")
    ap.add_argument("--limit", type=int, help="only the first N photos (quick tests)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the whole sequence R times")
    ap.add_argument("--onnx-python", default=str(DEFAULT_ONNX_PY))
    ap.add_argument("--tf-python", default=str(DEFAULT_TF_PY))
    ap.add_argument("--facec-python", help="interpreter for the facec worker (PYTHONPATH=<repo>/python is prepended)")
    ap.add_argument("--facec-library", help="sets FACEC_LIBRARY for the facec worker (default: as in the environment)")
    ap.add_argument("--model", help="facec DeepID model (.fgraph with the opencv detector)")
    ap.add_argument("--dlib", action="store_true", help="also the Dlib model")
    ap.add_argument("--dlib-model", help="facec Dlib model (.fgraph with the opencv detector)")
    ap.add_argument("--peers-only", action="store_true", help="deepface workers only")
    ap.add_argument("--flavours", default="onnx,tf", help="deepface flavours to run: onnx,tf")
    ap.add_argument("--home", default=str(DEFAULT_HOME), help="DEEPFACE_HOME shared by the deepface workers")
    ap.add_argument("--no-pin", action="store_true", help="do not pin workers to CPUs 0..N-1")
    ap.add_argument("--as-installed", action="store_true",
                    help="leave ORT/TF/OpenCV threads at deepface's defaults (affinity and env only)")
    ap.add_argument("--json", help="write every worker's result here")
    args = ap.parse_args()

    threads = [int(t) for t in args.threads.split(",")]
    ncpu = len(os.sched_getaffinity(0))
    if any(t < 1 or (not args.no_pin and t > ncpu) for t in threads):
        ap.error(f"--threads must be 1..{ncpu}")
    if not args.peers_only:
        if not args.facec_python or not args.model:
            ap.error("--facec-python and --model are required (or --peers-only)")
        if args.dlib and not args.dlib_model:
            ap.error("--dlib needs --dlib-model for facec (or --peers-only)")
    home = Path(args.home).expanduser().resolve()
    ensure_home(home, args.dlib)

    faces = Path(args.faces)
    candidates = sorted(str(p.resolve()) for p in faces.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    others = sorted(p.name for p in faces.iterdir() if p.is_file() and p.suffix.lower() not in IMAGE_EXTS)
    lst = run_worker(args.onnx_python, ["--worker", "list", *sum((["--photo", p] for p in candidates), [])],
                     {}, 1, False)
    if "error" in lst:
        sys.exit(f"listing the photos with {args.onnx_python} failed: {lst['error']}")
    photos = lst["ok"][: args.limit] if args.limit else lst["ok"]
    print(f"# photos: {len(photos)} of {len(candidates)} image files in {faces}"
          f"{f' (--limit {args.limit})' if args.limit else ''}; not images, ignored: {', '.join(others) or 'none'}")
    print(f"# deepface {lst['deepface']} (OpenCV {lst['opencv']}) cannot read: "
          f"{json.dumps(lst['skipped']) if lst['skipped'] else 'none'}")
    plist = CACHE / "facec-bench" / f"represent_photos_{os.getpid()}.json"
    plist.parent.mkdir(parents=True, exist_ok=True)
    plist.write_text(json.dumps(photos))

    models = ["DeepID"] + (["Dlib"] if args.dlib else [])
    pythons = {"onnx": args.onnx_python, "tf": args.tf_python}
    jobs = []  # (label, python, argv, env_extra, model)
    for fl in args.flavours.split(","):
        for m in models:
            if m == "Dlib" and not has_module(pythons[fl], "dlib"):
                print(f"# deepface-{fl} Dlib: skipped, dlib is not installed in {pythons[fl]}")
                continue
            jobs.append((f"deepface-{fl}", pythons[fl],
                         ["--worker", "deepface", "--model-name", m, "--home", str(home)]
                         + (["--as-installed"] if args.as_installed else []), {}, m))
    if not args.peers_only:
        env = {"PYTHONPATH": os.pathsep.join([str(REPO / "python")] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}
        if args.facec_library:
            env["FACEC_LIBRARY"] = str(Path(args.facec_library).resolve())
        for m, fg in (("DeepID", args.model), ("Dlib", args.dlib_model)):
            if m in models:
                jobs.append(("facec", args.facec_python,
                             ["--worker", "facec", "--model-name", m, "--fgraph", str(Path(fg).resolve())], env, m))

    results = []
    try:
        for rnd in range(args.rounds):
            for t in threads:
                for label, py, argv, env, m in jobs:
                    log(f"[round {rnd + 1}/{args.rounds}] {label} {m} threads={t} ...")
                    r = run_worker(py, [*argv, "--threads", str(t), "--photos-file", str(plist)], env, t,
                                   not args.no_pin)
                    r.setdefault("flavour", label)
                    r.setdefault("model", m)
                    r.setdefault("threads", t)
                    r["round"] = rnd + 1
                    results.append(r)
                    if "error" in r:
                        log(f"  FAILED: {r['error']}")
                    else:
                        log(f"  {r['photos_per_s']:.3f} photos/s, median {r['median_ms']:.1f} ms, "
                            f"other load {r['other_load']:.2f}")
    finally:
        plist.unlink(missing_ok=True)

    # ---- table
    print(f"# threads: {'not pinned' if args.no_pin else 'pinned to CPUs 0..N-1'}; "
          f"{'deepface defaults (--as-installed)' if args.as_installed else 'ORT/TF/OpenCV threads set to N'}")
    hdr = (f"{'flavour':<14} {'model':<6} {'thr':>3} {'rnd':>3} {'photos':>6} {'faces':>5} {'err':>3} {'seconds':>8} "
           f"{'photos/s':>8} {'med ms':>8} {'p90 ms':>8} {'net ms':>7} {'cpu':>5} {'other':>5} {'start s':>7}  facec/peer")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        if "error" in r:
            print(f"{r['flavour']:<14} {r['model']:<6} {r['threads']:>3} {r['round']:>3}  FAILED: {r['error'].splitlines()[-1]}")
            continue
        ratio = ""
        if r["flavour"] != "facec":
            fac = [x for x in results if x["flavour"] == "facec" and x["model"] == r["model"]
                   and x["threads"] == r["threads"] and x["round"] == r["round"] and "error" not in x]
            if fac:
                ratio = f"{fac[0]['photos_per_s'] / r['photos_per_s']:.2f}x"
        print(f"{r['flavour']:<14} {r['model']:<6} {r['threads']:>3} {r['round']:>3} {r['photos']:>6} {r['faces']:>5} "
              f"{len(r['errors']):>3} {r['seconds']:>8.2f} {r['photos_per_s']:>8.3f} {r['median_ms']:>8.1f} "
              f"{r['p90_ms']:>8.1f} {fmt(r.get('net_median_ms'), '7.2f')} {r['cpu_util']:>5.2f} {fmt(r.get('other_load'), '5.2f')} "
              f"{r['startup_s']:>7.2f}  {ratio}")
    print("# facec/peer = facec photos/s / that row's photos/s, same model, threads and round (> 1: facec faster).")
    print("# net ms = median per photo of the recognition model's own call (deepface: client.forward of the batch "
          "of faces); the rest is decoding, detection and alignment. cpu = the worker's CPU time / wall time of its timed loop.\n"
          "# other = CPUs kept busy by other processes during the worker (/proc/stat minus the worker's own CPU time; "
          "0 on a quiet machine). Rows with other > 0.1 were measured on a shared machine.")
    busy = [r for r in results if "error" not in r and (r.get("other_load") or 0) > 0.1]
    if busy:
        print(f"# WARNING: {len(busy)} row(s) ran while other processes used the CPUs (other > 0.1): re-run on a quiet machine.")
    seen = set()
    for r in results:
        if "error" in r or r["flavour"] in seen:
            continue
        seen.add(r["flavour"])
        print(f"# {r['flavour']}: {r['interpreter']}  versions {json.dumps(r['versions'])}")
    for r in results:
        if "error" not in r:
            print(f"#   {r['flavour']} {r['model']} threads={r['threads']}: applied {json.dumps(r['applied'])}")
        if r.get("errors"):
            print(f"#   {r['flavour']} {r['model']} threads={r['threads']} errors: {json.dumps(r['errors'])}")

    # ---- do the flavours find the same faces?
    ok = [r for r in results if "error" not in r]
    if len({r["flavour"] for r in ok}) > 1:
        ref = ok[0]
        for r in ok[1:]:
            if r["flavour"] == ref["flavour"]:
                continue
            diff = [name for name in ref["areas"]
                    if sorted(map(str, ref["areas"][name])) != sorted(map(str, r["areas"].get(name, [])))]
            diff += [name for name in r["areas"] if name not in ref["areas"]]
            print(f"# faces {ref['flavour']} (threads={ref['threads']}) vs {r['flavour']} {r['model']} "
                  f"(threads={r['threads']}): {'same on every photo' if not diff else 'differ on ' + ', '.join(sorted(set(diff)))}")
    if args.json:
        Path(args.json).write_text(json.dumps({"photos": photos, "skipped": lst["skipped"], "results": results}, indent=1))
        print(f"# wrote {args.json}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
