#!/usr/bin/env python3
"""dlib's face-recognition ResNet (dlib_face_recognition_resnet_model_v1.dat, the real trained
weights) replicated as an ONNX model and a float32 TFLite model, checked against dlib itself,
and timed: the speed peers of `scripts/bench/compare.py --net dlib`.

  scripts/bench/dlib_replica.py --check [--batch B]   # build what is missing, print the errors
  scripts/bench/dlib_replica.py setup [--batch B]     # build what is missing, print the paths (JSON)
  scripts/bench/dlib_replica.py time [--runtimes ort,tflite,dlib] [--threads T] [--batch B] [--runs R]
                                                      # one JSON line per runtime (bench.sh's fields)

The top level uses the standard library only (run it with the system python3). The work is done
in child processes of this same file:
 - the peers' venv (../shared/peers, $FACEC_PEERS_CACHE or ~/.cache/facec-peers/venv, made by
   their peers.py ensure_venv: TensorFlow 2.21, onnx 1.23.2, onnxruntime 1.32.0, numpy 2.4.6)
   reads the .dat, writes and runs the ONNX and TFLite files;
 - a venv of its own, ~/.cache/facec-bench/dlib-venv, with DLIB_PINS below (the dlib 20.0.1
   binary wheel), runs dlib itself: the reference descriptors and dlib's own timing.
The weights come from `scripts/fetch-weights.sh dlib` (cached outside the repository). Everything
built lives in ~/.cache/facec-bench/dlib/ (rebuilt when this file, the .dat or the packages
change; written as .part and renamed; a lock serialises concurrent setups):
  dlib.onnx                  dynamic batch, NHWC float input "input" [N,150,150,3] -> "embedding" [N,128]
  dlib_fp32_b<B>.tflite      the same graph from tf.function, static batch B (TFLiteConverter)
  chips_u8.npy               the check chips, uint8 RGB [K,150,150,3]
  ref_in.npy                 the same chips as the network sees them, float32 [K,150,150,3]:
                             (pixel - avg[c]) / 256 with dlib's avg_red/green/blue read from the .dat
                             (122.782, 117.001, 104.298), exactly as input_rgb_image_sized computes it
  ref_out.npy                dlib's compute_face_descriptor on those chips, float32 [K,128]
  ref.json                   chip names, the averages, the versions

The network input of both models is ALREADY transformed ((x - avg) / 256, RGB, NHWC): the same tensor
facec's converted model takes, so the input transform is not part of the timed graph. dlib's own
timing (runtime "dlib") is compute_face_descriptor on uint8 chips, which includes its transform
(and dlib's batching into mini-batches of 16); its thread count cannot be set from Python.

The reader (read_dat) is independent of dlib: a bounded, sequential parse of dlib's serialisation
(dlib/serialize.h compact ints, float_details, bools as '1'/'0', tensors; dlib/dnn/core.h add_layer
version 2 = subnetwork then details, 3 bools, x_grad, cached_output, params_grad; tag/skip layers
version 1 with their subnetwork only; the innermost add_layer version 2/3 with the input layer),
matched layer by layer against the architecture of dlib's examples/dnn_face_recognition_ex.cpp
(anet_type; anet() below): kinds, filter counts, kernel sizes, strides and padding are checked.
 - conv: params = filters OIHW then biases; padding from the file (k/2 for stride 1, 0 otherwise).
 - affine (conv mode): y = gamma[c] * x + beta[c]; exported as Mul + Add, which the runtimes fold
   into the preceding conv as they would a BatchNorm (checked: the .tflite holds 29 CONV_2D, 14 ADD,
   5 PAD, 4 AVERAGE_POOL_2D, 1 MAX_POOL_2D, 1 MEAN, 1 FULLY_CONNECTED and no MUL; ORT's optimised
   graph has no Mul either, its Relus and some Adds fused into the convs).
 - add_prev: dlib's tt::add with zero extension (cpu_dlib.cpp add(dest, src1, src2)): the output has
   the larger channel count and spatial size, each operand top-left aligned and zero elsewhere.
   Exported as a zero Pad (end side) of the smaller operand, then Add: 32 -> 64 -> 128 -> 256
   channels on the avg-pooled skip path, and 3x3 conv output vs 4x4 pooled skip (output 4x4) and
   1x1 vs 2x2 (output 2x2) in the last two stages.
 - max_pool 3x3/2 and avg_pool 2x2/2 unpadded; avg_pool_everything = global average; fc_no_bias:
   y = x . W with W [256][128] as stored.

--check prints, per check chip (3 uniform-random uint8 chips, 2 smooth synthetic ones and up to 2
face crops from ../shared/faces found by dlib's HOG detector and resized to 150x150 by nearest
neighbour), the relative error max|out - dlib| / max|dlib| of: the reader's own float64 numpy
forward pass, ONNX Runtime (batch K and batch 1) and TFLite XNNPACK (batch 1, and batch B with
--batch B > 1, on the chips cycled), and exits 1 if any is above 1e-5.

`time` mirrors the peers' runner.py: load, one checked call, warm-up max(2, min(50, runs/10)), then
`runs` timed calls of B images (the check chips, cycled); median/min/p90 ms per call, img/s,
GFLOP/s (2 x the multiply-adds of the 29 convs and the fc: 0.542 GFLOP/img), rel_err and cosine of the first
image against dlib's reference, cpu_util. Each runtime in its own process. ort: CPU EP,
ORT_ENABLE_ALL, intra_op_num_threads=T, inter_op=1, sequential; tflite: tf.lite.Interpreter
num_threads=T (XNNPACK default delegate); dlib: face_recognition_model_v1.compute_face_descriptor
on a list of B uint8 chips (one image: the single-image call).
"""
import argparse, fcntl, hashlib, json, math, os, shutil, statistics, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS = Path(os.environ.get("FACEC_PEERS_DIR") or ROOT.parent / "shared" / "peers")
FACES = ROOT.parent / "shared" / "faces"
WORK = Path.home() / ".cache" / "facec-bench"
DIR = WORK / "dlib"
DLIB_VENV = WORK / "dlib-venv"
DLIB_PINS = ["dlib-bin==20.0.1.post1", "numpy==2.4.6"]
FACE_FILES = ["img1.jpg", "img2.jpg"]
TOL = 1e-5
RUNTIMES = ["ort", "tflite", "dlib"]
NR = NC = 150


