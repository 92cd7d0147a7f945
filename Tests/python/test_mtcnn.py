"""facec.DeepFace with detector_backend="mtcnn" (a model converted with
`--detector mtcnn`) against deepface 0.0.103 + mtcnn 1.0.0 themselves
(Tests/FacecTests/Fixtures/mtcnn/expected.json): the faces of the shared
photos through the Python drop-in, and a backend the model lacks refused."""
import hashlib
from pathlib import Path

import numpy as np
import pytest

from conftest import FACES, FIXTURES, load_json, run_cli, REPO
from facec import DeepFace
from facec.exceptions import NotSupported

MTCNN_WEIGHTS = Path.home() / ".cache" / "facec-weights" / "mtcnn-1.0.0"
# A few of the shared photos; the selfie's five faces and img7 have tied
# P-Net scores, where numpy's sort order decides the boxes (NumpyArgsort).
PHOTOS = ["couple.jpg", "img1.jpg", "img2.jpg", "img7.jpg", "img11.jpg", "selfie-many-people.jpg"]


@pytest.fixture(scope="module")
def mtcnn_model(tmp_path_factory):
    if not (MTCNN_WEIGHTS / "onet.lz4").exists():
        raise RuntimeError(f"{MTCNN_WEIGHTS} is missing: scripts/setup.sh fetches it (scripts/fetch-weights.sh mtcnn)")
    path = tmp_path_factory.mktemp("mtcnn") / "DeepID-mtcnn.fgraph"
    run_cli("convert", REPO / "Weights" / "deepid-random.h5", "--detector", "mtcnn", "-o", path, "--quiet")
    return DeepFace.build_model(str(path), threads=2)


def test_extract_faces_with_mtcnn_matches_deepface(mtcnn_model):
    reference = {p["file"]: p for p in load_json(FIXTURES / "mtcnn" / "expected.json")["photos"]}
    assert mtcnn_model.detector == "mtcnn"
    identical = 0
    for name in PHOTOS:
        want = reference[name]["faces"]
        got = DeepFace.extract_faces(str(FACES / name), detector_backend="mtcnn", model=mtcnn_model,
                                     color_face="bgr", normalize_face=False)
        assert len(got) == len(want), name
        for g, w in zip(got, want):
            box = {k: g["facial_area"][k] for k in ("x", "y", "w", "h")}
            assert box == {k: w["facial_area"][k] for k in ("x", "y", "w", "h")}, name
            assert g["confidence"] == w["face_confidence"], name
            digest = hashlib.sha256(np.ascontiguousarray(g["face"]).tobytes()).hexdigest()
            identical += digest == w["crop_sha256"]
    # TF's softmax starts from the CPU's reciprocal estimate, a vendor's table:
    # on another vendor's CPU a saturated score may move by an ulp.
    vendor = next((l.split(":")[1].strip() for l in open("/proc/cpuinfo") if l.startswith("vendor_id")), "unknown")
    slack = 0 if vendor == (FIXTURES / "tfsoftmax" / "cpu.txt").read_text().strip() else 1
    assert identical >= len([f for n in PHOTOS for f in reference[n]["faces"]]) - slack


def test_a_backend_the_model_lacks_is_refused(mtcnn_model, deepid):
    path = str(FACES / "img1.jpg")
    with pytest.raises(NotSupported, match="carries the 'mtcnn' detector"):
        DeepFace.extract_faces(path, detector_backend="opencv", model=mtcnn_model)
    opencv = DeepFace.build_model(deepid)
    with pytest.raises(NotSupported, match="carries the 'opencv' detector"):
        DeepFace.represent(path, detector_backend="mtcnn", model=opencv)
