"""facec.DeepFace against deepface 0.0.103's own outputs, recorded by the
repository's reference generators (deepface with TensorFlow, dlib and OpenCV
themselves): boxes, eyes, confidences, crops, embeddings, distances,
confidences and find results on the shared photos."""
import hashlib
import shutil

import numpy as np
import pytest

from conftest import FACES, FIXTURES
from facec import DeepFace


def cosine(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def area(d):
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}


@pytest.fixture(scope="module")
def dlib_model(dlib):
    return DeepFace.build_model(dlib, threads=2)


@pytest.fixture(scope="module")
def deepid_model(deepid):
    return DeepFace.build_model(deepid, threads=2)


@pytest.fixture(scope="module")
def dlib_faces(dlib_model, dlib_reference):
    """represent() of every photo of the Dlib reference, once."""
    return {p["file"]: DeepFace.represent(str(FACES / p["file"]), model=dlib_model) for p in dlib_reference["photos"]}


def test_dlib_represent_matches_deepface_and_dlib(dlib_faces, dlib_reference):
    worst = 1.0
    for photo in dlib_reference["photos"]:
        got = dlib_faces[photo["file"]]
        assert len(got) == len(photo["faces"]), photo["file"]
        for g, want in zip(got, photo["faces"]):
            assert g["facial_area"] == area(want["facial_area"]), photo["file"]
            assert g["face_confidence"] == want["face_confidence"]
            assert isinstance(g["embedding"], list) and len(g["embedding"]) == 128
            worst = min(worst, cosine(g["embedding"], want["embedding"]))
    assert worst >= 0.9999, worst


def test_deepid_represent_and_crops_match_deepface(deepid_model, detection_reference):
    worst = 1.0
    for photo in detection_reference["photos"]:
        path = str(FACES / photo["file"])
        got = DeepFace.represent(path, model=deepid_model)
        assert [g["facial_area"] for g in got] == [area(f["facial_area"]) for f in photo["faces"]], photo["file"]
        assert [g["face_confidence"] for g in got] == [f["face_confidence"] for f in photo["faces"]]
        for g, want in zip(got, photo["faces"]):
            worst = min(worst, cosine(g["embedding"], want["embedding"]))
        # The aligned crops, byte for byte (deepface's uint8 BGR).
        crops = DeepFace.extract_faces(path, model=deepid_model, color_face="bgr", normalize_face=False)
        for c, want in zip(crops, photo["faces"]):
            assert list(c["face"].shape) == want["crop_shape"]
            assert hashlib.sha256(np.ascontiguousarray(c["face"]).tobytes()).hexdigest() == want["crop_sha256"], photo["file"]
    assert worst >= 0.9999, worst


def _reference_embeddings(reference):
    return {p["file"]: [f["embedding"] for f in p["faces"]] for p in reference["photos"]}


def _closest(faces_x, faces_y, metric):
    from facec.model import distance
    best = (float("inf"), None, None)
    for i, a in enumerate(faces_x):
        for j, b in enumerate(faces_y):
            d = distance(a, b, metric)
            if d < best[0]:
                best = (d, i, j)
    return best


@pytest.mark.parametrize("model_name", ["Dlib", "DeepID"])
def test_pairs_from_deepfaces_embeddings_give_deepfaces_numbers(model_name, api_reference, dlib_model, deepid_model,
                                                                 dlib_reference, detection_reference):
    """The 300 pairs of master.csv under the four metrics, from deepface's own
    embeddings: facec's distance (C API), closest face pair, threshold, verdict
    and confidence are deepface's to the last digit and type. (DeepID's
    reference embeddings are decimals of 9 digits, read by deepface as float64
    and by facec's C API as the float32 they came from: a distance may differ
    by one in the 6th decimal there.)"""
    model = dlib_model if model_name == "Dlib" else deepid_model
    theirs = _reference_embeddings(dlib_reference if model_name == "Dlib" else detection_reference)
    checked = 0
    for pair in api_reference["pairs"]["rows"]:
        for metric, want in pair[model_name].items():
            d, i, j = _closest(theirs[pair["file_x"]], theirs[pair["file_y"]], metric)
            assert [i, j] == want["faces"], (pair["file_x"], pair["file_y"], metric)
            if model_name == "Dlib":
                assert d == want["distance"], (pair["file_x"], pair["file_y"], metric)
            else:
                assert abs(d - want["distance"]) <= 1.5e-6, (pair["file_x"], pair["file_y"], metric)
            threshold = model.threshold(metric)
            assert threshold == want["threshold"] and (want["distance"] <= threshold) == want["verified"]
            got = model.confidence(want["distance"], metric, want["verified"])
            assert got == want["confidence"] and type(got) is type(want["confidence"]), (pair, metric, got)
            checked += 1
    assert checked == 300 * 4