def log(msg):
    print(f"[dlib_replica] {msg}", file=sys.stderr, flush=True)


def die(msg, code=2):
    print(f"dlib_replica.py: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


# ------------------------------------------------------------------------------------------------
# The .dat reader (numpy only)


class FormatError(Exception):
    pass


class Reader:
    """dlib's serialisation primitives over a bytes object, every read bounded by the data."""

    def __init__(self, data):
        self.b, self.p = data, 0

    def take(self, n):
        if n < 0 or self.p + n > len(self.b):
            raise FormatError(f"truncated at byte {self.p} (wanted {n} more of {len(self.b)})")
        s = self.b[self.p:self.p + n]
        self.p += n
        return s

    def int(self, signed=True):
        c = self.take(1)[0]
        n = c & 0x0F
        if n == 0 or n > 8 or (c & 0x70):
            raise FormatError(f"bad integer control byte 0x{c:02x} at byte {self.p - 1}")
        v = int.from_bytes(self.take(n), "little")
        return -v if (signed and c & 0x80) else v

    def str(self):
        n = self.int(signed=False)
        if n > 64:
            raise FormatError(f"string of {n} bytes at byte {self.p} (layer names are short)")
        return self.take(n).decode("ascii")

    def peek_str(self):
        p = self.p
        try:
            return self.str()
        except (FormatError, UnicodeDecodeError):
            return None
        finally:
            self.p = p

    def float(self):
        import numpy as np
        m, e = self.int(), self.int()
        if e >= 32000:
            raise FormatError(f"special float (exponent {e}) at byte {self.p}")
        return float(np.ldexp(np.float32(m), e))  # dlib: std::ldexp((float)mantissa, exponent)

    def bool(self):
        c = self.take(1)
        if c not in (b"0", b"1"):
            raise FormatError(f"bad bool {c!r} at byte {self.p - 1}")
        return c == b"1"

    def tensor(self):
        import numpy as np
        if self.int() != 2:
            raise FormatError(f"tensor version is not 2 at byte {self.p}")
        dims = [self.int() for _ in range(4)]
        if min(dims) < 0:
            raise FormatError(f"negative tensor dims {dims}")
        n = math.prod(dims)
        return np.frombuffer(self.take(4 * n), "<f4").astype(np.float32).reshape(dims)

    def alias(self):
        if self.int() != 1:
            raise FormatError(f"alias_tensor version is not 1 at byte {self.p}")
        return tuple(self.int() for _ in range(4))


def read_details(r):
    """One layer's details (dlib/dnn/layers.h serialize), as a dict with 'kind'."""
    name = r.str()
    if name in ("con_4", "con_5", "con_6"):
        params = r.tensor()
        d = dict(kind="con", n=r.int(), nr=r.int(), nc=r.int(), sy=r.int(), sx=r.int(), py=r.int(), px=r.int())
        fshape, bshape = r.alias(), r.alias()
        [r.float() for _ in range(4)]  # learning-rate / weight-decay multipliers
        use_bias = r.bool() if name != "con_4" else True
        if name == "con_6" and r.bool():
            raise FormatError("con_ with a fused relu is not supported")
        flat, nf = params.reshape(-1), math.prod(fshape)
        if fshape[0] != d["n"] or fshape[2:] != (d["nr"], d["nc"]) or flat.size != nf + (d["n"] if use_bias else 0):
            raise FormatError(f"con_: params {params.shape} do not match filters {fshape}, biases {bshape}")
        d["w"] = flat[:nf].reshape(fshape)
        d["b"] = flat[nf:] if use_bias else None
        return d
    if name in ("affine_", "affine_2"):
        params = r.tensor()
        g, b = r.alias(), r.alias()
        mode = r.int()
        if name == "affine_2" and r.bool():
            raise FormatError("disabled affine_ layer")
        flat = params.reshape(-1)
        c = math.prod(g)
        if mode != 0 or g != (1, c, 1, 1) or b != g or flat.size != 2 * c:
            raise FormatError(f"affine_: mode {mode}, gamma {g}, beta {b}, params {params.shape}: not conv mode")
        return dict(kind="affine", gamma=flat[:c], beta=flat[c:])
    if name in ("relu_", "relu_2"):
        if name == "relu_2" and r.bool():
            raise FormatError("disabled relu_ layer")
        return dict(kind="relu")
    if name in ("max_pool_2", "avg_pool_2"):
        return dict(kind=name[:-2], nr=r.int(), nc=r.int(), sy=r.int(), sx=r.int(), py=r.int(), px=r.int())
    if name == "add_prev_":
        return dict(kind="add_prev")
    if name in ("fc_2", "fc_3"):
        nout, nin = r.int(), r.int()
        params = r.tensor()
        wshape, bshape = r.alias(), r.alias()
        mode = r.int()
        [r.float() for _ in range(4)]
        if name == "fc_3":
            r.bool()
        flat = params.reshape(-1)
        if mode != 1 or wshape[:2] != (nin, nout) or flat.size != nin * nout:
            raise FormatError(f"fc_: bias mode {mode}, weights {wshape}, params {params.shape}: not fc_no_bias")
        return dict(kind="fc", n=nout, w=flat.reshape(nin, nout))
    raise FormatError(f"unsupported layer '{name}' at byte {r.p}")


def read_dat(path):
    """The whole file: {'avg': (r, g, b), 'layers': [details dicts, input side first, tags and
    skips included as {'kind': 'tag/skip'}], 'margin', 'dist_thresh'}."""
    r = Reader(Path(path).read_bytes())
    if r.int() != 1 or r.str() != "loss_metric_2":
        raise FormatError("not a dlib loss_metric network (expected add_loss_layer 1, 'loss_metric_2')")
    margin, dist_thresh = r.float(), r.float()
    versions = []  # outermost -> innermost
    while True:
        v = r.int()
        if r.peek_str() == "input_rgb_image_sized":
            if v not in (2, 3):
                raise FormatError(f"input add_layer version {v}")
            break
        if v not in (1, 2) or len(versions) > 1000:
            raise FormatError(f"layer version {v} at byte {r.p}")
        versions.append(v)
    r.str()
    avg = (r.float(), r.float(), r.float())
    if (r.int(False), r.int(False)) != (NR, NC):
        raise FormatError("input is not 150x150")
    layers = [read_details(r)]  # the innermost add_layer: input layer, its details, then its tail
    r.bool(), r.bool(), r.bool()
    r.tensor(), r.tensor(), r.tensor()  # x_grad, cached_output, grad_final
    if v == 3:
        r.int(False)  # _sample_expansion_factor
    for v in reversed(versions):  # innermost -> outermost
        if v == 1:  # add_tag_layer / add_skip_layer: nothing but the version
            layers.append(dict(kind="tag/skip"))
            continue
        d = read_details(r)
        r.bool(), r.bool(), r.bool()
        r.tensor(), r.tensor(), r.tensor()  # x_grad, cached_output, params_grad
        layers.append(d)
    if r.p != len(r.b):
        raise FormatError(f"{len(r.b) - r.p} bytes left after the network")
    return dict(avg=avg, layers=layers, margin=margin, dist_thresh=dist_thresh)


def anet():
    """dlib's anet_type (examples/dnn_face_recognition_ex.cpp), input side first."""
    def ares(n):
        return [("tag", 1), ("con", n, 3, 1), ("affine",), ("relu",), ("con", n, 3, 1), ("affine",),
                ("add_prev", 1), ("relu",)]

    def ares_down(n):
        return [("tag", 1), ("con", n, 3, 2), ("affine",), ("relu",), ("con", n, 3, 1), ("affine",),
                ("tag", 2), ("skip", 1), ("avg_pool", 2, 2), ("add_prev", 2), ("relu",)]
    return ([("con", 32, 7, 2), ("affine",), ("relu",), ("max_pool", 3, 2)]
            + ares(32) * 3
            + ares_down(64) + ares(64) * 3
            + ares_down(128) + ares(128) * 2
            + ares_down(256) + ares(256) * 2
            + ares_down(256)
            + [("avg_pool", 0, 1), ("fc", 128)])


def build_ir(model):
    """Match the file's layers against ANET and return (nodes, output id, shapes): nodes are
    (op, inputs, attrs) with ids = list index; node 0 is the input [C=3, 150, 150]."""
    arch, layers = anet(), model["layers"]
    if len(arch) != len(layers):
        raise FormatError(f"{len(layers)} layers in the file, anet_type has {len(arch)}")
    nodes, shapes = [("input", [], {})], [(3, NR, NC)]

    def add(op, ins, shape, **attrs):
        nodes.append((op, ins, attrs))
        shapes.append(shape)
        return len(nodes) - 1

    cur, tags = 0, {}
    for i, (want, d) in enumerate(zip(arch, layers)):
        kind = want[0]
        if (kind in ("tag", "skip")) != (d["kind"] == "tag/skip") or (kind not in ("tag", "skip") and kind != d["kind"]):
            raise FormatError(f"layer {i}: file has {d['kind']}, anet_type expects {kind}")
        c, h, w = shapes[cur]
        if kind == "tag":
            tags[want[1]] = cur
        elif kind == "skip":
            cur = tags[want[1]]
        elif kind == "con":
            n, k, s = want[1:]
            p = 0 if s != 1 else k // 2
            if (d["n"], d["nr"], d["nc"], d["sy"], d["sx"], d["py"], d["px"]) != (n, k, k, s, s, p, p) \
                    or d["w"].shape[1] != c:
                raise FormatError(f"layer {i}: con {d['n']} {d['nr']}x{d['nc']}/{d['sy']} pad {d['py']} "
                                  f"on {c} channels, expected {n} {k}x{k}/{s} pad {p}")
            ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            cur = add("conv", [cur], (n, ho, wo), w=d["w"], b=d["b"], stride=s, pad=p)
        elif kind == "affine":
            if d["gamma"].size != c:
                raise FormatError(f"layer {i}: affine over {d['gamma'].size} channels, input has {c}")
            cur = add("affine", [cur], (c, h, w), gamma=d["gamma"], beta=d["beta"])
        elif kind == "relu":
            cur = add("relu", [cur], (c, h, w))
        elif kind in ("max_pool", "avg_pool"):
            k, s = want[1:]
            p = 0 if s != 1 else k // 2
            if (d["nr"], d["nc"], d["sy"], d["sx"], d["py"], d["px"]) != (k, k, s, s, p, p):
                raise FormatError(f"layer {i}: {kind} {d}, expected {k}x{k}/{s} pad {p}")
            if k == 0:  # avg_pool_everything
                cur = add("gavg", [cur], (c, 1, 1))
            else:
                cur = add(kind, [cur], (c, (h - k) // s + 1, (w - k) // s + 1), k=k, stride=s)
        elif kind == "add_prev":
            other = tags[want[1]]
            out = tuple(max(a, b) for a, b in zip(shapes[cur], shapes[other]))
            cur = add("add", [cur, other], out)
        elif kind == "fc":
            if d["n"] != want[1] or d["w"].shape[0] != c * h * w:
                raise FormatError(f"layer {i}: fc {d['w'].shape}, expected [{c * h * w}][{want[1]}]")
            cur = add("fc", [cur], (want[1],), w=d["w"])
    return nodes, cur, shapes


def gflop_per_img(nodes, shapes):
    macs = 0
    for (op, ins, a), shape in zip(nodes, shapes):
        if op == "conv":
            o, i, kh, kw = a["w"].shape
            macs += shape[1] * shape[2] * o * i * kh * kw
        elif op == "fc":
            macs += a["w"].size
    return 2 * macs / 1e9


def transform(chips, avg):
    """input_rgb_image_sized::to_tensor: (pixel - avg[c]) / 256 in float, NHWC."""
    import numpy as np
    return ((chips.astype(np.float32) - np.array(avg, np.float32)) / np.float32(256)).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# Three backends of the same IR


def forward_numpy(nodes, out, x_nhwc):
    """float64 reference forward pass (NCHW), straight from the IR."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view as win
    vals = [np.asarray(x_nhwc, np.float64).transpose(0, 3, 1, 2)]
    for op, ins, a in nodes[1:]:
        x = vals[ins[0]] if ins else None
        if op == "conv":
            p, s = a["pad"], a["stride"]
            xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
            k = a["w"].shape[2]
            wv = win(xp, (k, k), axis=(2, 3))[:, :, ::s, ::s]  # N C Ho Wo kh kw
            y = np.einsum("nchwij,ocij->nohw", wv, a["w"].astype(np.float64), optimize=True)
            if a["b"] is not None:
                y += a["b"].astype(np.float64)[None, :, None, None]
        elif op == "affine":
            y = x * a["gamma"][None, :, None, None] + a["beta"][None, :, None, None]
        elif op == "relu":
            y = np.maximum(x, 0)
        elif op in ("max_pool", "avg_pool"):
            wv = win(x, (a["k"], a["k"]), axis=(2, 3))[:, :, ::a["stride"], ::a["stride"]]
            y = wv.max(axis=(4, 5)) if op == "max_pool" else wv.mean(axis=(4, 5))
        elif op == "gavg":
            y = x.mean(axis=(2, 3), keepdims=True)
        elif op == "add":
            b = vals[ins[1]]
            y = np.zeros((x.shape[0],) + tuple(max(i, j) for i, j in zip(x.shape[1:], b.shape[1:])))
            y[:, :x.shape[1], :x.shape[2], :x.shape[3]] += x
            y[:, :b.shape[1], :b.shape[2], :b.shape[3]] += b
        elif op == "fc":
            y = x.reshape(x.shape[0], -1) @ a["w"].astype(np.float64)
        vals.append(y)
    return vals[out]


def export_onnx(nodes, out, shapes, path, opset=17):
    """NHWC input -> Transpose -> NCHW Conv/Mul/Add/Relu/MaxPool/AveragePool/Pad/
    GlobalAveragePool -> Flatten -> MatMul, dynamic batch (like the peers' export.py)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    onodes, inits = [], []

    def node(op, inputs, **attrs):
        name = f"t{len(onodes)}"
        onodes.append(helper.make_node(op, inputs, [name], **attrs))
        return name

    def const(arr, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype), f"c{len(inits)}"))
        return inits[-1].name

    def zext(name, shape, to):
        dc, dh, dw = (t - s for s, t in zip(shape, to))
        if not (dc or dh or dw):
            return name
        return node("Pad", [name, const([0, 0, 0, 0, 0, dc, dh, dw], np.int64)])

    names = [node("Transpose", ["input"], perm=[0, 3, 1, 2])]
    for (op, ins, a), shape in zip(nodes[1:], shapes[1:]):
        x = names[ins[0]]
        if op == "conv":
            k, p = a["w"].shape[2], a["pad"]
            y = node("Conv", [x, const(a["w"])] + ([const(a["b"])] if a["b"] is not None else []),
                     kernel_shape=[k, k], strides=[a["stride"]] * 2, pads=[p] * 4)
        elif op == "affine":
            c = a["gamma"].size
            y = node("Add", [node("Mul", [x, const(a["gamma"].reshape(1, c, 1, 1))]), const(a["beta"].reshape(1, c, 1, 1))])
        elif op == "relu":
            y = node("Relu", [x])
        elif op in ("max_pool", "avg_pool"):
            y = node("MaxPool" if op == "max_pool" else "AveragePool", [x], kernel_shape=[a["k"]] * 2,
                     strides=[a["stride"]] * 2)
        elif op == "gavg":
            y = node("GlobalAveragePool", [x])
        elif op == "add":
            y = node("Add", [zext(x, shapes[ins[0]], shape), zext(names[ins[1]], shapes[ins[1]], shape)])
        elif op == "fc":
            y = node("MatMul", [node("Flatten", [x], axis=1), const(a["w"])])
        names.append(y)
    onodes.append(helper.make_node("Identity", [names[out]], ["embedding"]))
    graph = helper.make_graph(
        onodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", NR, NC, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", shapes[out][0]])],
        initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="facec/scripts/bench/dlib_replica.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    write_atomic(path, m.SerializeToString())


