"""deepface 0.0.103's functions on facec: `from facec import DeepFace`.

The names, parameters, return structures (keys, order and types) and errors
are deepface's; the work runs in libfacec through the C API. Models are
compiled .fgraph files, given as `model=` (a path or a facec.Model) or found
by deepface's `model_name` in facec's model folder ($FACEC_HOME/models, by
default ~/.facec/models: `VGG-Face.fgraph`, `DeepID.fgraph`, `Dlib.fgraph`).
What facec does not do (other models or detectors, alignment off, expanded
boxes, anti-spoofing, analyze) raises NotSupported (a ValueError) naming what
is supported.
"""
import heapq
import logging
import time

import numpy as np

from . import _native
from . import models as _models
from .exceptions import (DataTypeError, DimensionMismatchError, FaceNotDetected, NotSupported,
                         UnimplementedError)
from .images import load as _load_image
from .model import Model, distance as _distance

logger = logging.getLogger("facec")

DETECTORS = ("opencv", "mtcnn", "skip")
MINMAX = {  # deepface/config/minmax.py, for the models facec runs
    "VGG-Face": (0.0, 0.27054874177488775),
    "DeepID": (0.0, 127.86836242675781),
    "Dlib": (-0.41398656368255615, 0.5201137661933899),
}


def build_model(model_name="VGG-Face", task="facial_recognition", threads=None):
    """The compiled model for deepface's `model_name` (or a .fgraph path),
    opened once and cached: pass it as `model=` to the other functions."""
    if task != "facial_recognition":
        raise NotSupported(f"task={task!r}: facec builds face recognition models only (task='facial_recognition'); "
                           "its face detector is compiled into the model file")
    return _models.resolve(None, model_name, threads=threads)


def _check_options(detector_backend, align, expand_percentage, normalization, anti_spoofing):
    if detector_backend not in DETECTORS:
        raise NotSupported(f"detector_backend={detector_backend!r}: facec runs 'opencv' (deepface's default) and 'mtcnn', "
                           "each compiled into the model with facec convert --detector opencv|mtcnn, and 'skip'")
    if align is not True:
        raise NotSupported("align=False: facec aligns faces as deepface's default does (align=True)")
    if expand_percentage > 0:
        raise NotSupported(f"expand_percentage={expand_percentage}: facec uses deepface's default boxes (expand_percentage=0)")
    if normalization != "base":
        raise NotSupported(f"normalization={normalization!r}: the input normalisation is compiled into the model "
                           "(facec convert --normalization); call with normalization='base'")
    if anti_spoofing:
        raise NotSupported("anti_spoofing=True: facec has no anti-spoofing model")


def _flags(detector_backend, enforce_detection, model):
    if detector_backend == "skip":
        return _native.SKIP_DETECTION
    if model.detector and model.detector != detector_backend:
        raise NotSupported(f"{model.path}: the model carries the {model.detector!r} detector, not {detector_backend!r}: "
                           f"convert it with `facec convert ... --detector {detector_backend}`, or call with "
                           f"detector_backend={model.detector!r}")
    return _native.DETECT | (0 if enforce_detection else _native.NO_ENFORCE_DETECTION)


def _faces(model, image, flags, embed, crops=False):
    """The C API's faces of one image, with its failures raised as deepface raises them."""
    try:
        return model.faces(image, flags, embed, crops)
    except _native.NativeError as e:
        if e.status == _native.ERROR_NO_FACE:
            raise FaceNotDetected(f"Face could not be detected in {image.name}."
                                  "Please confirm that the picture is a face photo "
                                  "or consider to set enforce_detection param to False.") from None
        if e.status == _native.ERROR_NO_DETECTOR:
            raise NotSupported(f"{model.path}: the model carries no face detector: convert it with "
                               "`facec convert ... --detector opencv` (or mtcnn), or call with detector_backend='skip'") from None
        if e.status in (_native.ERROR_IMAGE, _native.ERROR_IO):
            # deepface's message; facec's reason (the file and what is wrong) is the cause.
            raise ValueError(f"Exception while loading {image.name}") from e
        if e.status == _native.ERROR_INTERNAL:
            raise RuntimeError(e.message) from None
        raise ValueError(e.message) from None


def _area(record):
    return {"x": record.x, "y": record.y, "w": record.w, "h": record.h,
            "left_eye": record.left_eye, "right_eye": record.right_eye}


def _images(img_path):
    """deepface's batch rule: a list or a 4-D array is a batch."""
    if isinstance(img_path, list):
        return img_path, True
    if isinstance(img_path, np.ndarray) and img_path.ndim == 4:
        return [img_path[i] for i in range(img_path.shape[0])], True
    return [img_path], False