def test_pairs_from_facecs_embeddings_give_deepfaces_verdicts(api_reference, dlib_model, dlib_faces):
    """The same pairs from facec's own Dlib embeddings (real weights): the same
    faces chosen and the same verdicts, distances within the embeddings' error."""
    ours = {f: [g["embedding"] for g in faces] for f, faces in dlib_faces.items()}
    worst = 0.0
    for pair in api_reference["pairs"]["rows"]:
        for metric, want in pair["Dlib"].items():
            d, i, j = _closest(ours[pair["file_x"]], ours[pair["file_y"]], metric)
            assert [i, j] == want["faces"]
            worst = max(worst, abs(d - want["distance"]))
            assert (d <= want["threshold"]) == want["verified"] or abs(want["distance"] - want["threshold"]) < 1e-4
    assert worst < 1e-4, worst


def test_confidence_grid_is_deepfaces(api_reference, dlib_model, deepid_model, home):
    """deepface's find_confidence over a grid of distances, value and type."""
    models = {"Dlib": dlib_model, "DeepID": deepid_model}
    n = 0
    for grid in api_reference["confidence"]["grid"]:
        m = models.get(grid["model"])
        if m is None:
            continue
        for verified, values in ((True, grid["verified_true"]), (False, grid["verified_false"])):
            for d, want in zip(grid["distances"], values):
                got = m.confidence(d, grid["metric"], verified)
                assert got == want and type(got) is type(want), (grid["model"], grid["metric"], d, verified, got, want)
                n += 1
    assert n >= 2 * 4 * 2 * 30


def test_thresholds_are_deepfaces(api_reference, dlib_model, deepid_model):
    for name, m in (("Dlib", dlib_model), ("DeepID", deepid_model)):
        for metric, want in api_reference["thresholds"]["values"][name].items():
            assert m.threshold(metric) == want


def test_find_matches_deepface(deepid_model, tmp_path):
    """deepface's own find (find/expected.json) over the shared photos and two photos without a face."""
    import json
    reference = json.load(open(FIXTURES / "find" / "expected.json", encoding="utf-8"))
    db = tmp_path / "db"
    shutil.copytree(FACES, db)
    for name, src in reference["gallery_folder"]["no_face"].items():
        shutil.copy(FIXTURES.parent.parent.parent / src, db / name)
    for q in reference["queries"]:
        kwargs = {"distance_metric": q["metric"], "silent": True, "return_type": "pandas"}
        if q["threshold"] is not None:
            kwargs["threshold"] = q["threshold"]
        if q["k"] is not None:
            kwargs["k"] = q["k"]
        if q["similarity_search"]:
            kwargs["similarity_search"] = True
        frames = DeepFace.find(str(FACES / q["query"]), str(db), model=deepid_model, **kwargs)
        assert len(frames) == len(q["faces"])
        for frame, face in zip(frames, q["faces"]):
            assert not face["ties"]
            got = [(r.identity.rsplit("/", 1)[1], (r.target_x, r.target_y, r.target_w, r.target_h)) for r in frame.itertuples()]
            want = [(m["identity"], tuple(m["target"][k] for k in "xywh")) for m in face["matches"]]
            assert got == want, (q["query"], q["metric"])
            # facec's DeepID embeddings are TensorFlow's to float32 rounding (the
            # 1e-5 budget): a euclidean distance of 2.28 may move by 4e-6.
            for d, m in zip(frame.distance, face["matches"]):
                assert abs(d - m["distance"]) <= 1e-5 * max(1.0, m["distance"]), (q["query"], q["metric"], d, m)
            if len(frame):
                assert (frame.source_x[0], frame.source_y[0], frame.source_w[0], frame.source_h[0]) == tuple(face["source"][k] for k in "xywh")
                assert frame.threshold[0] == face["threshold"]
    # The photos deepface skips (not JPEG/PNG by content) are skipped here too, and a second
    # call reuses the datastore.
    frames = DeepFace.find(str(FACES / "img1.jpg"), str(db), model=deepid_model, silent=True)
    assert not any(frame.identity.str.endswith(tuple(reference["skipped"])).any() for frame in frames)