def export_tflite(nodes, out, shapes, batch, path):
    """The same graph as a tf.function in NHWC (tf.nn ops, weights as constants), static batch,
    converted by TFLiteConverter.from_concrete_functions (float32, no optimisations)."""
    import numpy as np
    import tensorflow as tf
    consts = []  # numpy -> tf constants made once, captured by the function

    def prep():
        for op, ins, a in nodes[1:]:
            if op == "conv":
                consts.append((tf.constant(a["w"].transpose(2, 3, 1, 0)),  # OIHW -> HWIO
                               None if a["b"] is None else tf.constant(a["b"])))
            elif op == "affine":
                consts.append((tf.constant(a["gamma"]), tf.constant(a["beta"])))
            elif op == "fc":
                consts.append((tf.constant(a["w"]), None))
            else:
                consts.append(None)
    prep()

    def zext(t, shape, to):
        dc, dh, dw = (u - s for s, u in zip(shape, to))
        return tf.pad(t, [[0, 0], [0, dh], [0, dw], [0, dc]]) if (dc or dh or dw) else t

    @tf.function(input_signature=[tf.TensorSpec([batch, NR, NC, 3], tf.float32, name="input")])
    def net(x):
        vals = [x]
        for i, ((op, ins, a), shape) in enumerate(zip(nodes[1:], shapes[1:])):
            t, cst = vals[ins[0]], consts[i]
            if op == "conv":
                k, p, s = a["w"].shape[2], a["pad"], a["stride"]
                if p == 0:
                    y = tf.nn.conv2d(t, cst[0], s, "VALID")
                elif s == 1 and p == k // 2 and k % 2 == 1:
                    y = tf.nn.conv2d(t, cst[0], 1, "SAME")
                else:
                    y = tf.nn.conv2d(tf.pad(t, [[0, 0], [p, p], [p, p], [0, 0]]), cst[0], s, "VALID")
                if cst[1] is not None:
                    y = tf.nn.bias_add(y, cst[1])
            elif op == "affine":
                y = t * cst[0] + cst[1]
            elif op == "relu":
                y = tf.nn.relu(t)
            elif op == "max_pool":
                y = tf.nn.max_pool2d(t, a["k"], a["stride"], "VALID")
            elif op == "avg_pool":
                y = tf.nn.avg_pool2d(t, a["k"], a["stride"], "VALID")
            elif op == "gavg":
                y = tf.reduce_mean(t, axis=[1, 2], keepdims=True)
            elif op == "add":
                y = zext(t, shapes[ins[0]], shape) + zext(vals[ins[1]], shapes[ins[1]], shape)
            elif op == "fc":
                y = tf.matmul(tf.reshape(t, [batch, -1]), cst[0])  # 1x1 spatial: NHWC flatten = NCHW flatten
            vals.append(y)
        return tf.identity(vals[out], name="embedding")

    cf = net.get_concrete_function()
    data = tf.lite.TFLiteConverter.from_concrete_functions([cf], net).convert()
    write_atomic(path, data)


