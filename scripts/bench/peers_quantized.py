#!/usr/bin/env python3
"""The peer runtimes at reduced precision on the peers' own DeepID / VGG-Face weights:
TensorFlow Lite fp16 and dynamic-range int8, ONNX Runtime dynamic int8.

Run it with the peers' venv python (it needs TensorFlow, ONNX and ONNX Runtime):

  ~/.cache/facec-peers/venv/bin/python scripts/bench/peers_quantized.py --net deepid \
      [--threads N] [--batch B] [--runs R] [--variants tflite-fp16,tflite-int8,ort-int8] [--verbose]

Prints one JSON object per variant per line on stdout (progress on stderr):
  runtime, variant, precision, version, detail, net, threads, batch, runs, warmup,
  median_ms, min_ms, p90_ms, img_per_s, gflop_per_s, rel_err, cosine, cpu_util, file_bytes, time
or {"runtime": ..., "variant": ..., "error": "..."} for a variant that failed (the others still
run; the exit status is then 1). Bad options exit with status 2.

The peers' cache ($FACEC_PEERS_CACHE or ~/.cache/facec-peers; their bench.sh is run once if
it lacks <net>.onnx or the reference files) and the peers' code ($FACEC_PEERS_DIR or
../shared/peers next to the repository) are read, never written.

The models (the same Keras model as the peers' fp32 files: the peers' models.py,
models.build(net), seed 0) are built on first use, each in its own process (TensorFlow's
output goes to build.log), and cached in ~/.cache/facec-bench/quantized/ (each file written
as .part and renamed; a lock serialises concurrent builds; rebuilt when missing, or when the
peers' exports or RECIPE below change; delete the directory to start over):
  tflite-fp16  <net>_fp16_b<B>.tflite   TFLiteConverter.from_keras_model(models.build(net) with a
               static batch B), optimizations=[tf.lite.Optimize.DEFAULT],
               target_spec.supported_types=[tf.float16]. Weights and biases are stored as fp16
               behind DEQUANTIZE ops.
  tflite-int8  <net>_int8_b<B>.tflite   the same converter with optimizations=[DEFAULT] only
               ("dynamic range"): conv and dense weights int8, symmetric, per output channel;
               TFLite leaves weight tensors under 1024 elements in fp32 (DeepID's Conv1, 960);
               activations are quantised to int8 at run time, per call.
  ort-int8     <net>_int8.onnx          onnxruntime.quantization.quantize_dynamic on the peers'
               <net>.onnx (dynamic batch), weight_type=QInt8, per_channel=True, reduce_range=False.
               What that gives in ORT 1.32 (checked on DeepID): Conv -> ConvInteger with
               per-tensor weight scales (the dynamic ConvInteger path ignores per_channel),
               Gemm -> MatMulInteger with per-column scales; activations uint8 asymmetric per
               tensor per call (DynamicQuantizeLinear). per_channel=True is chosen because it is
               what TFLite's dynamic range does for dense layers, costs nothing in speed here and
               lowered DeepID's error (1.39e-2 -> 1.31e-2). reduce_range is not needed: the
               quantised GEMMs use VNNI (no 16-bit saturation) on this CPU.
               ORT quantises activations per tensor over the whole batch, so with B > 1 the
               reference image's error depends on the other images (DeepID: 1.31e-2 at B=1,
               1.16e-2 at B=16); TFLite's is per image (7.61e-3 at both).

Timing is exactly the peers' runner.py, each variant in its own process: load, one checked call
on bench_input(net, B) (its first image is the reference image), a warm-up of
max(2, min(50, runs/10)) calls, then `runs` timed calls; median and min in ms per call of B
images. TFLite: tf.lite.Interpreter(model_path, num_threads=N), XNNPACK default delegate.
ORT: CPU EP, intra_op_num_threads=N, inter_op_num_threads=1, ORT_SEQUENTIAL, ORT_ENABLE_ALL.
Accuracy of the first image against Keras's fp32 output (<net>_ref_out.npy in the peers'
cache): rel_err = max|out - ref| / max|ref|, cosine = <out, ref> / (|out| |ref|).

What XNNPACK does with these files (determined on DeepID, TF 2.21, this x86 CPU without
AVX512-FP16): the whole graph goes into one XNNPACK partition in both cases (one DELEGATE node
from the input to the output).
 - fp16: XNNPACK takes the DEQUANTIZE(fp16 -> fp32) ops of the static weights into its
   partition and converts the weights to fp32 once, at delegate initialisation; the
   convolutions and dense layers then run the same fp32 kernels as the fp32 file. Evidence:
   fp16 and fp32 files time the same (0.279 vs 0.278 ms, 1 thread), and the XNNPACK output
   equals TFLite's own kernels (which execute DEQUANTIZE then fp32 ops) to 5e-7. Only the file
   is smaller; accuracy is that of fp16-rounded weights. (XNNPACK computes in fp16 only when
   forced with a delegate flag the Python Interpreter does not set, or from
   reduced-precision metadata the converter does not write.)
 - int8: XNNPACK runs the dynamic-range CONV_2D / FULLY_CONNECTED itself (activations
   quantised per call, int8 x int8 products): about 2x faster than the fp32 file, output equal
   to TFLite's own hybrid kernels to 1e-7.
"""
import argparse, fcntl, hashlib, json, os, shutil, statistics, subprocess, sys, time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS = Path(os.environ.get("FACEC_PEERS_DIR") or ROOT.parent / "shared" / "peers")
PEERS_CACHE = Path(os.environ.get("FACEC_PEERS_CACHE") or Path.home() / ".cache" / "facec-peers")
QCACHE = Path.home() / ".cache" / "facec-bench" / "quantized"
VARIANTS = {  # variant -> (runtime, precision)
    "tflite-fp16": ("tflite", "f16"),
    "tflite-int8": ("tflite", "int8"),
    "ort-int8": ("ort", "int8"),
}
DEFAULT_RUNS = {"vggface": 20, "deepid": 500}
# Change this when a build setting changes: cached files of an older recipe are rebuilt.
RECIPE = "1: from_keras_model static batch; fp16 [DEFAULT]+float16; int8 [DEFAULT]; ort quantize_dynamic QInt8 per_channel=True reduce_range=False"
ORT_PER_CHANNEL = True
# Above these, a warning on stderr (random weights; these are loose bounds, not targets).
WARN_REL_ERR = {"f16": 2e-3, "int8": 5e-2}


