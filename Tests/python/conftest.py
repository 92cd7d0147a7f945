"""Shared set-up of the Python tests: the facec CLI, models compiled by it
(DeepID with random weights and dlib's trained ResNet, both with deepface's
OpenCV detector) in a facec home of their own, and the reference files."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "Tests" / "FacecTests" / "Fixtures"
PY_FIXTURES = REPO / "Tests" / "python" / "fixtures"
FACES = Path(os.environ.get("FACEC_FACES_DIR", REPO.parent / "shared" / "faces"))
DLIB_WEIGHTS = Path.home() / ".cache" / "facec-weights" / "dlib_face_recognition_resnet_model_v1.dat"


def facec_binary():
    explicit = os.environ.get("FACEC_BIN")
    if explicit:
        return explicit
    candidates = [REPO / ".build" / c / "facec" for c in ("debug", "release")]
    found = [c for c in candidates if c.exists()]
    if not found:
        raise RuntimeError("no facec binary: run `swift build` first (or set FACEC_BIN)")
    return str(max(found, key=lambda p: p.stat().st_mtime))


def run_cli(*args, check=True):
    r = subprocess.run([facec_binary(), *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"facec {' '.join(map(str, args))}: {r.returncode}: {r.stderr}")
    return r


def pytest_report_header(config):
    import facec
    return [f"facec package {facec.__version__} from {Path(facec.__file__).parent}, library {facec.library_path}",
            f"facec CLI {facec_binary()}"]


@pytest.fixture(scope="session")
def home(tmp_path_factory):
    """A facec home with models/DeepID.fgraph and models/Dlib.fgraph; FACEC_HOME points at it."""
    root = tmp_path_factory.mktemp("facec-home")
    models = root / "models"
    models.mkdir()
    run_cli("convert", REPO / "Weights" / "deepid-random.h5", "--detector", "opencv", "-o", models / "DeepID.fgraph", "--quiet")
    if not DLIB_WEIGHTS.exists():
        raise RuntimeError(f"{DLIB_WEIGHTS} is missing: scripts/setup.sh fetches it (scripts/fetch-weights.sh dlib)")
    run_cli("convert", DLIB_WEIGHTS, "--detector", "opencv", "-o", models / "Dlib.fgraph", "--quiet")
    os.environ["FACEC_HOME"] = str(root)
    return root


@pytest.fixture(scope="session")
def deepid(home):
    return str(home / "models" / "DeepID.fgraph")


@pytest.fixture(scope="session")
def dlib(home):
    return str(home / "models" / "Dlib.fgraph")


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def detection_reference():
    return load_json(FIXTURES / "detection" / "expected.json")


@pytest.fixture(scope="session")
def dlib_reference():
    return load_json(FIXTURES / "dlib" / "expected.json")


@pytest.fixture(scope="session")
def api_reference():
    return load_json(PY_FIXTURES / "deepface_api.json")


@pytest.fixture()
def faces_dir():
    if not FACES.is_dir():
        raise RuntimeError(f"the shared photos are missing: {FACES} (set FACEC_FACES_DIR)")
    return FACES


def copy_photos(names, target):
    target.mkdir(parents=True, exist_ok=True)
    for n in names:
        shutil.copy(FACES / n, target / n)