def write_atomic(path, data):
    tmp = Path(str(path) + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_npy(path, arr):
    import numpy as np
    tmp = Path(str(path) + ".part")
    with open(tmp, "wb") as fh:
        np.save(fh, arr)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------
# Children (run inside a venv)


def make_chips():
    """uint8 RGB chips [K,150,150,3] and their names: 3 uniform random (seeds 1-3), 2 smooth
    (sinusoids / gradients), up to 2 face crops (dlib HOG detector, box +25%, nearest resize)."""
    import numpy as np
    chips, names = [], []
    for seed in (1, 2, 3):
        chips.append(np.random.default_rng(seed).integers(0, 256, (NR, NC, 3), dtype=np.uint8))
        names.append(f"random{seed}")
    yy, xx = np.mgrid[0:NR, 0:NC].astype(np.float64) / (NR - 1)
    smooth1 = np.stack([255 * xx, 255 * yy, 128 + 100 * np.sin(6 * xx + 4 * yy)], -1)
    smooth2 = np.stack([128 + 120 * np.cos(3 * np.hypot(xx - .5, yy - .4) * np.pi),
                        90 + 80 * np.sin(5 * xx) * np.cos(3 * yy), 200 - 150 * xx * yy], -1)
    for i, s in enumerate((smooth1, smooth2), 1):
        chips.append(np.clip(np.rint(s), 0, 255).astype(np.uint8))
        names.append(f"smooth{i}")
    try:
        import dlib
    except ImportError:
        dlib = None
    if dlib is not None:
        det = dlib.get_frontal_face_detector()
        for f in FACE_FILES:
            p = FACES / f
            if not p.is_file():
                continue
            img = dlib.load_rgb_image(str(p))
            dets = det(img, 1)
            if not dets:
                continue
            b = max(dets, key=lambda r: r.width() * r.height())
            cy, cx, half = (b.top() + b.bottom()) / 2, (b.left() + b.right()) / 2, 0.625 * max(b.width(), b.height())
            ys = np.clip(np.floor(cy - half + (np.arange(NR) + 0.5) * 2 * half / NR), 0, img.shape[0] - 1).astype(int)
            xs = np.clip(np.floor(cx - half + (np.arange(NC) + 0.5) * 2 * half / NC), 0, img.shape[1] - 1).astype(int)
            chips.append(np.ascontiguousarray(img[ys][:, xs, :3]))
            names.append(f"face:{f}")
    return np.stack(chips), names


def child_reference(a):
    """dlib venv: the check chips, their transformed input and dlib's descriptors."""
    import numpy as np
    import dlib
    avg = read_dat(a.dat)["avg"]
    chips, names = make_chips()
    model = dlib.face_recognition_model_v1(a.dat)
    batch = np.array(model.compute_face_descriptor([c for c in chips]), np.float32)
    single = np.array([np.array(model.compute_face_descriptor(c)) for c in chips], np.float32)
    save_npy(DIR / "chips_u8.npy", chips)
    save_npy(DIR / "ref_in.npy", transform(chips, avg))
    save_npy(DIR / "ref_out.npy", batch)
    meta = dict(chips=names, avg=list(avg), dlib=dlib.__version__, numpy=np.__version__,
                dlib_batch_vs_single_max_abs=float(np.max(np.abs(batch - single))))
    write_atomic(DIR / "ref.json", (json.dumps(meta, indent=1) + "\n").encode())


def child_build(a):
    """peers venv: read the .dat, write dlib.onnx and the TFLite files asked for."""
    model = read_dat(a.dat)
    nodes, out, shapes = build_ir(model)
    if a.onnx:
        t0 = time.time()
        export_onnx(nodes, out, shapes, DIR / "dlib.onnx")
        log(f"dlib.onnx written in {time.time() - t0:.1f} s")
    for b in a.tflite_batch:
        t0 = time.time()
        with StdoutToStderr():
            export_tflite(nodes, out, shapes, b, DIR / f"dlib_fp32_b{b}.tflite")
        log(f"dlib_fp32_b{b}.tflite written in {time.time() - t0:.1f} s")


class StdoutToStderr:
    """TensorFlow's converter prints on stdout, where only JSON goes."""
    def __enter__(self):
        sys.stdout.flush()
        self.saved = os.dup(1)
        os.dup2(2, 1)

    def __exit__(self, *exc):
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)


