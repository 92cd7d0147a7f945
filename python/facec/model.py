"""A compiled .fgraph model opened once and shared by every thread, with one
native session per thread (the C API's rule: a session holds one thread's
activation memory; a model is immutable and shared)."""
import ctypes
import os
import threading

import numpy as np

from . import _native
from ._native import check, lib


class FaceRecord:
    """One face as the C API gives it: deepface's facial area, confidence and,
    depending on the call, the embedding (float32) or the aligned crop (RGB uint8)."""

    __slots__ = ("x", "y", "w", "h", "left_eye", "right_eye", "confidence", "embedding", "crop")

    def __init__(self, face, embedding=None, crop=None):
        self.x, self.y, self.w, self.h = face.x, face.y, face.w, face.h
        self.left_eye = (face.left_eye_x, face.left_eye_y) if face.has_left_eye else None
        self.right_eye = (face.right_eye_x, face.right_eye_y) if face.has_right_eye else None
        self.confidence = face.confidence
        self.embedding = embedding
        self.crop = crop


def _threads_default():
    value = os.environ.get("FACEC_THREADS")
    if value is None:
        return 1
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"FACEC_THREADS must be a whole number from 1 to 1024, not {value!r}") from None
    if not 1 <= n <= 1024:
        raise ValueError(f"FACEC_THREADS must be from 1 to 1024, not {n}")
    return n


class Model:
    """An open .fgraph model (deepface's `build_model` habit: load once, reuse).

    `threads` is how many threads one photo's detection and network may use
    in each calling thread's session (default: $FACEC_THREADS, else 1). For
    several Python threads working at once, keep it at 1 per thread."""

    def __init__(self, path, threads=None):
        path = os.fspath(path)
        self.path = path
        self.threads = _threads_default() if threads is None else int(threads)
        if not 1 <= self.threads <= 1024:
            raise ValueError(f"threads must be from 1 to 1024, not {self.threads}")
        handle = ctypes.c_void_p()
        status = lib.facec_model_open(path.encode(), ctypes.byref(handle))
        if status != _native.OK:
            message = lib.facec_last_error().decode("utf-8", "replace")
            if status == _native.ERROR_IO and not os.path.exists(path):
                raise FileNotFoundError(message)
            raise ValueError(message)
        self._handle = handle
        self.dim = lib.facec_model_dim(handle)
        self.name = lib.facec_model_name(handle).decode()
        self.has_detector = bool(lib.facec_model_has_detector(handle))
        self.detector = lib.facec_model_detector(handle).decode()   # "opencv", "mtcnn" or ""
        self._local = threading.local()
        self._sessions = []
        self._lock = threading.Lock()

    def __repr__(self):
        return f"facec.Model({self.path!r}: {self.name}, {self.dim}-d, detector={self.detector or 'none'})"

    @property
    def output_shape(self):
        """deepface's FacialRecognition.output_shape: the embedding size."""
        return self.dim

    def close(self):
        """Closes the model and every session (also done when it is collected)."""
        with self._lock:
            for s in self._sessions:
                lib.facec_session_close(s)
            self._sessions = []
            if self._handle:
                lib.facec_model_close(self._handle)
                self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            if not self._handle:
                raise ValueError(f"{self.path}: the model is closed")
            handle = ctypes.c_void_p()
            check(lib.facec_session_open(self._handle, self.threads, ctypes.byref(handle)))
            session = handle
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def threshold(self, metric):
        value = ctypes.c_double()
        check(lib.facec_model_threshold(self._handle, _native.METRICS[metric], ctypes.byref(value)))
        return value.value

    def confidence(self, distance, metric, verified):
        """deepface's confidence for a pair (a float, or an int where deepface returns an int)."""
        value, integral = ctypes.c_double(), ctypes.c_int()
        check(lib.facec_confidence(self._handle, float(distance), _native.METRICS[metric], 1 if verified else 0,
                                   ctypes.byref(value), ctypes.byref(integral)))
        return int(value.value) if integral.value else value.value

    # --- faces of one image ------------------------------------------------

    def faces(self, image, flags, embed, crops=False):
        """The faces of one image (see images.NativeImage) as FaceRecords."""
        session = self._session()
        out = ctypes.c_void_p()
        if crops:
            flags |= _native.WITH_CROPS
        kind = image.kind
        if kind == "file":
            fn = lib.facec_embed_file if embed else lib.facec_detect_file
            status = fn(session, image.path.encode(), flags, ctypes.byref(out))
        elif kind == "memory":
            fn = lib.facec_embed_memory if embed else lib.facec_detect_memory
            status = fn(session, image.data_pointer, image.size, flags, ctypes.byref(out))
        else:
            fn = lib.facec_embed_pixels if embed else lib.facec_detect_pixels
            status = fn(session, image.data_pointer, image.width, image.height, image.stride, _native.BGR, flags,
                        ctypes.byref(out))
        check(status)
        try:
            n = lib.facec_faces_count(out)
            records = []
            for i in range(n):
                face = lib.facec_faces_face(out, i).contents
                embedding = crop = None
                if embed:
                    p = lib.facec_faces_embedding(out, i)
                    embedding = np.ctypeslib.as_array(p, shape=(self.dim,)).copy()
                if crops:
                    w, h = ctypes.c_int(), ctypes.c_int()
                    p = lib.facec_faces_crop(out, i, ctypes.byref(w), ctypes.byref(h))
                    crop = np.ctypeslib.as_array(p, shape=(h.value, w.value, 3)).copy()
                records.append(FaceRecord(face, embedding, crop))
            return records
        finally:
            lib.facec_faces_free(out)


def distances(query, rows, metric):
    """deepface's distances of `query` to each row of a float32 matrix, in one native call."""
    query = np.ascontiguousarray(query, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[1] != query.shape[0]:
        raise ValueError(f"embeddings of {rows.shape[1] if rows.ndim == 2 else '?'} and {query.shape[0]} dimensions cannot be compared")
    if rows.strides[1] != 4 or rows.strides[0] < 4 * rows.shape[1]:
        rows = np.ascontiguousarray(rows)
    out = np.empty(rows.shape[0], dtype=np.float64)
    check(lib.facec_distances(query.ctypes.data, rows.ctypes.data if rows.shape[0] else None, rows.shape[0], rows.shape[1],
                              rows.strides[0] // 4, _native.METRICS[metric], out.ctypes.data))
    return out


def distance(a, b, metric):
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"embeddings of shapes {a.shape} and {b.shape} cannot be compared")
    value = ctypes.c_double()
    check(lib.facec_distance(a.ctypes.data, b.ctypes.data, a.shape[0], _native.METRICS[metric], ctypes.byref(value)))
    return value.value
