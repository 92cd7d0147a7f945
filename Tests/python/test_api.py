"""facec.DeepFace beyond deepface's recorded calls: agreement with the facec
CLI, every input form (paths, strided numpy views, base64, file objects),
options facec does not support, bad arguments, threads."""
import base64
import io
import json
import os
import threading

import numpy as np
import pytest

from conftest import FACES, FIXTURES, run_cli
from facec import DeepFace, Model, NotSupported
import facec.exceptions


def test_represent_equals_the_cli(dlib, deepid):
    for model in (dlib, deepid):
        for photo in ("couple.jpg", "img1.jpg"):
            # The same threads (the network's split across threads moves the last bits).
            cli = [json.loads(line) for line in run_cli("run", model, FACES / photo, "--threads", "1").stdout.splitlines()]
            py = DeepFace.represent(str(FACES / photo), model=model)
            assert len(cli) == len(py)
            for c, p in zip(cli, py):
                assert np.array_equal(np.float32(c["embedding"]), np.float32(p["embedding"]))
                area = {k: (tuple(v) if isinstance(v, list) else v) for k, v in c["facial_area"].items()}
                assert p["facial_area"] == area and p["face_confidence"] == c["face_confidence"]


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "euclidean_l2", "angular"])
def test_verify_equals_the_cli(dlib, metric):
    a, b = FACES / "img20.jpg", FACES / "img8.jpg"
    cli = json.loads(run_cli("verify", dlib, a, b, "--metric", metric, "--threads", "1").stdout)
    py = DeepFace.verify(str(a), str(b), model=dlib, distance_metric=metric)
    assert (py["distance"], py["verified"], py["threshold"], py["confidence"]) == \
        (cli["distance"], cli["verified"], cli["threshold"], cli["confidence"])
    assert py["facial_areas"]["img2"]["x"] == cli["facial_areas"]["img2"]["x"]


def test_find_equals_the_cli_gallery(deepid, tmp_path):
    db = tmp_path / "people"
    for person, photos in (("a", ["img1.jpg", "img2.jpg"]), ("b", ["img13.jpg", "couple.jpg"])):
        (db / person).mkdir(parents=True)
        for p in photos:
            (db / person / p).write_bytes((FACES / p).read_bytes())
    gallery = tmp_path / "g.db"
    run_cli("gallery", "add", deepid, gallery, db, "--threads", "1")
    for metric in ("cosine", "angular"):
        cli = [json.loads(line) for line in
               run_cli("find", deepid, FACES / "img4.jpg", "--gallery", gallery, "--metric", metric, "--threads", "1").stdout.splitlines()]
        py = DeepFace.find(str(FACES / "img4.jpg"), str(db), model=deepid, distance_metric=metric, silent=True,
                           return_type="dict")
        rows = [r for face in py for r in face]
        assert [(str(r["identity"]), float(r["distance"]), r["confidence"]) for r in rows] == \
            [(c["identity"], c["distance"], c["confidence"]) for c in cli]


def test_every_input_form_gives_the_same_faces(dlib):
    path = FACES / "couple.jpg"
    want = DeepFace.represent(str(path), model=dlib)
    bgr = np.ascontiguousarray(DeepFace.extract_faces(str(path), model=dlib, detector_backend="skip", color_face="bgr",
                                                      normalize_face=False)[0]["face"])
    # A view inside a larger buffer (row stride > 3 × width): passed without a copy.
    big = np.zeros((bgr.shape[0] + 4, bgr.shape[1] + 7, 3), dtype=np.uint8)
    big[2:-2, 3:-4] = bgr
    view = big[2:-2, 3:-4]
    assert not view.flags.c_contiguous
    # A view that is not 3 bytes per pixel (every other column) needs the copy facec makes.
    wide = np.repeat(bgr, 2, axis=1)[:, ::2]
    data = path.read_bytes()
    forms = [path, bgr, view, wide, "data:image/jpeg;base64," + base64.b64encode(data).decode(), io.BytesIO(data),
             open(path, "rb")]
    for form in forms:
        got = DeepFace.represent(form, model=dlib)
        assert [g["facial_area"] for g in got] == [w["facial_area"] for w in want]
        assert [g["embedding"] for g in got] == [w["embedding"] for w in want], type(form)
    batch = DeepFace.represent([str(path), bgr], model=dlib)
    assert [len(b) for b in batch] == [2, 2]
    stacked = DeepFace.represent(np.stack([bgr, bgr]), model=dlib)
    assert stacked[1][0]["embedding"] == want[0]["embedding"]


def test_webp_and_png_files_are_read_by_content(deepid):
    for name in ("lossy.webp", "lossless.webp", "alpha_lossy.webp", "orient6.webp", "webp_named.jpg"):
        if True:
            faces = DeepFace.represent(str(FIXTURES / "images" / name), model=deepid, enforce_detection=False)
            assert faces and len(faces[0]["embedding"]) == 160