def rel_err(out, ref):
    import numpy as np
    out, ref = np.asarray(out, np.float64).reshape(-1), np.asarray(ref, np.float64).reshape(-1)
    return float(np.max(np.abs(out - ref)) / (np.max(np.abs(ref)) + 1e-30))


def cosine(out, ref):
    import numpy as np
    out, ref = np.asarray(out, np.float64).reshape(-1), np.asarray(ref, np.float64).reshape(-1)
    return float(out @ ref / (np.linalg.norm(out) * np.linalg.norm(ref) + 1e-300))


def ort_session(threads):
    import onnxruntime as rt
    so = rt.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = rt.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = rt.GraphOptimizationLevel.ORT_ENABLE_ALL
    return rt.InferenceSession(str(DIR / "dlib.onnx"), so, providers=["CPUExecutionProvider"]), rt.__version__


def tflite_interp(batch, threads):
    import warnings
    warnings.filterwarnings("ignore", module="tensorflow.lite.python.interpreter")
    import tensorflow as tf
    it = tf.lite.Interpreter(model_path=str(DIR / f"dlib_fp32_b{batch}.tflite"), num_threads=threads)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]

    def run(x):
        it.set_tensor(i, x)
        it.invoke()
        return it.get_tensor(o).copy()
    return run, tf.__version__


