"""deepface 0.0.103's `find` (modules/recognition.py) on facec: the photos of
a folder are embedded once into a datastore file in that folder (kept up to
date: new, removed and changed files), then every face of the query image is
compared with every stored face.

The datastore is facec's own `.npz` (facec_ds_<model>_....npz, beside
deepface's `ds_model_...npz`, never sharing it): it records the model file it
was built with and is rebuilt when that changes.
"""
import hashlib
import importlib.util
import logging
import os
import time

import numpy as np

from . import _native
from . import models as _models
from .DeepFace import _check_options, _faces, _flags, _metric_name, _threshold_value
from .exceptions import EmptyDatasource, NotSupported, PathNotFound
from .images import load as _load_image
from .model import distances as _distances

logger = logging.getLogger("facec")

IMAGE_EXTS = {".jpg", ".jpeg", ".png"}
JPEG_MAGIC, PNG_MAGIC = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"
COLUMNS = ["identity", "hash", "target_x", "target_y", "target_w", "target_h"]


def _list_images(root):
    """deepface's yield_images: JPEG/PNG by extension, then by magic bytes (sorted here: deterministic)."""
    found = []
    for r, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            if os.path.splitext(f)[1].lower() in IMAGE_EXTS:
                path = os.path.join(r, f)
                with open(path, "rb") as fh:
                    head = fh.read(8)
                if head.startswith(JPEG_MAGIC) or head.startswith(PNG_MAGIC):
                    found.append(path)
    return found


def _file_hash(path):
    """deepface's find_image_hash: sha1 of size, ctime and mtime (not of the content)."""
    st = os.stat(path)
    return hashlib.sha1(f"{st.st_size}-{st.st_ctime}-{st.st_mtime}".encode("utf-8")).hexdigest()


def _fingerprint(model):
    st = os.stat(model.path)
    return f"{model.name}|{model.dim}|{os.path.abspath(model.path)}|{st.st_size}|{st.st_mtime_ns}"


class _Store:
    """The datastore's rows: identity, hash, target area and embedding (None for a photo without a face)."""

    def __init__(self, rows=None):
        self.rows = rows or []

    @staticmethod
    def load(path, fingerprint, dim):
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["fingerprint"]) != fingerprint:
                    return None
                ident, hashes, areas, emb, valid = z["identity"], z["hash"], z["area"], z["embedding"], z["valid"]
        except (OSError, KeyError, ValueError):
            return None
        if emb.ndim != 2 or emb.shape[1] != dim:
            return None
        rows = []
        for i in range(len(ident)):
            rows.append({"identity": str(ident[i]), "hash": str(hashes[i]),
                         "embedding": emb[i] if valid[i] else None,
                         "target_x": int(areas[i][0]), "target_y": int(areas[i][1]),
                         "target_w": int(areas[i][2]), "target_h": int(areas[i][3])})
        return _Store(rows)

    def save(self, path, fingerprint, dim):
        n = len(self.rows)
        emb = np.zeros((n, dim), dtype=np.float32)
        valid = np.zeros(n, dtype=bool)
        for i, r in enumerate(self.rows):
            if r["embedding"] is not None:
                emb[i] = r["embedding"]
                valid[i] = True
        areas = np.array([[r["target_x"], r["target_y"], r["target_w"], r["target_h"]] for r in self.rows],
                         dtype=np.int64).reshape(n, 4)
        tmp = path + ".tmp.npz"
        np.savez(tmp, fingerprint=np.array(fingerprint), identity=np.array([r["identity"] for r in self.rows], dtype=str),
                 hash=np.array([r["hash"] for r in self.rows], dtype=str), area=areas, embedding=emb, valid=valid)
        os.replace(tmp, path)  # a reader never sees half a datastore


def _skip_area(records, flags):
    """extract_faces("skip") clips the whole-image box by one pixel, as any box."""
    if flags & _native.SKIP_DETECTION:
        for r in records:
            r.w, r.h = r.w - 1, r.h - 1
    return records