def test_what_facec_does_not_do_is_refused_naming_what_it_does(deepid):
    img = str(FACES / "img1.jpg")
    cases = [dict(detector_backend="retinaface"), dict(align=False), dict(expand_percentage=10),
             dict(normalization="Facenet"), dict(anti_spoofing=True), dict(return_face=True)]
    for kwargs in cases:
        with pytest.raises(NotSupported) as e:
            DeepFace.represent(img, model=deepid, **kwargs)
        assert "facec" in str(e.value), kwargs
    with pytest.raises(NotSupported, match="VGG-Face, DeepID, Dlib"):
        DeepFace.represent(img, model_name="Facenet")
    with pytest.raises(NotSupported, match="no compiled VGG-Face model"):
        DeepFace.represent(img)  # deepface's default model_name, not compiled here
    for name in ("analyze", "stream", "search"):
        with pytest.raises(NotSupported, match="facec does represent, verify"):
            getattr(DeepFace, name)(img)
    with pytest.raises(NotSupported, match="facial_recognition"):
        DeepFace.build_model("opencv", task="face_detector")
    with pytest.raises(NotSupported, match="datastore"):
        DeepFace.find(img, str(FACES), model=deepid, datastore_format="parquet")


def test_bad_arguments_fail_with_one_clear_error(deepid, tmp_path):
    img = str(FACES / "img1.jpg")
    with pytest.raises(facec.exceptions.DataTypeError, match="uint8"):
        DeepFace.represent(np.zeros((10, 10, 3), dtype=np.float32), model=deepid)
    with pytest.raises(facec.exceptions.DataTypeError, match=r"\(H, W, 3\)"):
        DeepFace.represent(np.zeros((10, 10), dtype=np.uint8), model=deepid)
    with pytest.raises(facec.exceptions.DataTypeError):
        DeepFace.represent(12, model=deepid)
    with pytest.raises(facec.exceptions.DataTypeError, match="StringIO"):
        DeepFace.represent(io.StringIO("x"), model=deepid)
    with pytest.raises(ValueError, match="Exception while loading io object") as e:
        DeepFace.represent(io.BytesIO(b"\xff\xd8\xff\xe0 not really"), model=deepid)
    assert "<memory>" in str(e.value.__cause__)
    with pytest.raises(ValueError, match="Threshold must be specified"):
        DeepFace.verify(img, img, model=deepid, distance_metric=lambda a, b: 0.0)
    with pytest.raises(facec.exceptions.PathNotFound):
        DeepFace.find(img, str(tmp_path / "missing"), model=deepid)
    (tmp_path / "empty").mkdir()
    with pytest.raises(facec.exceptions.EmptyDatasource):
        DeepFace.find(img, str(tmp_path / "empty"), model=deepid)
    with pytest.raises(ValueError, match="Unsupported return_type"):
        DeepFace.find(img, str(FACES), model=deepid, return_type="arrow")
    bad = tmp_path / "bad.fgraph"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.fgraph"):
        Model(bad)
    with pytest.raises(FileNotFoundError):
        Model(tmp_path / "none.fgraph")
    with pytest.raises(ValueError, match="threads"):
        Model(deepid, threads=0)
    m = Model(deepid)
    m.close()
    with pytest.raises(ValueError, match="closed"):
        DeepFace.represent(img, model=m)


def test_a_custom_metric_works_as_in_deepface(deepid):
    img1, img2 = str(FACES / "img1.jpg"), str(FACES / "img2.jpg")
    r = DeepFace.verify(img1, img2, model=deepid, distance_metric=lambda a, b: float(np.abs(a - b).sum()), threshold=1e9)
    assert r["verified"] is True and r["confidence"] == 51 and callable(r["similarity_metric"])


def test_threads_share_a_model_and_get_the_same_results(dlib):
    """Eight threads, one shared Model (a native session each): every result
    equals the single-threaded one (the C API refuses, rather than mixes, a
    session used by two threads; facec.Model gives each thread its own)."""
    photos = [str(FACES / p) for p in ("img1.jpg", "img2.jpg", "couple.jpg", "img8.jpg")]
    model = Model(dlib)
    want = {p: DeepFace.represent(p, model=model) for p in photos}
    errors, done = [], []

    def work(k):
        try:
            for i in range(6):
                p = photos[(k + i) % len(photos)]
                assert DeepFace.represent(p, model=model) == want[p]
            done.append(k)
        except Exception as e:  # reported below, on the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(done) == 8
    assert len(model._sessions) == 9  # the main thread's and one per worker


def test_the_package_is_the_installed_wheel_with_its_library():
    import facec
    assert facec.library_version.startswith("facec ")
    if os.environ.get("FACEC_EXPECT_WHEEL"):
        assert "site-packages" in facec.__file__ and facec.library_path.startswith(os.path.dirname(facec.__file__))