def child_check(a):
    """peers venv: numpy float64 forward, ORT (batch K and 1) and TFLite (batch 1) against dlib."""
    import numpy as np
    model = read_dat(a.dat)
    nodes, out, shapes = build_ir(model)
    x, ref = np.load(DIR / "ref_in.npy"), np.load(DIR / "ref_out.npy")
    meta = json.loads((DIR / "ref.json").read_text())
    assert np.array_equal(x, transform(np.load(DIR / "chips_u8.npy"), model["avg"])), "ref_in is not the transform"
    sess, _ = ort_session(1)
    tfl, _ = tflite_interp(1, 1)
    res = {"numpy-f64": forward_numpy(nodes, out, x).astype(np.float64),
           "ort batch K": sess.run(None, {"input": x})[0],
           "ort batch 1": np.concatenate([sess.run(None, {"input": x[i:i + 1]})[0] for i in range(len(x))]),
           "tflite batch 1": np.concatenate([tfl(x[i:i + 1]) for i in range(len(x))])}
    rows = {k: [rel_err(v[i], ref[i]) for i in range(len(x))] for k, v in res.items()}
    if a.batch > 1:  # the chips cycled to B images, each image's error against its chip's reference
        _, xb, _ = bench_input(a.batch)
        yb = tflite_interp(a.batch, 1)[0](xb)
        worst = [None] * len(x)  # None: chip not in the batch
        for j in range(a.batch):
            worst[j % len(x)] = max(worst[j % len(x)] or 0.0, rel_err(yb[j], ref[j % len(x)]))
        res[f"tflite batch {a.batch}"], rows[f"tflite batch {a.batch}"] = None, worst
    print(json.dumps(dict(chips=meta["chips"], errors=rows, ref_norms=[float(np.linalg.norm(r)) for r in ref],
                          one_minus_cos={k: max(1 - cosine(v[i], ref[i]) for i in range(len(x)))
                                         for k, v in res.items() if v is not None},
                          dlib_batch_vs_single_max_abs=meta["dlib_batch_vs_single_max_abs"],
                          gflop_per_img=gflop_per_img(nodes, shapes))))


def bench_input(batch):
    import numpy as np
    chips = np.load(DIR / "chips_u8.npy")
    idx = [i % len(chips) for i in range(batch)]
    return chips[idx], np.ascontiguousarray(np.load(DIR / "ref_in.npy")[idx]), np.load(DIR / "ref_out.npy")[0]


