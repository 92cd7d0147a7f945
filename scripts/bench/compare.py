#!/usr/bin/env python3
"""facec against TFLite (XNNPACK), ONNX Runtime and OpenCV DNN on the same network,
same weights, same machine, same thread count and batch, measured in one run; optionally
at reduced precision (facec's f16/int8 weights against TFLite fp16/int8 and ORT int8).

  scripts/bench/compare.py --net deepid|vggface [--threads 1,2] [--batch B] [--runs R]
                           [--precision f32,f16,int8] [--repeat 2] [--facec PATH]
  scripts/bench/compare.py --net dlib [--threads 1,2] [--batch B] [--runs R]
                           [--precision f32,f16,int8] [--repeat 2] [--facec PATH] [--peers-only]

What it does (standard library only, runs with the system python3; the peers' venv does
the Keras export and the peers' quantisation):
 1. ../shared/peers/bench.sh is run once to make sure its venv and reference
    files exist (cache: $FACEC_PEERS_CACHE or ~/.cache/facec-peers).
 2. The peers' own Keras model (models.build(net), seed 0) is saved as a full
    Keras .h5 into ~/.cache/facec-bench and converted by `facec convert`: as is
    for f32, and with `--weights f16|int8` for each other precision asked for.
    Each model is run by `facec run MODEL REF_IN --npy OUT` on the peers'
    reference input; printed: its relative error (max|out - ref| / max|ref|) and
    cosine against Keras's fp32 output (independent reference, same weights) and,
    for f16/int8, against facec's own f32 output.
 3. For each thread count (and --repeat times the whole timing): `facec bench
    --json --batch B` for each precision, the fp32 peers with `bench.sh --json
    --batch B` (tflite, ort, opencv) and, for f16/int8, the quantised peers with
    peers_quantized.py (next to this script, run with the peers' venv python;
    f16: tflite-fp16; int8: tflite-int8 and ort-int8). Then a table: runtime,
    precision, threads, median and min ms per call of B images (with B > 1 also
    images/s), and one ratio column per facec precision P: facec P's median / the
    row's median (< 1: facec faster), filled for the rows of precision P and for
    the f32 rows (on facec's own f32 row it is facec P vs facec f32).
    Summary lines per thread count:
      # threads=T: facec X ms vs best peer Y ms -> Zx           (f32, as before)
      # threads=T P: facec X ms vs best P peer Y ms -> Zx       (P = f16, int8)
      # threads=T P: facec X ms vs best f32 peer Y ms -> Zx
      # threads=T P: facec P vs facec f32 -> Zx
    and with B > 1 the throughput (images/s) of both sides, whose ratio is the
    inverse (> 1: facec faster).

f32 is always measured (it is the baseline of the ratios), whatever --precision says.
facec f16/int8 store the weights reduced and compute in float32 (weight-only); TFLite
int8 and ORT int8 are dynamic-range quantisation (activations quantised too, per call).
The quantised peer files, settings and what XNNPACK does with fp16 weights are
described in peers_quantized.py.

--net dlib: dlib's face-recognition ResNet with its real weights
(dlib_face_recognition_resnet_model_v1.dat from `scripts/fetch-weights.sh dlib`, 150x150 RGB
-> 128, 0.54 GFLOP/img). The peers are dlib_replica.py's (next to this script; its docstring
has the details): the network read from the .dat by its own reader and written as an ONNX
model and a float32 TFLite model, both checked against dlib's compute_face_descriptor
(`dlib_replica.py --check`: max relative error under 1e-5 on every check chip, about 1e-6
measured), plus dlib itself. Differences from the two other nets:
 1. dlib_replica.setup builds what is missing in ~/.cache/facec-bench/dlib/ (the peers' venv
    via their peers.py, a venv with the pinned dlib 20.0.1 wheel, the ONNX/TFLite files and
    the reference files): ref_in.npy, float32 [K,150,150,3], K check chips (random, smooth
    and face crops) already transformed as dlib's input layer does, (pixel - avg[c]) / 256
    RGB, and ref_out.npy, dlib's descriptors for them, [K,128].
 2. `facec convert <.dat> -o ~/.cache/facec-bench/dlib.fgraph` (dlib_<P>.fgraph with
    --weights P for f16/int8), `facec run MODEL ref_in.npy --npy OUT`; printed: facec's
    relative error and cosine against dlib on all K chips (worst chip). The facec model
    must take that transformed NHWC tensor as its input and return dlib's raw 128-d
    descriptor (no normalisation). If convert or run fails, facec is left out and the
    peers are still timed; --peers-only leaves facec out from the start (and never
    builds it).
 3. Peers per thread count: `dlib_replica.py time --runtimes ort,tflite,dlib` (each in its
    own process, same threads/batch/runs, timed as the peers' runner.py does): ort
    (ONNX Runtime CPU EP, ORT_ENABLE_ALL) and tflite (XNNPACK) on the transformed input,
    f32; dlib = dlib's face_recognition_model_v1.compute_face_descriptor on the uint8
    chips, which includes its own input transform (uint8 -> float) and ignores --threads
    (single-threaded: no BLAS in the wheel, no thread setting in dlib's Python API).
    There are no quantised dlib peers: with --precision f16/int8 only facec's reduced
    models are added, compared with the f32 peers. Default --runs: 100.
    Extra summary line per thread count: dlib's own time against facec and the best replica.
"""
import argparse, json, math, os, subprocess, sys, struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT.parent / "shared" / "peers"
CACHE = Path(os.environ.get("FACEC_PEERS_CACHE", Path.home() / ".cache" / "facec-peers"))
WORK = Path.home() / ".cache" / "facec-bench"
PRECISIONS = ["f32", "f16", "int8"]
QUANT_VARIANTS = {"f16": ["tflite-fp16"], "int8": ["tflite-int8", "ort-int8"]}


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def why(e):
    """A failed command's last stderr line (or its exit status)."""
    lines = [l for l in ((e.stderr or "") + (e.stdout or "")).splitlines() if l.strip()]
    return lines[-1][:300] if lines else f"exit status {e.returncode}"


