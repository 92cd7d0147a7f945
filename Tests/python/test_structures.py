"""deepface's return structures walked side by side with facec's: the calls
recorded by scripts/fixtures/generate_python_api.py (deepface 0.0.103 itself)
are made again on facec.DeepFace, and every key (in order), type, shape and
value must agree; embeddings to cosine 0.9999, distances and confidences to
the embeddings' error, crops byte for byte."""
import base64
import hashlib
import shutil

import numpy as np
import pytest

from conftest import FACES, REPO
from facec import DeepFace
import facec.exceptions

GIF_1x1 = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")


class Context:
    def __init__(self, db=None):
        self.db = db

    def path(self, s):
        return (s.replace("<faces>", str(FACES)).replace("<repo>", str(REPO))
                .replace("<db>", str(self.db) if self.db else "<db>"))

    def arg(self, value):
        if isinstance(value, str):
            return self.path(value)
        if isinstance(value, list):
            return [self.arg(v) for v in value]
        if isinstance(value, dict) and "$ndarray" in value:
            # cv2.imread without OpenCV: facec's decoder (tested equal to
            # cv2.imread), through extract_faces' whole-image crop in BGR.
            crop = DeepFace.extract_faces(self.path(value["path"]), detector_backend="skip", color_face="bgr",
                                          normalize_face=False)[0]["face"]
            return np.ascontiguousarray(crop)
        if isinstance(value, dict) and "$base64_of" in value:
            data = GIF_1x1 if value["$base64_of"] == "a 1x1 GIF" else open(self.path(value["$base64_of"]), "rb").read()
            return value["prefix"] + base64.b64encode(data).decode()
        if isinstance(value, dict) and "$embedding_of" in value:
            spec = dict(value["$embedding_of"])
            spec.pop("function")
            face = spec.pop("face")
            e = DeepFace.represent(**{k: self.arg(v) for k, v in spec.items()})[face]["embedding"]
            if "slice" in value:
                e = e[value["slice"][0]:value["slice"][1]]
            return e
        return value

    def call(self, call):
        fn = getattr(DeepFace, call["function"])
        return fn(**{k: self.arg(v) for k, v in call["args"].items()})


def type_name(v):
    return type(v).__name__


def cosine(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


# Values derived from the network's output, equal to the embeddings' error.
TOLERANT = {"distance": 2e-5, "confidence": 0.02}


def compare(node, value, where, ctx, key=None):
    if "varies" in node:
        assert type_name(value) == node["type"], where
        if "length" in node:
            assert len(value) == node["length"], where
        return
    t = node["type"]
    assert type_name(value) == t, f"{where}: {type_name(value)} is not deepface's {t}"
    if t == "dict":
        keys = list(value.keys())
        unordered = set(node.get("unordered_keys", []))
        assert [k for k in keys if k not in unordered] == [k for k in node["keys"] if k not in unordered], where
        assert set(keys) == set(node["keys"]), where
        for k, child in zip(node["keys"], node["items"]):
            compare(child, value[k], f"{where}.{k}", ctx, k)
    elif t in ("list", "tuple") and "item_type" in node:
        assert all(type_name(x) == node["item_type"] for x in value), where
        assert len(value) == len(node["values"]), where
        assert cosine(value, node["values"]) >= 0.9999, where
    elif t in ("list", "tuple"):
        assert len(value) == len(node["items"]), where
        for i, (child, v) in enumerate(zip(node["items"], value)):
            compare(child, v, f"{where}[{i}]", ctx, key)
    elif t == "ndarray":
        assert str(value.dtype) == node["dtype"] and list(value.shape) == node["shape"], where
        a = np.ascontiguousarray(value)
        if node["digest"].startswith("sha256 of np.round"):
            a = np.round(a * 255).astype(np.uint8)
        assert hashlib.sha256(a.tobytes()).hexdigest() == node["sha256"], where
    elif t == "DataFrame":
        assert list(value.columns) == node["columns"], where
        assert [str(d) for d in value.dtypes] == node["dtypes"], where
        assert len(value) == node["index"]["length"] and type_name(value.index) == node["index"]["type"], where
        for i, row in enumerate(node["rows"]):
            for column, child in row.items():
                compare(child, value[column].iloc[i], f"{where}[{i}].{column}", ctx, column)
    elif t == "NoneType":
        pass
    else:
        want = node["value"]
        if isinstance(want, str) and want in ("inf", "-inf", "nan") and t in ("float", "float64"):
            want = float(want)
        if isinstance(want, str):
            want = ctx.path(want)
        if key in TOLERANT and isinstance(want, float) and np.isfinite(want):
            assert abs(value - want) <= TOLERANT[key], f"{where}: {value} against deepface's {want}"
        else:
            assert value == want, f"{where}: {value!r} against deepface's {want!r}"


def recorded(api_reference, kind):
    return [pytest.param(c, id=f"{kind}{i}") for i, c in enumerate(api_reference["structures"][kind])]


@pytest.fixture(scope="module")
def reference(api_reference):
    return api_reference["structures"]


def test_represent_verify_extract_faces(reference, home):
    n = 0
    for kind in ("represent", "verify", "extract_faces"):
        for i, case in enumerate(reference[kind]):
            result = Context().call(case["call"])
            compare(case["result"], result, f"{kind}[{i}] {case['call']['args']}", Context())
            n += 1
    assert n == 25


def test_errors_are_deepfaces(reference, home):
    for case in reference["errors"]:
        with pytest.raises(Exception) as info:
            Context().call(case["call"])
        e = info.value
        mro = [c.__name__ for c in type(e).__mro__]
        assert case["raises"] in mro, f"{case['call']}: {mro}"
        if isinstance(e, facec.exceptions.NotSupported):
            # What facec does not do: deepface's class, facec's message naming what it supports.
            assert "facec" in str(e)
            continue
        assert type(e).__name__ == case["raises"] and str(e) == Context().path(case["message"]), case["call"]
        if "cause" in case:
            c = e.__cause__
            assert type(c).__name__ == case["cause"]["raises"] and str(c) == Context().path(case["cause"]["message"])


def test_find_structures(reference, home, tmp_path):
    db = tmp_path / "db"
    for rel, src in reference["find"]["db"]["layout"].items():
        (db / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Context().path(src), db / rel)
    ctx = Context(db)
    for i, case in enumerate(reference["find"]["calls"]):
        result = ctx.call(case["call"])
        compare(case["result"], result, f"find[{i}] {case['call']['args']}", ctx)


def test_build_model_is_cached_and_describes_the_model(home):
    m = DeepFace.build_model("Dlib")
    assert DeepFace.build_model("Dlib") is m
    assert m.output_shape == 128 and m.name == "Dlib"