def child_time(a):
    """One runtime, in this process, like the peers' runner.py: one JSON line."""
    import numpy as np
    chips, x, ref = bench_input(a.batch)
    gflop = gflop_per_img(*build_ir(read_dat(a.dat))[::2])
    if a.child == "ort":
        sess, v = ort_session(a.threads)
        feed = {"input": x}
        run, version, variant = (lambda: sess.run(None, feed)[0]), f"onnxruntime {v}", "CPU EP, ORT_ENABLE_ALL"
    elif a.child == "tflite":
        f, v = tflite_interp(a.batch, a.threads)
        run, version, variant = (lambda: f(x)), f"tf.lite {v}", "fp32, XNNPACK delegate, static batch"
    else:
        import dlib
        model = dlib.face_recognition_model_v1(a.dat)
        lst = [c for c in chips]
        run = (lambda: np.array(model.compute_face_descriptor(chips[0]))) if a.batch == 1 else \
            (lambda: np.array(model.compute_face_descriptor(lst)))
        version = f"dlib {dlib.__version__}"
        variant = ("compute_face_descriptor on uint8 chips (includes the input transform), "
                   f"threads not settable (AVX {'on' if dlib.USE_AVX_INSTRUCTIONS else 'off'}, "
                   f"BLAS {'on' if dlib.DLIB_USE_BLAS else 'off'})")
    first = np.asarray(run(), np.float32).reshape(a.batch, -1)[0]
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
    med = statistics.median(ts)
    print(json.dumps({
        "runtime": a.child, "version": version, "variant": variant, "net": "dlib",
        "threads": a.threads, "batch": a.batch, "runs": a.runs, "warmup": warmup + 1,
        "median_ms": round(med * 1e3, 4), "min_ms": round(min(ts) * 1e3, 4),
        "p90_ms": round(float(np.percentile(ts, 90)) * 1e3, 4),
        "img_per_s": round(a.batch / med, 2), "gflop_per_s": round(gflop * a.batch / med, 2),
        "rel_err": float(f"{rel_err(first, ref):.3g}"), "cosine": cosine(first, ref),
        "cpu_util": round((time.process_time() - c0) / wall, 2) if wall > 1.0 else None,
    }), flush=True)


# ------------------------------------------------------------------------------------------------
# Orchestration (system python3, standard library only)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read(path):
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def dat_path():
    p = subprocess.run([str(ROOT / "scripts" / "fetch-weights.sh"), "dlib"], text=True, capture_output=True)
    if p.returncode != 0 or not p.stdout.strip():
        die(f"scripts/fetch-weights.sh dlib failed: {(p.stderr.strip().splitlines() or ['?'])[-1]}", 1)
    return p.stdout.strip().splitlines()[-1]


def peers_python():
    """The peers' venv, made by their own peers.py (same lock, same pins)."""
    sys.path.insert(0, str(PEERS))
    import peers
    cache = peers.cache_dir()
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        py, stamp = peers.ensure_venv(cache)
    return py, stamp


def dlib_python():
    py, stamp = DLIB_VENV / "bin" / "python", DLIB_VENV / "facec-dlib.stamp"
    want = " ".join(DLIB_PINS)
    if read(stamp) == want and os.access(py, os.X_OK):
        return str(py)
    if DLIB_VENV.exists():
        shutil.rmtree(DLIB_VENV)
    log(f"installing {want} into {DLIB_VENV} (once)…")
    WORK.mkdir(parents=True, exist_ok=True)
    logf = WORK / "dlib-pip.log"
    with open(logf, "w") as lf:
        ok = subprocess.run([sys.executable, "-m", "venv", str(DLIB_VENV)], stdout=lf, stderr=lf).returncode == 0 and \
            subprocess.run([str(py), "-m", "pip", "install", "--disable-pip-version-check", *DLIB_PINS],
                           stdout=lf, stderr=lf).returncode == 0
    if not ok:
        die(f"installing dlib failed; log: {logf}", 1)
    stamp.write_text(want + "\n")
    return str(py)