def represent(img_path, model_name="VGG-Face", enforce_detection=True, detector_backend="opencv", align=True,
              expand_percentage=0, normalization="base", anti_spoofing=False, max_faces=None, l2_normalize=False,
              minmax_normalize=False, return_face=False, model=None):
    """deepface.DeepFace.represent: each face's embedding, facial_area and face_confidence."""
    _check_options(detector_backend, align, expand_percentage, normalization, anti_spoofing)
    if return_face:
        raise NotSupported("return_face=True: facec does not hand out the network's input tensor; "
                           "extract_faces gives the aligned faces")
    m = _models.resolve(model, model_name)
    name = m.name if model is not None else model_name
    images, batch = _images(img_path)
    flags = _flags(detector_backend, enforce_detection, m)
    results = []
    for image in images:
        native = _load_image(image)
        records = _faces(m, native, flags, embed=True)
        if detector_backend == "skip":
            # deepface reports the whole image with w and h swapped (w = rows).
            r = records[0]
            objs = [({"x": 0, "y": 0, "w": r.h, "h": r.w}, 0, r.embedding)]
        else:
            objs = [(_area(r), float(r.confidence), r.embedding) for r in records]
        if max_faces is not None and max_faces < len(objs):
            # deepface keeps the largest (heapq.nlargest: largest first, ties in order).
            objs = heapq.nlargest(max_faces, objs, key=lambda o: o[0]["w"] * o[0]["h"])
        results.append(objs)
    embeddings = [e.tolist() for objs in results for (_, _, e) in objs]
    if minmax_normalize:
        embeddings = [_minmax(name, e) for e in embeddings]
    if l2_normalize:
        embeddings = [_l2(e) for e in embeddings]
    out, k = [], 0
    for objs in results:
        faces = []
        for area, confidence, _ in objs:
            faces.append({"embedding": embeddings[k], "facial_area": area, "face_confidence": confidence})
            k += 1
        out.append(faces)
    return out if batch and len(images) != 1 else out[0]


def _minmax(model_name, e):
    dim_min, dim_max = MINMAX.get(model_name, (0, 0))
    if dim_max - dim_min == 0:
        return e
    e = [max(x, dim_min) for x in e]
    e = [min(x, dim_max) for x in e]
    return [(x - dim_min) / (dim_max - dim_min) for x in e]


def _l2(e):
    norm = float(np.linalg.norm(e))
    return (np.array(e) / norm).tolist() if norm > 0 else e


def _threshold_value(t):
    # deepface's tables write whole thresholds as ints (DeepID euclidean: 45).
    return int(t) if float(t).is_integer() else t


def _metric_name(distance_metric):
    if callable(distance_metric):
        return None
    if distance_metric not in _native.METRICS:
        raise ValueError("Invalid distance_metric passed - ", distance_metric)
    return distance_metric


def verify(img1_path, img2_path, model_name="VGG-Face", detector_backend="opencv", distance_metric="cosine",
           enforce_detection=True, align=True, expand_percentage=0, normalization="base", silent=False,
           threshold=None, anti_spoofing=False, model=None):
    """deepface.DeepFace.verify: the closest pair of faces of two images decides."""
    if not isinstance(distance_metric, str) and threshold is None:
        raise ValueError("Threshold must be specified when using custom distance metrics")
    tic = time.time()
    _check_options(detector_backend, align, expand_percentage, normalization, anti_spoofing)
    m = _models.resolve(model, model_name)
    name = m.name if model is not None else model_name
    metric = _metric_name(distance_metric)
    dims = m.dim
    no_facial_area = {"x": None, "y": None, "w": None, "h": None, "left_eye": None, "right_eye": None}
    flags = _flags(detector_backend, enforce_detection, m)

    def embeddings_and_areas(img, index):
        if isinstance(img, list):
            if not all(isinstance(d, (float, int)) for d in img):
                raise DataTypeError(f"When passing img{index}_path as a list, ensure that all its items are of type float.")
            if silent is False:
                logger.warning(f"You passed {index}-th image as pre-calculated embeddings."
                               "Please ensure that embeddings have been calculated"
                               f" for the {name} model.")
            if len(img) != dims:
                raise DimensionMismatchError(f"embeddings of {name} should have {dims} dimensions,"
                                             f" but {index}-th image has {len(img)} dimensions input")
            return [np.asarray(img, dtype=np.float32)], [no_facial_area]
        try:
            records = _faces(m, _load_image(img), flags, embed=True)
        except ValueError as err:
            raise ValueError(f"Exception while processing img{index}_path") from err
        if detector_backend == "skip":
            r = records[0]
            # extract_faces("skip") clips the whole-image box as any other.
            r.w, r.h = r.w - 1, r.h - 1
        return [r.embedding for r in records], [_area(r) for r in records]

    e1, a1 = embeddings_and_areas(img1_path, 1)
    e2, a2 = embeddings_and_areas(img2_path, 2)
    min_distance, min_idx, min_idy = float("inf"), None, None
    for idx, x in enumerate(e1):
        for idy, y in enumerate(e2):
            if metric is None:
                d = float(distance_metric(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)))
            else:
                d = _distance(x, y, metric)
            if d < min_distance:
                min_distance, min_idx, min_idy = d, idx, idy
    if threshold is None:
        threshold = _threshold_value(m.threshold(metric))
    distance = float(min_distance)
    verified = distance <= threshold
    confidence = (51 if verified else 49) if metric is None else m.confidence(distance, metric, verified)
    areas = (no_facial_area if min_idx is None else a1[min_idx], no_facial_area if min_idy is None else a2[min_idy])
    toc = time.time()
    return {
        "verified": verified,
        "distance": distance,
        "threshold": threshold,
        "confidence": confidence,
        "model": name,
        "detector_backend": detector_backend,
        "similarity_metric": distance_metric,
        "facial_areas": {"img1": areas[0], "img2": areas[1]},
        "time": round(toc - tic, 2),
    }


