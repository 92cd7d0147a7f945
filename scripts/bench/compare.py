#!/usr/bin/env python3
"""facec against TFLite (XNNPACK), ONNX Runtime and OpenCV DNN on the same network,
same weights, same machine, same thread count, measured in one run.

  scripts/bench/compare.py --net deepid|vggface [--threads 1,2] [--runs R] [--repeat 2]

What it does (standard library only; the peers' venv does the Keras export):
 1. ../shared/peers/bench.sh is run once to make sure its venv and reference
    files exist (cache: $FACEC_PEERS_CACHE or ~/.cache/facec-peers).
 2. The peers' own Keras model (models.build(net), seed 0) is saved as a full
    Keras .h5 into ~/.cache/facec-bench, converted by `facec convert`, and run
    by `facec run` on the peers' reference input: the relative error against
    Keras's output is printed (independent reference, same weights).
 3. For each thread count: `facec bench --json` and `bench.sh --json` (tflite,
    ort, opencv), then a table of medians and facec/peer ratios (< 1: facec faster).
"""
import argparse, json, os, subprocess, sys, struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT.parent / "shared" / "peers"
CACHE = Path(os.environ.get("FACEC_PEERS_CACHE", Path.home() / ".cache" / "facec-peers"))
WORK = Path.home() / ".cache" / "facec-bench"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def load_npy(path):
    data = Path(path).read_bytes()
    assert data[:6] == b"\x93NUMPY"
    hlen = struct.unpack("<H", data[8:10])[0] if data[6] == 1 else struct.unpack("<I", data[8:12])[0]
    start = (10 if data[6] == 1 else 12) + hlen
    header = data[(10 if data[6] == 1 else 12):start].decode()
    assert "'<f4'" in header, header
    n = (len(data) - start) // 4
    return list(struct.unpack(f"<{n}f", data[start:start + 4 * n]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", required=True, choices=["deepid", "vggface"])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--repeat", type=int, default=1, help="run the whole comparison this many times")
    ap.add_argument("--facec", default=str(ROOT / ".build" / "release" / "facec"))
    a = ap.parse_args()
    runs = a.runs or (20 if a.net == "vggface" else 500)
    facec = a.facec
    if not Path(facec).exists():
        print("building facec (release)...", file=sys.stderr)
        subprocess.run(["swift", "build", "-c", "release", "--product", "facec"], cwd=ROOT, check=True)

    # 1. Peers' venv and reference files.
    ref_in, ref_out = CACHE / "models" / f"{a.net}_ref_in.npy", CACHE / "models" / f"{a.net}_ref_out.npy"
    if not ref_out.exists():
        print("setting up the peers (first run takes minutes)...", file=sys.stderr)
        subprocess.run([str(PEERS / "bench.sh"), "--net", a.net, "--runs", "3", "--runtimes", "tflite"], check=True,
                       stdout=subprocess.DEVNULL)
    py = CACHE / "venv" / "bin" / "python"

    # 2. The same Keras model as a .h5, converted and checked against Keras.
    WORK.mkdir(parents=True, exist_ok=True)
    h5, model = WORK / f"{a.net}_peers.h5", WORK / f"{a.net}_peers.fgraph"
    if not h5.exists():
        code = (f"import sys; sys.path.insert(0, {str(PEERS)!r}); import models; "
                f"models.build({a.net!r}).save({str(h5) + '.tmp.h5'!r})")
        sh([str(py), "-c", code], env={**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"})
        os.replace(str(h5) + ".tmp.h5", h5)
    sh([facec, "convert", str(h5), "-o", str(model), "--quiet"])
    out = WORK / f"{a.net}_facec_out.npy"
    sh([facec, "run", str(model), str(ref_in), "--npy", str(out)])
    got, want = load_npy(out), load_npy(ref_out)
    err = max(abs(x - y) for x, y in zip(got, want)) / max(abs(y) for y in want)
    print(f"# {a.net}: facec vs Keras on the peers' reference input: relative error {err:.2e}")

    for rep in range(a.repeat):
        rows = []
        for t in [int(x) for x in a.threads.split(",")]:
            r = json.loads(sh([facec, "bench", str(model), "--threads", str(t), "--runs", str(runs), "--json"]).stdout)
            rows.append(("facec", t, r["median_ms"], r["min_ms"]))
            p = subprocess.run([str(PEERS / "bench.sh"), "--net", a.net, "--threads", str(t), "--runs", str(runs), "--json"],
                               text=True, capture_output=True)
            for line in p.stdout.splitlines():
                j = json.loads(line)
                if "error" in j:
                    print(f"# {j['runtime']}: {j['error']}", file=sys.stderr)
                    continue
                rows.append((j["runtime"], t, j["median_ms"], j["min_ms"]))
        print(f"\n# run {rep + 1}/{a.repeat}: {a.net}, batch 1, median of {runs} runs (ms); ratio = facec / peer (< 1: facec faster)")
        print(f"{'runtime':10} {'threads':>7} {'median':>10} {'min':>10} {'facec/peer':>11}")
        for name, t, med, mn in rows:
            ours = next(m for n, tt, m, _ in rows if n == "facec" and tt == t)
            ratio = "" if name == "facec" else f"{ours / med:.2f}"
            print(f"{name:10} {t:>7} {med:>10.3f} {mn:>10.3f} {ratio:>11}")
        for t in sorted({r[1] for r in rows}):
            peers = [m for n, tt, m, _ in rows if tt == t and n != "facec"]
            ours = next(m for n, tt, m, _ in rows if n == "facec" and tt == t)
            if peers:
                print(f"# threads={t}: facec {ours:.3f} ms vs best peer {min(peers):.3f} ms -> {ours / min(peers):.2f}x")


if __name__ == "__main__":
    main()