def load_npy(path):
    data = Path(path).read_bytes()
    assert data[:6] == b"\x93NUMPY"
    hlen = struct.unpack("<H", data[8:10])[0] if data[6] == 1 else struct.unpack("<I", data[8:12])[0]
    start = (10 if data[6] == 1 else 12) + hlen
    header = data[(10 if data[6] == 1 else 12):start].decode()
    assert "'<f4'" in header, header
    n = (len(data) - start) // 4
    return list(struct.unpack(f"<{n}f", data[start:start + 4 * n]))


def accuracy(got, want):
    """(max|got - want| / max|want|, cosine) of two equal-length vectors."""
    assert len(got) == len(want), (len(got), len(want))
    err = max(abs(x - y) for x, y in zip(got, want)) / (max(abs(y) for y in want) or 1e-30)
    dot = sum(x * y for x, y in zip(got, want))
    norm = math.sqrt(sum(x * x for x in got)) * math.sqrt(sum(y * y for y in want))
    return err, (dot / norm if norm else float("nan"))


def parse_list(text, allowed, what):
    items = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in items if x not in allowed]
    if bad or not items:
        sys.exit(f"compare.py: {what}: unknown value {','.join(bad) or '(empty list)'}; choose from {','.join(allowed)}")
    return items


def main():
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()),
                                 epilog="See the module docstring (top of this file) for what is printed.")
    ap.add_argument("--net", required=True, choices=["deepid", "vggface", "dlib"])
    ap.add_argument("--threads", default="1,2", help="comma list of thread counts (default 1,2)")
    ap.add_argument("--batch", type=int, default=1, help="images per call for facec and the peers (default 1)")
    ap.add_argument("--runs", type=int, help="timed calls (default 20 for vggface, 500 for deepid, 100 for dlib)")
    ap.add_argument("--precision", default="f32",
                    help="comma list from f32,f16,int8 (default f32; f32 is always measured as the baseline)")
    ap.add_argument("--repeat", type=int, default=1, help="run the whole timing this many times")
    ap.add_argument("--facec", default=str(ROOT / ".build" / "release" / "facec"))
    ap.add_argument("--peers-only", action="store_true", help="--net dlib only: time the peers, leave facec out")
    a = ap.parse_args()
    if a.peers_only and a.net != "dlib":
        sys.exit("compare.py: --peers-only is for --net dlib")
    runs = a.runs or {"vggface": 20, "deepid": 500, "dlib": 100}[a.net]
    try:
        threads = [int(x) for x in a.threads.split(",") if x.strip()]
    except ValueError:
        sys.exit(f"compare.py: --threads: not a comma list of integers: {a.threads}")
    if not threads or min(threads) < 1 or a.batch < 1 or runs < 1 or a.repeat < 1:
        sys.exit("compare.py: --threads, --batch, --runs and --repeat must be at least 1")
    asked = parse_list(a.precision, PRECISIONS, "--precision")
    precisions = [p for p in PRECISIONS if p == "f32" or p in asked]  # canonical order, f32 first
    reduced = [p for p in precisions if p != "f32"]
    facec = a.facec
    if not Path(facec).exists() and not a.peers_only:
        print("building facec (release)...", file=sys.stderr)
        subprocess.run(["swift", "build", "-c", "release", "--product", "facec"], cwd=ROOT, check=True)

    # 1. Peers' venv and reference files.
    if a.net == "dlib":
        return main_dlib(a, facec, runs, threads, precisions, reduced)
    ref_in, ref_out = CACHE / "models" / f"{a.net}_ref_in.npy", CACHE / "models" / f"{a.net}_ref_out.npy"
    if not ref_out.exists():
        print("setting up the peers (first run takes minutes)...", file=sys.stderr)
        subprocess.run([str(PEERS / "bench.sh"), "--net", a.net, "--runs", "3", "--runtimes", "tflite"], check=True,
                       stdout=subprocess.DEVNULL)
    py = CACHE / "venv" / "bin" / "python"

    # 2. The same Keras model as a .h5, converted at each precision and checked against Keras.
    WORK.mkdir(parents=True, exist_ok=True)
    h5 = WORK / f"{a.net}_peers.h5"
    if not h5.exists():
        code = (f"import sys; sys.path.insert(0, {str(PEERS)!r}); import models; "
                f"models.build({a.net!r}).save({str(h5) + '.tmp.h5'!r})")
        sh([str(py), "-c", code], env={**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"})
        os.replace(str(h5) + ".tmp.h5", h5)
    models, outputs = {}, {}
    want = load_npy(ref_out)
    for p in precisions:
        model = WORK / (f"{a.net}_peers.fgraph" if p == "f32" else f"{a.net}_peers_{p}.fgraph")
        out = WORK / (f"{a.net}_facec_out.npy" if p == "f32" else f"{a.net}_facec_{p}_out.npy")
        try:
            sh([facec, "convert", str(h5), "-o", str(model), "--quiet"] + ([] if p == "f32" else ["--weights", p]))
            sh([facec, "run", str(model), str(ref_in), "--npy", str(out)])
        except subprocess.CalledProcessError as e:
            if p == "f32":
                raise SystemExit(f"compare.py: facec f32 failed: {' '.join(e.cmd)}: {why(e)}")
            print(f"# {a.net}: facec {p} left out: {' '.join(map(str, e.cmd[:2]))} ... failed: {why(e)}", file=sys.stderr)
            continue
        models[p], outputs[p] = model, load_npy(out)
        err, cos = accuracy(outputs[p], want)
        if p == "f32":
            print(f"# {a.net}: facec vs Keras on the peers' reference input: relative error {err:.2e}, cosine {cos:.8f}")
        else:
            err32, cos32 = accuracy(outputs[p], outputs["f32"])
            print(f"# {a.net}: facec {p} on the same input: vs Keras fp32 relative error {err:.2e}, cosine {cos:.8f}; "
                  f"vs facec f32 relative error {err32:.2e}, cosine {cos32:.8f}")

    def peer_runs(t):
        runs_ = [("f32", [str(PEERS / "bench.sh"), "--net", a.net, "--threads", str(t), "--runs", str(runs),
                          "--batch", str(a.batch), "--json"], "bench.sh")]
        if reduced:
            variants = [v for p in reduced for v in QUANT_VARIANTS[p]]
            runs_.append((None, [str(py), "-B", str(HERE / "peers_quantized.py"), "--net", a.net,
                                 "--threads", str(t), "--runs", str(runs), "--batch", str(a.batch),
                                 "--variants", ",".join(variants)], "peers_quantized.py"))
        return runs_
    timing(a, facec, runs, threads, precisions, reduced, models, peer_runs)


def timing(a, facec, runs, threads, precisions, reduced, models, peer_runs, notes=None):
    """Time facec (each precision in models) and the peers (peer_runs(t): [(precision or None
    for the JSON's own, command, label)]) at each thread count, --repeat times; print the tables."""
    for rep in range(a.repeat):
        rows = []  # dicts: name, prec, t, med, min, ips
        for t in threads:
            for p in precisions:
                if p not in models:
                    continue
                try:
                    r = json.loads(sh([facec, "bench", str(models[p]), "--threads", str(t), "--runs", str(runs),
                                       "--batch", str(a.batch), "--json"]).stdout)
                except subprocess.CalledProcessError as e:
                    print(f"# facec {p}, {t} threads: bench failed: {why(e)}", file=sys.stderr)
                    continue
                rows.append(dict(name="facec", prec=p, t=t, med=r["median_ms"], min=r["min_ms"],
                                 ips=r.get("img_per_s") or a.batch / r["median_ms"] * 1e3))
            for prec, cmd, label in peer_runs(t):
                p = subprocess.run(cmd, text=True, capture_output=True)
                lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
                if not lines:
                    errs = [l for l in p.stderr.splitlines() if l.strip()]
                    print(f"# {label} failed (exit {p.returncode}): "
                          f"{errs[-1] if errs else 'no output'}", file=sys.stderr)
                for line in lines:
                    j = json.loads(line)
                    if "error" in j:
                        print(f"# {j.get('variant', j['runtime'])}: {j['error']}", file=sys.stderr)
                        continue
                    rows.append(dict(name=j["runtime"], prec=prec or j["precision"], t=t, med=j["median_ms"],
                                     min=j["min_ms"], ips=j.get("img_per_s") or a.batch / j["median_ms"] * 1e3,
                                     err=j.get("rel_err"), cos=j.get("cosine"), cpu=j.get("cpu_util"),
                                     variant=j.get("variant"), version=j.get("version")))

        def facec_row(p, t):
            return next((r for r in rows if r["name"] == "facec" and r["prec"] == p and r["t"] == t), None)

        cols = [p for p in precisions if p in models]
        show_ips = a.batch > 1
        print(f"\n# run {rep + 1}/{a.repeat}: {a.net}, batch {a.batch}, median of {runs} runs "
              f"(ms per call of {a.batch} image{'s' if a.batch > 1 else ''})")
        if not cols:
            print("# facec left out: peers only")
        elif cols == ["f32"]:
            print("# ratio = facec / peer (< 1: facec faster)")
        else:
            print("# column 'facec P' = facec P's median / this row's median (< 1: facec faster), "
                  "for the rows of precision P and the f32 rows")
        head = f"{'runtime':10} {'precision':>9} {'threads':>7} {'median':>10} {'min':>10}"
        head += f" {'img/s':>9}" if show_ips else ""
        head += f" {'facec/peer':>11}" if cols == ["f32"] else "".join(f" {'facec ' + p:>10}" for p in cols)
        print(head)
        order = {p: i for i, p in enumerate(PRECISIONS)}
        rows.sort(key=lambda r: (r["t"], r["name"] != "facec", order[r["prec"]]))  # stable: peers keep their order
        for r in rows:
            line = f"{r['name']:10} {r['prec']:>9} {r['t']:>7} {r['med']:>10.3f} {r['min']:>10.3f}"
            line += f" {r['ips']:>9.0f}" if show_ips else ""
            for p in cols:
                ours = facec_row(p, r["t"])
                fill = ours is not None and r["prec"] in (p, "f32") and ours is not r
                cell = f"{ours['med'] / r['med']:.2f}" if fill else ""
                line += f" {cell:>11}" if cols == ["f32"] else f" {cell:>10}"
            print(line.rstrip())

        if reduced:  # the quantised peers' own check against Keras (first image of the timed batch)
            seen = {}
            for r in rows:
                if r["name"] != "facec" and r["prec"] != "f32" and r.get("err") is not None:
                    seen.setdefault((r["name"], r["prec"]), r)
            if seen:
                print("# quantised peers vs Keras fp32 on the reference input (rel err, cosine): " + "; ".join(
                    f"{n} {p} {r['err']:.2e}, {r['cos']:.8f}" for (n, p), r in seen.items()))

        def tput(ours, theirs):
            return (f"; throughput {ours['ips']:.0f} vs {theirs['ips']:.0f} img/s -> {ours['ips'] / theirs['ips']:.2f}x"
                    if show_ips else "")

        for t in sorted({r["t"] for r in rows}):
            ours32 = facec_row("f32", t)
            peers32 = [r for r in rows if r["t"] == t and r["name"] != "facec" and r["prec"] == "f32"]
            best32 = min(peers32, key=lambda r: r["med"]) if peers32 else None
            if ours32 and best32:
                print(f"# threads={t}: facec {ours32['med']:.3f} ms vs best peer {best32['med']:.3f} ms "
                      f"-> {ours32['med'] / best32['med']:.2f}x{tput(ours32, best32)}")
            for p in reduced:
                ours = facec_row(p, t)
                if ours is None:
                    continue
                peers = [r for r in rows if r["t"] == t and r["name"] != "facec" and r["prec"] == p]
                if peers:
                    best = min(peers, key=lambda r: r["med"])
                    print(f"# threads={t} {p}: facec {ours['med']:.3f} ms vs best {p} peer {best['med']:.3f} ms "
                          f"-> {ours['med'] / best['med']:.2f}x{tput(ours, best)} ({best['name']} {p})")
                if best32:
                    print(f"# threads={t} {p}: facec {ours['med']:.3f} ms vs best f32 peer {best32['med']:.3f} ms "
                          f"-> {ours['med'] / best32['med']:.2f}x{tput(ours, best32)} ({best32['name']} f32)")
                if ours32:
                    print(f"# threads={t} {p}: facec {p} vs facec f32 -> {ours['med'] / ours32['med']:.2f}x"
                          f"{tput(ours, ours32)} ({ours['med']:.3f} vs {ours32['med']:.3f} ms)")
            if notes:
                notes(rows, t, ours32)


def main_dlib(a, facec, runs, threads, precisions, reduced):
    """--net dlib: dlib_replica.py's peers on dlib's real weights; facec from `facec convert <.dat>`."""
    sys.path.insert(0, str(HERE))
    import dlib_replica as DR
    info = DR.setup((a.batch,))
    want = load_npy(info["ref_out"])
    k, dim = len(info["chips"]), len(want) // len(info["chips"])
    print(f"# dlib: {info['dat']}; reference: dlib's compute_face_descriptor on {k} check chips "
          f"({', '.join(info['chips'])}), facec input {info['ref_in']} (float32 [{k},150,150,3], (x - avg) / 256)")
    WORK.mkdir(parents=True, exist_ok=True)
    models = {}
    for p in ([] if a.peers_only else precisions):
        model = WORK / ("dlib.fgraph" if p == "f32" else f"dlib_{p}.fgraph")
        out = WORK / ("dlib_facec_out.npy" if p == "f32" else f"dlib_facec_{p}_out.npy")
        try:
            sh([facec, "convert", info["dat"], "-o", str(model), "--quiet"] + ([] if p == "f32" else ["--weights", p]))
            sh([facec, "run", str(model), info["ref_in"], "--npy", str(out)])
            got = load_npy(out)
            if len(got) != len(want):
                raise ValueError(f"facec gave {len(got)} values for {k} chips, dlib {len(want)} ({k} x {dim})")
        except (subprocess.CalledProcessError, ValueError, AssertionError, OSError) as e:
            msg = f"{' '.join(map(str, e.cmd[:2]))} ... failed: {why(e)}" if isinstance(e, subprocess.CalledProcessError) \
                else str(e)
            print(f"# dlib: facec {p} left out: {msg}", file=sys.stderr)
            continue
        models[p] = model
        per_chip = [accuracy(got[i * dim:(i + 1) * dim], want[i * dim:(i + 1) * dim]) for i in range(k)]
        err, cos = max(e for e, _ in per_chip), min(c for _, c in per_chip)
        print(f"# dlib: facec {p} vs dlib on the {k} chips: relative error {err:.2e} (worst chip), "
              f"cosine {cos:.8f} (lowest){'  WARNING: above 1e-5' if p == 'f32' and err > 1e-5 else ''}")
    if not a.peers_only and "f32" not in models:
        print("# dlib: facec f32 is not available: timing the peers only", file=sys.stderr)
        models = {}

    def peer_runs(t):
        return [("f32", [sys.executable, "-B", str(HERE / "dlib_replica.py"), "time", "--runtimes", "ort,tflite,dlib",
                         "--threads", str(t), "--runs", str(runs), "--batch", str(a.batch)], "dlib_replica.py time")]

    def notes(rows, t, ours32):
        peers = [r for r in rows if r["t"] == t and r["name"] != "facec" and r["prec"] == "f32"]
        dl = next((r for r in peers if r["name"] == "dlib"), None)
        reps = [r for r in peers if r["name"] in ("ort", "tflite")]
        if peers:
            print(f"# threads={t}: peers vs dlib on the first chip (rel err) and CPU-s per wall-s: " + ", ".join(
                f"{r['name']} {r['err']:.1e} cpu {r['cpu'] if r['cpu'] is not None else '-'}" for r in peers))
        if t == max(threads):
            print("# " + "; ".join(f"{r['name']}: {r['version']}, {r['variant']}" for r in peers))
        if dl:
            best = min(reps, key=lambda r: r["med"]) if reps else None
            line = f"# threads={t}: dlib itself {dl['med']:.3f} ms per call (uint8 input, its transform included)"
            if best:
                line += f"; best replica {best['name']} {best['med']:.3f} ms -> {dl['med'] / best['med']:.1f}x faster"
            if ours32:
                line += f"; facec {ours32['med']:.3f} ms -> {dl['med'] / ours32['med']:.1f}x faster"
            print(line)

    timing(a, facec, runs, threads, precisions, reduced, models, peer_runs, notes)


if __name__ == "__main__":
    main()
