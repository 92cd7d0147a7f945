"""ctypes bindings of include/facec.h (ABI mode: nothing is compiled).

ctypes releases the GIL around every foreign call, so Python threads run the
native work in parallel.
"""
import ctypes
import os
import platform

API_VERSION = 3

OK = 0
ERROR_ARGUMENT = 1
ERROR_IO = 2
ERROR_MODEL = 3
ERROR_IMAGE = 4
ERROR_NO_FACE = 5
ERROR_TOO_MUCH_WORK = 6
ERROR_NO_DETECTOR = 7
ERROR_INTERNAL = 8

SKIP_DETECTION = 1
DETECT = 2
NO_ENFORCE_DETECTION = 4
WITH_CROPS = 8

RGB = 0
BGR = 1

METRICS = {"cosine": 0, "euclidean": 1, "euclidean_l2": 2, "angular": 3}


class Face(ctypes.Structure):
    """facec_face: deepface's facial_area and face confidence."""

    _fields_ = [
        ("x", ctypes.c_int32), ("y", ctypes.c_int32), ("w", ctypes.c_int32), ("h", ctypes.c_int32),
        ("has_left_eye", ctypes.c_int32), ("left_eye_x", ctypes.c_int32), ("left_eye_y", ctypes.c_int32),
        ("has_right_eye", ctypes.c_int32), ("right_eye_x", ctypes.c_int32), ("right_eye_y", ctypes.c_int32),
        ("confidence", ctypes.c_double),
    ]


class NativeError(Exception):
    """A failed facec call: its status and facec's one-line message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _cpu_problem():
    """Why this CPU cannot run the library (its kernels need x86-64-v3), or None."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return f"this libfacec.so is built for x86-64, not {platform.machine()}"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    missing = [x for x in ("avx2", "fma", "f16c", "bmi2") if x not in flags]
                    if missing:
                        return ("facec's kernels need an x86-64-v3 CPU (AVX2 + FMA: Intel Haswell, AMD Zen or newer); "
                                f"this CPU lacks {', '.join(missing)}")
                    return None
    except OSError:
        return None
    return None


def _library_path():
    explicit = os.environ.get("FACEC_LIBRARY")
    if explicit:
        return explicit
    bundled = os.path.join(os.path.dirname(__file__), "_lib", "libfacec.so")
    if os.path.exists(bundled):
        return bundled
    raise ImportError("facec: libfacec.so not found: install the wheel that scripts/build-python.sh builds "
                      "(it carries the library), or set FACEC_LIBRARY to a libfacec.so (scripts/build-edge.sh makes dist/lib/libfacec.so)")


def _load():
    problem = _cpu_problem()
    if problem:
        raise ImportError("facec: " + problem)
    path = _library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"facec: cannot load {path}: {e}") from e
    c = ctypes
    P = c.c_void_p
    sig = {
        "facec_version": (c.c_char_p, []),
        "facec_last_error": (c.c_char_p, []),
        "facec_model_open": (c.c_int, [c.c_char_p, c.POINTER(P)]),
        "facec_model_close": (None, [P]),
        "facec_model_dim": (c.c_size_t, [P]),
        "facec_model_has_detector": (c.c_int, [P]),
        "facec_model_detector": (c.c_char_p, [P]),
        "facec_model_name": (c.c_char_p, [P]),
        "facec_model_threshold": (c.c_int, [P, c.c_int, c.POINTER(c.c_double)]),
        "facec_session_open": (c.c_int, [P, c.c_int, c.POINTER(P)]),
        "facec_session_close": (None, [P]),
        "facec_embed_file": (c.c_int, [P, c.c_char_p, c.c_uint, c.POINTER(P)]),
        "facec_embed_pixels": (c.c_int, [P, P, c.c_int, c.c_int, c.c_size_t, c.c_int, c.c_uint, c.POINTER(P)]),
        "facec_embed_memory": (c.c_int, [P, P, c.c_size_t, c.c_uint, c.POINTER(P)]),
        "facec_detect_file": (c.c_int, [P, c.c_char_p, c.c_uint, c.POINTER(P)]),
        "facec_detect_pixels": (c.c_int, [P, P, c.c_int, c.c_int, c.c_size_t, c.c_int, c.c_uint, c.POINTER(P)]),
        "facec_detect_memory": (c.c_int, [P, P, c.c_size_t, c.c_uint, c.POINTER(P)]),
        "facec_faces_count": (c.c_size_t, [P]),
        "facec_faces_face": (c.POINTER(Face), [P, c.c_size_t]),
        "facec_faces_embedding": (c.POINTER(c.c_float), [P, c.c_size_t]),
        "facec_faces_crop": (c.POINTER(c.c_uint8), [P, c.c_size_t, c.POINTER(c.c_int), c.POINTER(c.c_int)]),
        "facec_faces_free": (None, [P]),
        "facec_distance": (c.c_int, [P, P, c.c_size_t, c.c_int, c.POINTER(c.c_double)]),
        "facec_distances": (c.c_int, [P, P, c.c_size_t, c.c_size_t, c.c_size_t, c.c_int, P]),
        "facec_verify": (c.c_int, [P, P, P, c.c_size_t, c.c_int, c.POINTER(c.c_double), c.POINTER(c.c_int)]),
        "facec_confidence": (c.c_int, [P, c.c_double, c.c_int, c.c_int, c.POINTER(c.c_double), c.POINTER(c.c_int)]),
    }
    for name, (restype, argtypes) in sig.items():
        try:
            f = getattr(lib, name)
        except AttributeError as e:
            raise ImportError(f"facec: {path} lacks {name}: it is older than this package (C API {API_VERSION})") from e
        f.restype = restype
        f.argtypes = argtypes
    return lib, path


lib, library_path = _load()


def check(status):
    """Raises NativeError for a failed call, with this thread's last error."""
    if status != OK:
        raise NativeError(status, lib.facec_last_error().decode("utf-8", "replace"))
