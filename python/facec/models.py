"""Where compiled models are found: `model=` (a facec.Model or a .fgraph path)
or deepface's `model_name`, looked up in facec's model folder
($FACEC_HOME/models, default ~/.facec/models). Opened models are cached per
path, as deepface caches its built models."""
import os
import threading

from .exceptions import NotSupported
from .model import Model

MODEL_NAMES = ("VGG-Face", "DeepID", "Dlib")

_cache = {}
_lock = threading.Lock()


def home():
    return os.environ.get("FACEC_HOME") or os.path.join(os.path.expanduser("~"), ".facec")


def folder():
    return os.path.join(home(), "models")


def _open(path, threads=None):
    key = (os.path.abspath(path), threads)
    with _lock:
        m = _cache.get(key)
        if m is None:
            m = Model(path, threads=threads)
            _cache[key] = m
        return m


def _looks_like_path(name):
    return isinstance(name, os.PathLike) or (isinstance(name, str) and (name.endswith(".fgraph") or os.sep in name))


def resolve(model, model_name, threads=None):
    """The Model for a call's `model=` / `model_name`."""
    if isinstance(model, Model):
        return model
    if model is not None:
        return _open(os.fspath(model), threads)
    if _looks_like_path(model_name):
        return _open(os.fspath(model_name), threads)
    if model_name not in MODEL_NAMES:
        raise NotSupported(f"model_name={model_name!r}: facec runs {', '.join(MODEL_NAMES)} "
                           "(or give model= a compiled .fgraph file)")
    path = os.path.join(folder(), model_name + ".fgraph")
    if not os.path.exists(path):
        raise NotSupported(f"no compiled {model_name} model at {path}: convert the weights once with "
                           f"`facec convert WEIGHTS --detector opencv -o {path}`, set FACEC_HOME, or pass model=")
    return _open(path, threads)


def resolve_in_folder(model, model_name, need_detector):
    """The model extract_faces uses: the one given, else the first in facec's
    folder (Dlib, DeepID, VGG-Face) that carries a detector, or any model when
    none is needed (detector_backend='skip' runs neither network nor detector)."""
    if model is not None or model_name is not None:
        return resolve(model, model_name)
    for name in MODEL_NAMES[::-1]:
        path = os.path.join(folder(), name + ".fgraph")
        if os.path.exists(path):
            m = _open(path)
            if m.has_detector or not need_detector:
                return m
    if need_detector:
        raise NotSupported(f"extract_faces needs a facec model with a face detector: none in {folder()}; "
                           "pass model= (a .fgraph converted with --detector opencv)")
    raise NotSupported(f"no facec model in {folder()}; pass model=")