def _embed_file(model, path, flags, enforce_detection):
    """A gallery photo's rows; deepface logs and swallows a photo's failure and stores a placeholder."""
    h = _file_hash(path)
    try:
        records = _skip_area(_faces(model, _load_image(path), flags, embed=True), flags)
    except ValueError as err:
        logger.error(f"Exception while extracting faces from {path}: {str(err)}")
        records = []
    if not records:
        return [{"identity": path, "hash": h, "embedding": None, "target_x": 0, "target_y": 0, "target_w": 0, "target_h": 0}]
    return [{"identity": path, "hash": h, "embedding": r.embedding, "target_x": r.x, "target_y": r.y,
             "target_w": r.w, "target_h": r.h} for r in records]


def _return_type(return_type):
    if return_type not in (None, "pandas", "dict"):
        raise ValueError(f"Unsupported return_type: {return_type}. Options: 'pandas', 'dict'.")
    installed = importlib.util.find_spec("pandas") is not None
    if return_type is None:
        return "pandas" if installed else "dict"
    if return_type == "pandas" and not installed:
        raise ImportError("pandas is an optional dependency, it is required for return_type='pandas'. "
                          "Please either install it using 'pip install pandas' or set return_type to 'dict'.")
    return return_type


def find(img_path, db_path, model_name="VGG-Face", distance_metric="cosine", enforce_detection=True,
         detector_backend="opencv", align=True, similarity_search=False, k=None, expand_percentage=0, threshold=None,
         normalization="base", silent=False, refresh_database=True, anti_spoofing=False, datastore_format="npz",
         return_type=None, model=None):
    return_type = _return_type(return_type)
    if not isinstance(distance_metric, str) and threshold is None:
        raise ValueError("Threshold must be specified when using custom distance metrics")
    if datastore_format != "npz":
        raise NotSupported(f"datastore_format={datastore_format!r}: facec keeps its datastore as npz")
    _check_options(detector_backend, align, expand_percentage, normalization, anti_spoofing)
    if "://" in db_path:
        raise NotSupported("db_path must be a local folder (facec reads no s3:// or ftp:// stores; "
                                  "facec gallery keeps galleries in SQLite or PostgreSQL)")
    if not os.path.isdir(db_path):
        raise PathNotFound(f"Passed path {db_path} does not exist!")
    tic = time.time()
    m = _models.resolve(model, model_name)
    name = m.name if model is not None else model_name
    metric = _metric_name(distance_metric)
    flags = _flags(detector_backend, enforce_detection, m)
    query = _load_image(img_path)

    parts = ["facec_ds", "model", name, "detector", detector_backend, "aligned", "normalization", normalization, "expand", "0"]
    file_name = "_".join(parts).replace("-", "").lower() + ".npz"
    datastore_path = os.path.join(db_path, file_name)
    fingerprint = _fingerprint(m)
    store = _Store.load(datastore_path, fingerprint, m.dim) if os.path.exists(datastore_path) else None
    must_save = store is None
    store = store or _Store()

    storage_images = set(_list_images(db_path))
    if len(storage_images) == 0 and refresh_database is True:
        raise EmptyDatasource(f"No item found in {db_path}")
    if len(store.rows) == 0 and refresh_database is False and not must_save:
        raise EmptyDatasource(f"Nothing is found in {datastore_path}")
    new_images, old_images = set(), set()
    if refresh_database or must_save:
        stored = {r["identity"] for r in store.rows}
        new_images = storage_images - stored
        old_images = stored - storage_images
        replaced = {r["identity"] for r in store.rows if r["identity"] not in old_images and r["hash"] != _file_hash(r["identity"])}
        if not silent and (new_images or old_images or replaced):
            logger.info(f"Found {len(new_images)} newly added image(s), {len(old_images)} removed image(s), "
                        f"{len(replaced)} replaced image(s).")
        new_images |= replaced
        old_images |= replaced
    if old_images:
        store.rows = [r for r in store.rows if r["identity"] not in old_images]
        must_save = True
    if new_images:
        for path in sorted(new_images):
            store.rows += _embed_file(m, path, flags, enforce_detection)
        must_save = True
    if must_save:
        store.save(datastore_path, fingerprint, m.dim)
        if not silent:
            logger.info(f"There are now {len(store.rows)} representations in {file_name}")
    if len(store.rows) == 0:
        return []

    sources = _skip_area(_faces(m, query, flags, embed=True), flags)
    if threshold is None:
        threshold = _threshold_value(m.threshold(metric)) if metric else 0.0
    rows = store.rows
    valid = np.array([r["embedding"] is not None for r in rows], dtype=bool)
    matrix = np.zeros((len(rows), m.dim), dtype=np.float32)
    for i, r in enumerate(rows):
        if r["embedding"] is not None:
            matrix[i] = r["embedding"]
    results = []
    for source in sources:
        if metric is None:
            d = np.array([float(distance_metric(np.asarray(matrix[i], dtype=np.float64), np.asarray(source.embedding, dtype=np.float64)))
                          if valid[i] else np.inf for i in range(len(rows))])
        else:
            d = _distances(source.embedding, matrix, metric)
        d[~valid] = np.inf
        if return_type == "dict":
            results.append(_as_dicts(rows, d, source, threshold, m, metric, similarity_search, k))
        else:
            results.append(_as_frame(rows, d, source, threshold, m, metric, similarity_search, k))
    if not silent:
        logger.info(f"find function duration {time.time() - tic} seconds")
    return results