def child(py, *args, capture=False):
    cmd = [py, "-B", str(Path(__file__).resolve()), *map(str, args)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    if capture:
        return subprocess.run(cmd, text=True, capture_output=True, env=env)
    p = subprocess.run(cmd, text=True, stdout=subprocess.PIPE, env=env)
    if p.returncode != 0:
        die(f"{' '.join(cmd[2:4])} … failed (exit {p.returncode})", 1)
    return p


def setup(batches=(1,)):
    """Make sure the venvs, the models for these batch sizes and the reference files exist.
    Returns a dict of paths and settings."""
    dat = dat_path()
    ppy, pstamp = peers_python()
    dpy = dlib_python()
    DIR.mkdir(parents=True, exist_ok=True)
    want = hashlib.sha256("\n".join([sha256(__file__), sha256(dat), pstamp, " ".join(DLIB_PINS)]).encode()).hexdigest()[:16]
    with open(DIR.parent / ".dlib.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if read(DIR / "stamp") != want:
            shutil.rmtree(DIR)
            DIR.mkdir()
            (DIR / "stamp").write_text(want + "\n")
        have = lambda f: (DIR / f).is_file()
        if not all(have(f) for f in ("chips_u8.npy", "ref_in.npy", "ref_out.npy", "ref.json")):
            log("dlib's reference descriptors for the check chips…")
            child(dpy, "--child", "reference", "--dat", dat)
        tfl = [b for b in sorted(set(batches) | {1}) if not have(f"dlib_fp32_b{b}.tflite")]
        if tfl or not have("dlib.onnx"):
            log(f"exporting {'dlib.onnx ' if not have('dlib.onnx') else ''}"
                f"{' '.join(f'dlib_fp32_b{b}.tflite' for b in tfl)} from {dat}…")
            child(ppy, "--child", "build", "--dat", dat, *(["--onnx"] if not have("dlib.onnx") else []),
                  *[x for b in tfl for x in ("--tflite-batch", b)])
    return dict(dat=dat, peers_python=ppy, dlib_python=dpy, dir=str(DIR), ref_in=str(DIR / "ref_in.npy"),
                ref_out=str(DIR / "ref_out.npy"), onnx=str(DIR / "dlib.onnx"),
                chips=json.loads((DIR / "ref.json").read_text())["chips"])


def check(batch=1):
    s = setup((batch,))
    p = child(s["peers_python"], "--child", "check", "--dat", s["dat"], "--batch", batch)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    names = r["chips"]
    cols = list(r["errors"])
    print(f"# dlib_face_recognition_resnet_model_v1 replica vs dlib's compute_face_descriptor "
          f"({r['gflop_per_img']:.3f} GFLOP/img); relative error max|out - dlib| / max|dlib| per chip")
    print(f"{'chip':16} {'|dlib|':>7} " + " ".join(f"{c:>14}" for c in cols))
    for i, n in enumerate(names):
        print(f"{n:16} {r['ref_norms'][i]:7.4f} " + " ".join(
            f"{r['errors'][c][i]:14.2e}" if r['errors'][c][i] is not None else f"{'-':>14}" for c in cols))
    worst = {c: max(e for e in v if e is not None) for c, v in r["errors"].items()}
    print(f"{'max':16} {'':7} " + " ".join(f"{worst[c]:14.2e}" for c in cols))
    print(f"{'max 1-cosine':16} {'':7} " + " ".join(f"{r['one_minus_cos'][c]:14.1e}" if c in r['one_minus_cos']
                                                     else f"{'-':>14}" for c in cols))
    print(f"# dlib batch call vs one call per chip: max abs difference {r['dlib_batch_vs_single_max_abs']:.2e}")
    bad = [c for c in cols if c != "numpy-f64" and worst[c] > TOL] + (["numpy-f64"] if worst["numpy-f64"] > TOL else [])
    print(f"# {'FAIL' if bad else 'ok'}: tolerance {TOL:g}" + (f" exceeded by {', '.join(bad)}" if bad else ""))
    return 1 if bad else 0


def time_runtimes(runtimes, threads, batch, runs, verbose=False, setup_info=None):
    """Time each runtime in its own process; returns the JSON dicts (or {'runtime', 'error'})."""
    s = setup_info or setup((batch,))
    out = []
    for rt in runtimes:
        py = s["dlib_python"] if rt == "dlib" else s["peers_python"]
        p = child(py, "--child", rt, "--dat", s["dat"], "--threads", threads, "--batch", batch, "--runs", runs,
                  capture=True)
        if verbose and p.stderr.strip():
            print(p.stderr.rstrip(), file=sys.stderr)
        line = next((l for l in reversed(p.stdout.splitlines()) if l.startswith("{")), None)
        if p.returncode != 0 or line is None:
            errs = [l for l in p.stderr.splitlines() if l.strip()]
            out.append(dict(runtime=rt, net="dlib", threads=threads, batch=batch,
                            error=errs[-1][:300] if errs else f"exit status {p.returncode}"))
            continue
        r = json.loads(line)
        if rt == "tflite" and "XNNPACK delegate" not in p.stderr:
            r["variant"] = r["variant"].replace("XNNPACK delegate", "XNNPACK not confirmed")
        r["time"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        out.append(r)
    return out


def main():
    if "--child" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--child", required=True, choices=["reference", "build", "check"] + RUNTIMES)
        ap.add_argument("--dat", required=True)
        ap.add_argument("--onnx", action="store_true")
        ap.add_argument("--tflite-batch", type=int, action="append", default=[])
        ap.add_argument("--threads", type=int, default=1)
        ap.add_argument("--batch", type=int, default=1)
        ap.add_argument("--runs", type=int, default=10)
        a = ap.parse_args()
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        {"reference": child_reference, "build": child_build, "check": child_check}.get(a.child, child_time)(a)
        return 0
    ap = argparse.ArgumentParser(description="dlib's face-recognition ResNet as ONNX and TFLite peers: "
                                             "build, check against dlib, time.",
                                 epilog="See the module docstring (top of this file).")
    ap.add_argument("command", nargs="?", choices=["setup", "time"])
    ap.add_argument("--check", action="store_true", help="print the replicas' errors against dlib")
    ap.add_argument("--runtimes", default=",".join(RUNTIMES), help=f"comma list from {','.join(RUNTIMES)}")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    if min(a.threads, a.batch, a.runs) < 1 or a.batch > 256:
        die("--threads, --batch and --runs must be at least 1 (--batch at most 256)")
    if a.check:
        return check(a.batch)
    if a.command == "setup":
        print(json.dumps(setup((a.batch,))))
        return 0
    if a.command == "time":
        rts = [r.strip() for r in a.runtimes.split(",") if r.strip()]
        if not rts or any(r not in RUNTIMES for r in rts):
            die(f"--runtimes: choose from {','.join(RUNTIMES)}")
        rows = time_runtimes(rts, a.threads, a.batch, a.runs, a.verbose)
        for r in rows:
            print(json.dumps(r), flush=True)
        return 1 if any("error" in r for r in rows) else 0
    ap.print_usage(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