def _gray(bgr):
    """cv2.cvtColor(BGR2GRAY) for 8-bit images: OpenCV 4's 15-bit fixed-point
    weights (0.114, 0.587, 0.299), rounded."""
    b, g, r = (bgr[:, :, i].astype(np.uint32) for i in range(3))
    return ((b * 3735 + g * 19235 + r * 9798 + 16384) >> 15).astype(np.uint8)


def extract_faces(img_path, detector_backend="opencv", enforce_detection=True, align=True, expand_percentage=0,
                  grayscale=False, color_face="rgb", normalize_face=True, anti_spoofing=False, max_faces=None,
                  model=None, model_name=None):
    """deepface.DeepFace.extract_faces: each face's aligned crop, facial_area and confidence.

    facec's detector lives in a model file: `model=` (a path or Model), or
    `model_name`, or else the first model with a detector in facec's folder."""
    if isinstance(img_path, list) or (isinstance(img_path, np.ndarray) and img_path.ndim == 4):
        images = img_path if isinstance(img_path, list) else [img_path[i] for i in range(img_path.shape[0])]
        return [extract_faces(i, detector_backend, enforce_detection, align, expand_percentage, grayscale, color_face,
                              normalize_face, anti_spoofing, max_faces, model, model_name) for i in images]
    _check_options(detector_backend, align, expand_percentage, "base", anti_spoofing)
    if not grayscale and color_face not in ("rgb", "bgr", "gray"):
        raise UnimplementedError(f"The color_face can be rgb, bgr or gray, but it is {color_face}.")
    m = _models.resolve_in_folder(model, model_name, need_detector=detector_backend != "skip")
    native = _load_image(img_path)
    records = _faces(m, native, _flags(detector_backend, enforce_detection, m), embed=False, crops=True)
    if detector_backend == "skip":
        records[0].w, records[0].h = records[0].w - 1, records[0].h - 1
    if max_faces is not None and max_faces < len(records):
        records = heapq.nlargest(max_faces, records, key=lambda r: r.w * r.h)
    out = []
    for r in records:
        face = r.crop  # RGB
        if grayscale is True:
            logger.warning("Parameter grayscale is deprecated. Use color_face instead.")
            face = _gray(face[:, :, ::-1])
        elif color_face == "bgr":
            face = face[:, :, ::-1]
        elif color_face == "gray":
            face = _gray(face[:, :, ::-1])
        if normalize_face and face.max() > 1:
            face = face / 255
        out.append({"face": face, "facial_area": _area(r), "confidence": round(float(r.confidence), 2)})
    return out


def find(img_path, db_path, model_name="VGG-Face", distance_metric="cosine", enforce_detection=True,
         detector_backend="opencv", align=True, similarity_search=False, k=None, expand_percentage=0,
         threshold=None, normalization="base", silent=False, refresh_database=True, anti_spoofing=False,
         datastore_format="npz", return_type=None, model=None):
    """deepface.DeepFace.find: the faces of a folder of photos that match each face of an image."""
    from .find import find as _find
    return _find(img_path, db_path, model_name=model_name, distance_metric=distance_metric,
                 enforce_detection=enforce_detection, detector_backend=detector_backend, align=align,
                 similarity_search=similarity_search, k=k, expand_percentage=expand_percentage, threshold=threshold,
                 normalization=normalization, silent=silent, refresh_database=refresh_database,
                 anti_spoofing=anti_spoofing, datastore_format=datastore_format, return_type=return_type, model=model)


def _unsupported(name, what):
    def function(*args, **kwargs):
        raise NotSupported(f"DeepFace.{name}: {what}; facec does represent, verify, extract_faces, find and build_model")
    function.__name__ = name
    return function


analyze = _unsupported("analyze", "facec has no age, gender, emotion or race models")
stream = _unsupported("stream", "facec reads photos, not video streams")
search = _unsupported("search", "use find")
register = _unsupported("register", "use find with a folder, or facec gallery for a database")
build_index = _unsupported("build_index", "use find with a folder, or facec gallery for a database")
detectFace = _unsupported("detectFace", "use extract_faces")
cli = _unsupported("cli", "use the facec command")

__all__ = ["build_model", "represent", "verify", "extract_faces", "find", "Model"]