def _confidence(m, metric, distance, verified):
    if not np.isfinite(distance):
        return 0.0
    if metric is None:
        return 51 if verified else 49
    return m.confidence(distance, metric, verified)


def _as_frame(rows, d, source, threshold, m, metric, similarity_search, k):
    """deepface's pandas result: every row's distance, filtered, sorted, cut to k."""
    import pandas as pd
    df = pd.DataFrame([{key: r[key] for key in COLUMNS} for r in rows], columns=COLUMNS)
    df["threshold"] = threshold
    df["source_x"], df["source_y"], df["source_w"], df["source_h"] = source.x, source.y, source.w, source.h
    df["distance"] = [float(x) for x in d]
    df["confidence"] = [_confidence(m, metric, float(x), bool(x <= threshold)) for x in d]
    if similarity_search is False:
        df = df[df["distance"] <= df["threshold"]]
    df = df.sort_values(by=["distance"], ascending=True, kind="stable").reset_index(drop=True)
    if k is not None and len(df) > k:
        df = df.head(k)
    return df


def _as_dicts(rows, d, source, threshold, m, metric, similarity_search, k):
    """deepface's return_type='dict' result: numpy scalars, threshold inf under similarity_search."""
    t = threshold if similarity_search is False else np.inf
    keep = np.nonzero(d <= t)[0]
    order = keep[np.argsort(d[keep], kind="stable")]
    if k is not None and len(order) > k:
        order = order[:k]
    out = []
    for i in order:
        r = rows[i]
        item = {"identity": np.str_(r["identity"]), "hash": np.str_(r["hash"]),
                "target_x": np.int64(r["target_x"]), "target_y": np.int64(r["target_y"]),
                "target_w": np.int64(r["target_w"]), "target_h": np.int64(r["target_h"]),
                "source_x": np.int64(source.x), "source_y": np.int64(source.y),
                "source_w": np.int64(source.w), "source_h": np.int64(source.h),
                "threshold": np.float64(t), "distance": np.float64(d[i])}
        item["confidence"] = _confidence(m, metric, float(d[i]), bool(d[i] <= t))
        out.append(item)
    return out