def log(msg):
    print(f"[peers_quantized] {msg}", file=sys.stderr, flush=True)


def die(msg, code=2):
    print(f"peers_quantized.py: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def parse_args():
    ap = argparse.ArgumentParser(
        description="Time TFLite fp16 / dynamic-range int8 and ONNX Runtime dynamic int8 on the peers' "
                    "DeepID or VGG-Face weights; one JSON line per variant.")
    ap.add_argument("--net", required=True, choices=["deepid", "vggface"])
    ap.add_argument("--threads", type=int, default=1, help="threads per runtime (default 1)")
    ap.add_argument("--batch", type=int, default=1, help="images per call (default 1)")
    ap.add_argument("--runs", type=int, help="timed calls (default 20 for vggface, 500 for deepid)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help=f"comma list from {','.join(VARIANTS)} (default: all)")
    ap.add_argument("--verbose", action="store_true", help="show the runtimes' own stderr")
    ap.add_argument("--child", help=argparse.SUPPRESS)   # internal: time one variant in this process
    ap.add_argument("--build", help=argparse.SUPPRESS)   # internal: build one variant's file in this process
    ap.add_argument("--model", help=argparse.SUPPRESS)   # internal: the file the child loads or builds
    a = ap.parse_args()
    a.runs = a.runs if a.runs is not None else DEFAULT_RUNS[a.net]
    for opt in ("threads", "batch", "runs"):
        if getattr(a, opt) < 1:
            die(f"--{opt} must be at least 1, got {getattr(a, opt)}")
    if a.batch > 256:
        die(f"--batch {a.batch} is too large (at most 256)")
    a.variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    bad = [v for v in a.variants if v not in VARIANTS]
    if bad or not a.variants:
        die(f"--variants: unknown variant {','.join(bad) or '(empty list)'}; choose from {','.join(VARIANTS)}")
    return a


def peers_models():
    sys.path.insert(0, str(PEERS))
    import models as M  # the peers' networks: same layers, same seed, same weights
    return M


# ---------------------------------------------------------------------------------------------
# Building the quantised files


def write_atomic(path, data):
    tmp = Path(str(path) + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class StdoutToStderr:
    """Keras's export prints 'Saved artifact at ...' on stdout, where only the JSON lines go."""
    def __enter__(self):
        sys.stdout.flush()
        self.saved = os.dup(1)
        os.dup2(2, 1)

    def __exit__(self, *exc):
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)


def build_tflite(net, batch, fp16, path):
    import warnings
    warnings.filterwarnings("ignore")
    import tensorflow as tf, keras
    M = peers_models()
    model = M.build(net)
    # The peers' fp32 file has a static batch (a None batch adds shape ops before each Flatten):
    # the same here, by calling the model on an input with a fixed batch size.
    inp = keras.Input(shape=M.input_shape(net), batch_size=batch, name="input")
    fixed = keras.Model(inp, model(inp), name=f"{net}_b{batch}")
    conv = tf.lite.TFLiteConverter.from_keras_model(fixed)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if fp16:
        conv.target_spec.supported_types = [tf.float16]
    with StdoutToStderr():
        data = conv.convert()
    write_atomic(path, data)


def build_ort_int8(src, path):
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    import logging
    logging.getLogger().setLevel(logging.ERROR)  # "consider pre-processing": shape inference, not needed here
    tmp = Path(str(path) + ".part.onnx")
    quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=ORT_PER_CHANNEL,
                     reduce_range=False)
    onnx.checker.check_model(str(tmp))
    os.replace(tmp, path)


def file_for(net, variant, batch):
    return QCACHE / {"tflite-fp16": f"{net}_fp16_b{batch}.tflite",
                     "tflite-int8": f"{net}_int8_b{batch}.tflite",
                     "ort-int8": f"{net}_int8.onnx"}[variant]


def ensure_peers(a):
    """The peers' reference files and ONNX export (made by their bench.sh, under their lock)."""
    d = PEERS_CACHE / "models"
    need = [d / f"{a.net}_ref_in.npy", d / f"{a.net}_ref_out.npy"]
    if "ort-int8" in a.variants:
        need.append(d / f"{a.net}.onnx")
    if all(p.is_file() for p in need):
        return d
    log(f"the peers' cache lacks {', '.join(p.name for p in need if not p.is_file())}: running their bench.sh once…")
    r = subprocess.run([str(PEERS / "bench.sh"), "--net", a.net, "--runs", "1", "--runtimes", "ort", "--json"],
                       stdout=subprocess.DEVNULL)
    missing = [p.name for p in need if not p.is_file()]
    if missing:
        die(f"{PEERS / 'bench.sh'} (exit {r.returncode}) did not produce {', '.join(missing)}", 1)
    return d


def ensure_models(a, peers_dir):
    """Build the files the variants need; returns {variant: path or error string}."""
    QCACHE.mkdir(parents=True, exist_ok=True)
    peers_stamp = (peers_dir / "facec-peers.stamp").read_text().strip() if (peers_dir / "facec-peers.stamp").is_file() else "?"
    want = hashlib.sha256(f"{peers_stamp}\n{RECIPE}".encode()).hexdigest()[:16]
    out = {}
    with open(QCACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = QCACHE / "quantized.stamp"
        if not stamp.is_file() or stamp.read_text().strip() != want:
            old = [p for p in QCACHE.iterdir() if p.name not in (".lock", "quantized.stamp")]
            if old:
                log(f"the peers' exports or the recipe changed: deleting {len(old)} old file(s) in {QCACHE}")
            for p in old:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
            stamp.write_text(want + "\n")
        for v in a.variants:
            path = file_for(a.net, v, a.batch)
            out[v] = path
            if path.is_file():
                continue
            log(f"building {path.name}{' (minutes)' if a.net == 'vggface' else ''}…")
            t0, logf = time.time(), QCACHE / "build.log"
            # In its own process: TensorFlow's and the converter's chatter go to build.log.
            with open(logf, "w") as lf:
                p = subprocess.run([sys.executable, "-B", str(Path(__file__).resolve()), "--build", v,
                                    "--model", str(path), "--net", a.net, "--batch", str(a.batch)],
                                   stdout=lf, stderr=lf)
            text = logf.read_text(errors="replace")
            if a.verbose:
                print(text.rstrip(), file=sys.stderr)
            if p.returncode != 0 or not path.is_file():  # the other variants still run
                lines = [l for l in text.splitlines() if l.strip()]
                if not a.verbose:
                    print("\n".join(lines[-12:]), file=sys.stderr)
                why = f"signal {-p.returncode}" if p.returncode < 0 else lines[-1][:200] if lines else f"exit status {p.returncode}"
                out[v] = f"building {path.name} failed ({why}); log: {logf}"
                log(out[v])
                continue
            log(f"  {path.name}: {path.stat().st_size / 1e6:.2f} MB in {time.time() - t0:.0f} s")
    return out


# ---------------------------------------------------------------------------------------------
# Timing one variant (child process)


def tflite_session(a, x):
    import warnings  # tf.lite.Interpreter warns it is deprecated in favour of ai_edge_litert
    warnings.filterwarnings("ignore", module="tensorflow.lite.python.interpreter")
    import numpy as np
    import tensorflow as tf  # tf.lite.Interpreter: XNNPACK is applied by default
    it = tf.lite.Interpreter(model_path=a.model, num_threads=a.threads)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    # Where XNNPACK went: a DELEGATE node per XNNPACK partition (the replaced nodes stay listed).
    ii = it._interpreter
    parts = [k for k in range(ii.NumNodes()) if ii.NodeName(k) == "DELEGATE"]
    if not parts:
        xnn = "XNNPACK not applied"
    elif len(parts) == 1 and i in list(ii.NodeInputs(parts[0])) and o in list(ii.NodeOutputs(parts[0])):
        xnn = "XNNPACK: 1 partition, input to output"
    else:
        xnn = f"XNNPACK: {len(parts)} partitions"
    # The conv/dense filters as stored: fp16 (behind a DEQUANTIZE), int8 (scales per channel or
    # per tensor) or left in fp32.
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    ops = it._get_ops_details()
    producer = {int(t): op for op in ops for t in op["outputs"]}
    kinds = {}
    for op in ops:
        if op["op_name"] not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        f = int(op["inputs"][1])
        if f in producer and producer[f]["op_name"] == "DEQUANTIZE":
            f = int(producer[f]["inputs"][0])
        t = tensors[f]
        key = {np.float16: "fp16", np.float32: "fp32"}.get(t["dtype"]) or \
            f"{np.dtype(t['dtype']).name} per-{'channel' if t['quantization_parameters']['scales'].size > 1 else 'tensor'}"
        kinds[key] = kinds.get(key, 0) + 1
    weights = "conv/dense weights " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    how = ("fp16 weights dequantised to fp32 at load, fp32 kernels" if a.child == "tflite-fp16"
           else "dynamic range, activations quantised per call")
    detail = f"{weights}; {how}; {xnn}; static batch"

    def run():
        it.set_tensor(i, x)
        it.invoke()
        return it.get_tensor(o)
    return f"tf.lite {tf.__version__}", detail, run


def ort_session(a, x):
    import onnx, onnxruntime as rt
    from onnx import numpy_helper
    m = onnx.load(a.model)
    inits = {t.name: t for t in m.graph.initializer}
    ops = {}
    for n in m.graph.node:
        if n.op_type in ("ConvInteger", "MatMulInteger"):
            zp = inits.get(n.input[3]) if len(n.input) > 3 else None
            per_ch = zp is not None and numpy_helper.to_array(zp).size > 1
            key = f"{n.op_type} {'per-channel' if per_ch else 'per-tensor'}"
            ops[key] = ops.get(key, 0) + 1
    so = rt.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.execution_mode = rt.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = rt.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = rt.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    feed = {s.get_inputs()[0].name: x}
    detail = ("quantize_dynamic QInt8 weights: " + ", ".join(f"{n} {k}" for k, n in sorted(ops.items()))
              + "; uint8 activations per call; CPU EP, ORT_ENABLE_ALL")
    return f"onnxruntime {rt.__version__}", detail, lambda: s.run(None, feed)[0]


def child(a):
    import numpy as np
    M = peers_models()
    x = M.bench_input(a.net, a.batch)
    ref = np.load(PEERS_CACHE / "models" / f"{a.net}_ref_out.npy").reshape(-1).astype(np.float64)
    runtime, precision = VARIANTS[a.child]
    version, detail, run = (tflite_session if runtime == "tflite" else ort_session)(a, x)
    out = np.asarray(run(), np.float32).reshape(a.batch, -1)[0].astype(np.float64)  # the reference image
    rel_err = float(np.max(np.abs(out - ref)) / (np.max(np.abs(ref)) + 1e-30))
    cosine = float(np.dot(out, ref) / (np.linalg.norm(out) * np.linalg.norm(ref) + 1e-30))

    warmup = max(2, min(50, a.runs // 10))
    for _ in range(warmup):
        run()
    ts = []
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(a.runs):
        t0 = time.perf_counter()
        run()
        ts.append(time.perf_counter() - t0)
    wall = time.perf_counter() - w0
    cpu_util = round((time.process_time() - c0) / wall, 2) if wall > 1.0 else None

    med = statistics.median(ts)
    print(json.dumps({
        "runtime": runtime, "variant": a.child, "precision": precision, "version": version, "detail": detail,
        "net": a.net, "threads": a.threads, "batch": a.batch, "runs": a.runs, "warmup": warmup + 1,
        "median_ms": round(med * 1e3, 4), "min_ms": round(min(ts) * 1e3, 4),
        "p90_ms": round(float(np.percentile(ts, 90)) * 1e3, 4),
        "img_per_s": round(a.batch / med, 2),
        "gflop_per_s": round(M.count_flops(a.net) * a.batch / med / 1e9, 2),
        "rel_err": float(f"{rel_err:.3g}"), "cosine": float(f"{cosine:.8g}"),
        "cpu_util": cpu_util, "file_bytes": os.path.getsize(a.model),
    }), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------


def run_child(a, variant, path):
    cmd = [sys.executable, "-B", str(Path(__file__).resolve()), "--child", variant, "--model", str(path),
           "--net", a.net, "--threads", str(a.threads), "--batch", str(a.batch), "--runs", str(a.runs)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if a.verbose and p.stderr.strip():
        print(p.stderr.rstrip(), file=sys.stderr)
    line = next((l for l in reversed(p.stdout.splitlines()) if l.startswith("{")), None)
    if p.returncode != 0 or line is None:
        errs = [l for l in p.stderr.splitlines() if l.strip()]
        if errs and not a.verbose:
            print("\n".join(errs[-12:]), file=sys.stderr)
        why = f"crashed (signal {-p.returncode})" if p.returncode < 0 else \
            errs[-1][:200] if errs else f"exit status {p.returncode}"
        return {"error": f"{why} (if the cached {path} is damaged, delete it to rebuild it)"}
    return json.loads(line)


def main():
    a = parse_args()
    if a.child:
        return child(a)
    if a.build:
        if a.build == "ort-int8":
            build_ort_int8(PEERS_CACHE / "models" / f"{a.net}.onnx", Path(a.model))
        else:
            build_tflite(a.net, a.batch, a.build == "tflite-fp16", Path(a.model))
        return 0
    import importlib.util  # fail early, with a clear message (without importing TensorFlow here)
    missing = [m for m in ("numpy", "onnx", "onnxruntime", "tensorflow") if importlib.util.find_spec(m) is None]
    if missing:
        die(f"{sys.executable} lacks {', '.join(missing)}; run this with the peers' venv python: "
            f"{PEERS_CACHE / 'venv' / 'bin' / 'python'} (made by {PEERS / 'bench.sh'})")
    peers_dir = ensure_peers(a)
    files = ensure_models(a, peers_dir)
    failed = 0
    for v in a.variants:
        runtime, precision = VARIANTS[v]
        base = {"runtime": runtime, "variant": v, "precision": precision, "net": a.net,
                "threads": a.threads, "batch": a.batch}
        if isinstance(files[v], str):
            r = {**base, "error": files[v]}
        else:
            log(f"timing {v}: {a.runs} runs…")
            r = run_child(a, v, files[v])
            r = {**base, **r} if "error" in r else r
        r["time"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        if "error" in r:
            failed += 1
            log(f"{v} FAILED: {r['error']}")
        elif r["rel_err"] > WARN_REL_ERR[precision]:
            log(f"WARNING: {v} differs from Keras by {r['rel_err']:.1e} (relative), cosine {r['cosine']:.6f}")
        print(json.dumps(r), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
