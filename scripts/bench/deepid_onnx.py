#!/usr/bin/env python3
"""deepface's ONNX DeepID file, made from the random-weight demo model Weights/deepid-random.h5,
and checked, so that deepface 0.0.103 on ONNX Runtime (its default as `pip install deepface`
installs it) can run the same network as deepface on TensorFlow and as facec.

  /root/.cache/facec-fixtures-venv/bin/python scripts/bench/deepid_onnx.py \
      [--home ~/.cache/facec-bench/deepface-home] [--onnx-python ~/.cache/facec-deepface-onnx-venv/bin/python] \
      [--photo ../shared/faces/img1.jpg]

Run it with the fixtures venv (deepface 0.0.103 + TensorFlow 2.21 + tf-keras, see
scripts/fixtures/README.md) plus `onnx`, pinned:

  /root/.cache/facec-fixtures-venv/bin/pip install onnx==1.23.2

and with the ONNX venv made as a user makes it (outside the repository):

  python3 -m venv ~/.cache/facec-deepface-onnx-venv
  ~/.cache/facec-deepface-onnx-venv/bin/pip install deepface==0.0.103
  ~/.cache/facec-deepface-onnx-venv/bin/pip install Werkzeug==3.1.9   # see python_represent.py

What it does:
 1. DEEPFACE_HOME: <home> (default ~/.cache/facec-bench/deepface-home). deepface looks for its
    weights in $DEEPFACE_HOME/.deepface/weights/<file>; Weights/deepid-random.h5 is copied there
    as deepid_keras_weights.h5 (what the TensorFlow DeepID client loads), so nothing is
    downloaded.
 2. The Keras model is deepface's own: deepface.models.facial_recognition.tf.DeepID.load_model()
    (its architecture + load_weights of that file). Its output on
    Tests/FacecTests/Fixtures/deepid_inputs.npy is compared with deepid_expected.npy.
 3. The ONNX graph is written by hand with onnx.helper from the Keras weights (no tf2onnx),
    shaped like deepface's published deepid_weights.onnx, which was exported from its PyTorch
    DeepIdNet with channels-last input (deepface/commons/onnx_utils.py: "graphs exported from
    the pytorch models take channels last - (n, X, X, c) shaped - inputs"):
      input  "input"  float32 [batch, 55, 47, 3]  (NHWC, BGR in [0, 1], what deepface's
                      run_session feeds: np.ascontiguousarray(img, dtype=np.float32) under
                      session.get_inputs()[0].name, so only the position of the input matters)
      Transpose(0,3,1,2) -> Conv1 4x4 (20) Relu MaxPool 2/2 -> Conv2 3x3 (40) Relu MaxPool 2/2
      -> Conv3 3x3 (60) Relu MaxPool 2/2 = x [batch,60,5,4]
      fc11 = Gemm(Flatten(x), transB)                         (1200 -> 160)
      fc12 = Gemm(Flatten(Relu(Conv4 2x2 (80) (x))), transB)  (960 -> 160)
      output "output" float32 [batch, 160] = Relu(fc11 + fc12)
    Keras kernels HWIO become OIHW; the dense weights, which Keras flattens channels last
    (h, w, c), are reordered to channels first (c, h, w), as deepface did for its PyTorch
    weights. Dropout is the identity at inference and is left out. Opset 17, IR version 8.
    It is written to <home>/.deepface/weights/deepid_weights.onnx (as .part, then renamed),
    the file deepface's ONNX DeepID client (deepface/models/facial_recognition/onnx/DeepID.py)
    opens with onnx_utils.build_session.
 4. Checks, run in the ONNX venv (a worker: this same file with --worker), which has
    onnxruntime and no TensorFlow, so deepface picks its ONNX backend there:
    a) deepface's own ONNX client, modeling.build_model("facial_recognition", "DeepID")
       .predict(deepid_inputs.npy) against deepid_expected.npy: rel_err = max|out - ref| /
       max|ref| (fails above 1e-5), also the largest elementwise |out - ref| / |ref| where
       |ref| > 1e-3 * max|ref|, and the largest cosine distance per row.
    b) DeepFace.represent(photo, model_name="DeepID", detector_backend="opencv") in both
       venvs (OpenCV on one thread in each; the faces' order depends on it), same DEEPFACE_HOME;
       each client's input is recorded on the way (its predict / forward wrapped, not changed).
       b1) the embeddings deepface gives on ONNX Runtime against the Keras model run on the very
           batch deepface fed onnxruntime: rel_err per face, fails above 1e-5;
       b2) end to end, TF venv against ONNX venv: the same number of faces, facial areas and
           confidences (fails otherwise), whether the model inputs are identical, and the
           embeddings' rel_err and cosine distance (fails above 1e-5 only when the inputs are
           identical: the venvs' OpenCV versions differ, see the note below).
       The TF embeddings are also compared with the committed reference
       Tests/FacecTests/Fixtures/detection/expected.json (made by deepface + TensorFlow with
       oneDNN off; 9 significant digits).
    Exit status 1 when a check fails.
Note: the two venvs do not have the same OpenCV. The fixtures venv pins opencv-python-headless
4.14 (scripts/fixtures/requirements.txt); `pip install deepface==0.0.103` pulls
opencv-contrib-python-headless 5.1. cv2.imread and cv2.resize give the same bits in both, but
cv2.warpAffine (INTER_CUBIC, used by deepface to level the eyes) does not, so the aligned crops,
and with them the embeddings, differ slightly end to end (img1.jpg: inputs up to 0.97/255 apart,
embeddings rel_err 8.6e-4, cosine distance 4.9e-7), while the faces found are the same.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "Tests" / "FacecTests" / "Fixtures"
DEFAULT_HOME = Path.home() / ".cache" / "facec-bench" / "deepface-home"
DEFAULT_ONNX_PY = Path.home() / ".cache" / "facec-deepface-onnx-venv" / "bin" / "python"
TOL = 1e-5


def rel_errors(out, ref):
    """max|out-ref|/max|ref|, the largest elementwise relative error where |ref| is not tiny,
    and the largest cosine distance over rows."""
    out = np.asarray(out, np.float64).reshape(len(ref), -1)
    ref = np.asarray(ref, np.float64).reshape(len(ref), -1)
    d = np.abs(out - ref)
    scale = np.abs(ref).max()
    mask = np.abs(ref) > 1e-3 * scale
    elem = float((d[mask] / np.abs(ref[mask])).max()) if mask.any() else 0.0
    cos = [1.0 - float(np.dot(o, r) / (np.linalg.norm(o) * np.linalg.norm(r)))
           if np.linalg.norm(o) * np.linalg.norm(r) > 0 else float(np.abs(o - r).max())
           for o, r in zip(out, ref)]
    return {"rel_err": float(d.max() / scale), "max_abs": float(d.max()), "elem_rel_err": elem,
            "max_cos_dist": max(cos)}


# ---------------------------------------------------------------- worker (ONNX venv)

def worker(args):
    """Runs in the ONNX venv: deepface's own ONNX client on the fixture inputs, and
    DeepFace.represent on the photo. Prints one JSON object."""
    os.environ["DEEPFACE_HOME"] = args.home
    import cv2
    cv2.setNumThreads(1)
    import onnxruntime as ort
    import deepface
    from deepface import DeepFace
    from deepface.commons import backend_utils
    from deepface.modules import modeling

    x = np.load(FIX / "deepid_inputs.npy")
    client = modeling.build_model(task="facial_recognition", model_name="DeepID")
    sess = client.model
    out = client.predict(x)
    seen = []  # what deepface hands its model during represent (recorded, not changed)
    predict = client.predict
    client.predict = lambda img: (seen.append(np.array(img, np.float32)), predict(img))[1]
    reps = DeepFace.represent(args.photo, model_name="DeepID", detector_backend="opencv")
    client.predict = predict
    print(json.dumps({
        "backend": backend_utils.get_backend_engine(), "client": type(client).__module__,
        "versions": {"deepface": deepface.__version__, "onnxruntime": ort.__version__,
                     "opencv": cv2.__version__, "numpy": np.__version__},
        "providers": sess.get_providers(),
        "inputs": [(i.name, i.shape, i.type) for i in sess.get_inputs()],
        "outputs": [(o.name, o.shape, o.type) for o in sess.get_outputs()],
        "fixture_out": out.tolist(), "represent": reps,
        "represent_input": np.concatenate(seen).tolist()}))
    return 0


# ---------------------------------------------------------------- ONNX graph

def keras_weights(model):
    w = {}
    for layer in model.layers:
        if layer.name in ("Conv1", "Conv2", "Conv3", "Conv4", "fc11", "fc12"):
            k, b = layer.get_weights()
            w[layer.name] = (np.asarray(k, np.float32), np.asarray(b, np.float32))
    assert len(w) == 6, sorted(w)
    return w


def build_onnx(w):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, np.float32), name))
        return name

    def conv(name, src):
        k, b = w[name]  # Keras HWIO
        kh, kw = k.shape[:2]
        nodes.append(helper.make_node("Conv", [src, init(f"{name}.weight", k.transpose(3, 2, 0, 1)),
                                               init(f"{name}.bias", b)], [f"{name}_out"],
                                      name=name, kernel_shape=[kh, kw], strides=[1, 1],
                                      pads=[0, 0, 0, 0], dilations=[1, 1], group=1))
        nodes.append(helper.make_node("Relu", [f"{name}_out"], [f"{name}_relu"], name=f"{name}_relu"))
        return f"{name}_relu"

    def pool(name, src):
        nodes.append(helper.make_node("MaxPool", [src], [f"{name}_out"], name=name,
                                      kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0], ceil_mode=0))
        return f"{name}_out"

    def dense(name, src, chw):
        k, b = w[name]  # [h*w*c, out], rows in Keras's channels-last flatten order
        c, h, wd = chw
        k = k.reshape(h, wd, c, -1).transpose(2, 0, 1, 3).reshape(c * h * wd, -1)  # rows (c, h, w)
        nodes.append(helper.make_node("Flatten", [src], [f"{name}_flat"], name=f"{name}_flatten", axis=1))
        nodes.append(helper.make_node("Gemm", [f"{name}_flat", init(f"{name}.weight", k.T),
                                               init(f"{name}.bias", b)], [f"{name}_out"],
                                      name=name, alpha=1.0, beta=1.0, transB=1))
        return f"{name}_out"

    nodes.append(helper.make_node("Transpose", ["input"], ["nchw"], name="to_nchw", perm=[0, 3, 1, 2]))
    x = pool("Pool1", conv("Conv1", "nchw"))
    x = pool("Pool2", conv("Conv2", x))
    x = pool("Pool3", conv("Conv3", x))          # [n, 60, 5, 4]
    fc11 = dense("fc11", x, (60, 5, 4))
    fc12 = dense("fc12", conv("Conv4", x), (80, 4, 3))
    nodes.append(helper.make_node("Add", [fc11, fc12], ["sum"], name="add"))
    nodes.append(helper.make_node("Relu", ["sum"], ["output"], name="deepid"))

    graph = helper.make_graph(
        nodes, "DeepID",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 55, 47, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 160])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="facec scripts/bench/deepid_onnx.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def setup_home(home):
    weights = home / ".deepface" / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    h5 = weights / "deepid_keras_weights.h5"
    src = REPO / "Weights" / "deepid-random.h5"
    if not h5.exists() or h5.read_bytes() != src.read_bytes():
        shutil.copy(src, h5.with_suffix(".h5.part"))
        os.replace(h5.with_suffix(".h5.part"), h5)
    return weights


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", default=str(DEFAULT_HOME), help="DEEPFACE_HOME to write into")
    ap.add_argument("--onnx-python", default=str(DEFAULT_ONNX_PY), help="the ONNX venv's python")
    ap.add_argument("--photo", default=str(REPO.parent / "shared" / "faces" / "img1.jpg"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.home = str(Path(args.home).expanduser().resolve())
    args.photo = str(Path(args.photo).resolve())
    if args.worker:
        return worker(args)

    home = Path(args.home)
    weights = setup_home(home)
    os.environ["DEEPFACE_HOME"] = str(home)
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"  # as the fixtures were made
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import cv2
    cv2.setNumThreads(1)
    import onnx
    import deepface
    from deepface import DeepFace
    from deepface.commons import backend_utils
    from deepface.models.facial_recognition.tf import DeepID as tf_deepid

    assert deepface.__version__ == "0.0.103", deepface.__version__
    assert backend_utils.get_backend_engine() == "tensorflow", backend_utils.get_backend_engine()
    failed = []

    x = np.load(FIX / "deepid_inputs.npy")
    ref = np.load(FIX / "deepid_expected.npy")
    kmodel = tf_deepid.load_model()
    kout = kmodel(x, training=False).numpy()
    e = rel_errors(kout, ref)
    print(f"keras (deepface tf DeepID.load_model + {Path(weights / 'deepid_keras_weights.h5')}) vs "
          f"deepid_expected.npy: rel_err={e['rel_err']:.3e} max_abs={e['max_abs']:.3e} "
          f"bit-identical={np.array_equal(kout, ref)}")
    if e["rel_err"] > TOL:
        failed.append("keras vs deepid_expected.npy")

    model = build_onnx(keras_weights(kmodel))
    target = weights / "deepid_weights.onnx"
    part = target.with_suffix(".onnx.part")
    onnx.save(model, str(part))
    os.replace(part, target)
    print(f"wrote {target} ({target.stat().st_size} bytes; onnx {onnx.__version__}, opset 17, IR 8; "
          f"input 'input' float32 [batch,55,47,3] NHWC, output 'output' float32 [batch,160])")

    r = subprocess.run([args.onnx_python, __file__, "--worker", "--home", str(home), "--photo", args.photo],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        print("FAIL: the ONNX venv worker failed")
        return 1
    wk = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"ONNX venv: deepface {wk['versions']['deepface']} backend={wk['backend']} client={wk['client']} "
          f"onnxruntime {wk['versions']['onnxruntime']} opencv {wk['versions']['opencv']} "
          f"providers={wk['providers']} inputs={wk['inputs']} outputs={wk['outputs']}")
    if wk["backend"] != "onnx":
        failed.append("the ONNX venv does not run deepface on onnx")

    e = rel_errors(wk["fixture_out"], ref)
    print(f"a) deepface ONNX DeepID client on deepid_inputs.npy vs deepid_expected.npy (TF): "
          f"rel_err={e['rel_err']:.3e} (max|d|/max|ref|) max_abs={e['max_abs']:.3e} "
          f"elem_rel_err={e['elem_rel_err']:.3e} max_cos_dist={e['max_cos_dist']:.3e}  "
          f"{'ok' if e['rel_err'] <= TOL else 'FAIL'} (tolerance {TOL:g})")
    if e["rel_err"] > TOL:
        failed.append("ONNX vs deepid_expected.npy")

    # b) the same photo through deepface on TensorFlow, recording what its client is fed
    from deepface.modules import modeling
    tf_client = modeling.build_model(task="facial_recognition", model_name="DeepID")
    tf_seen = []
    forward = tf_client.forward
    tf_client.forward = lambda img: (tf_seen.append(np.array(img, np.float32)), forward(img))[1]
    tf_reps = DeepFace.represent(args.photo, model_name="DeepID", detector_backend="opencv")
    tf_client.forward = forward
    ox_reps = wk["represent"]
    ox_in = np.asarray(wk["represent_input"], np.float32)
    tf_in = np.concatenate(tf_seen)
    print(f"b) DeepFace.represent({Path(args.photo).name}, DeepID, opencv): TF venv (opencv {cv2.__version__}) "
          f"{len(tf_reps)} face(s), ONNX venv (opencv {wk['versions']['opencv']}) {len(ox_reps)} face(s)")
    if len(tf_reps) != len(ox_reps):
        failed.append("represent: different face counts")
    # b1) the exact batch deepface fed onnxruntime, through the Keras model
    kx = tf_client.model(ox_in, training=False).numpy()
    e = rel_errors([r["embedding"] for r in ox_reps], kx)
    print(f"   b1) ONNX venv embeddings vs Keras on the same model input (the batch deepface fed "
          f"onnxruntime, {list(ox_in.shape)}): rel_err={e['rel_err']:.3e} max_abs={e['max_abs']:.3e} "
          f"cos_dist={e['max_cos_dist']:.3e}  {'ok' if e['rel_err'] <= TOL else 'FAIL'}")
    if e["rel_err"] > TOL:
        failed.append("ONNX represent vs Keras on the same input")
    # b2) end to end: detection, alignment and preprocessing in each venv's own OpenCV
    same_input = tf_in.shape == ox_in.shape and np.array_equal(tf_in, ox_in)
    if tf_in.shape == ox_in.shape:
        d = np.abs(tf_in - ox_in)
        print(f"   b2) model inputs, TF venv vs ONNX venv: {'identical' if same_input else f'differ: max |d|={d.max():.3e} ({d.max() * 255:.2f}/255), {int((d > 0).sum())} of {d.size} values'}")
    for i, (t, o) in enumerate(zip(tf_reps, ox_reps)):
        area = {k: (list(v) if isinstance(v, tuple) else v) for k, v in t["facial_area"].items()}
        same_area = area == o["facial_area"] and t["face_confidence"] == o["face_confidence"]
        e = rel_errors([o["embedding"]], [t["embedding"]])
        ok = same_area and (e["rel_err"] <= TOL or not same_input)
        print(f"       face {i}: facial_area {area} {'same' if same_area else 'DIFFERS: ' + str(o['facial_area'])}, "
              f"confidence {t['face_confidence']} / {o['face_confidence']}; embeddings TF vs ONNX: rel_err={e['rel_err']:.3e} "
              f"max_abs={e['max_abs']:.3e} cos_dist={e['max_cos_dist']:.3e}"
              f"{'' if same_input else ' (inputs differ: OpenCV ' + cv2.__version__ + ' vs ' + wk['versions']['opencv'] + ', see below)'}"
              f"  {'ok' if ok else 'FAIL'}")
        if not ok:
            failed.append(f"represent face {i}")
    if not same_input:
        print("       The crops differ because deepface rotates the face with cv2.warpAffine(INTER_CUBIC), whose "
              "results differ between OpenCV 4.14 and 5.1 (cv2.imread and cv2.resize agree bit for bit); "
              "b1 is the backend check.")

    det = json.load(open(FIX / "detection" / "expected.json"))
    entry = next((p for p in det["photos"] if p["file"] == Path(args.photo).name), None)
    if entry is not None and len(entry.get("faces", [])) == len(tf_reps):
        e = rel_errors([t["embedding"] for t in tf_reps], [f["embedding"] for f in entry["faces"]])
        print(f"   TF embeddings vs detection/expected.json (9 significant digits, oneDNN off): "
              f"rel_err={e['rel_err']:.3e}")

    if failed:
        print("FAIL: " + "; ".join(failed))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
