"""facec from Python: deepface's functions on facec's runtime.

    from facec import DeepFace
    DeepFace.verify("a.jpg", "b.jpg", model_name="Dlib")

`facec.DeepFace` has deepface 0.0.103's `represent`, `verify`,
`extract_faces`, `find` and `build_model`; `facec.Model` is a compiled
.fgraph opened once (thread-safe: one native session per thread; the GIL is
released during native calls).
"""
from . import _native
from . import DeepFace
from .exceptions import (DataTypeError, DimensionMismatchError, EmptyDatasource, FaceNotDetected, ImgNotFound,
                         NotSupported, PathNotFound)
from .model import Model

__version__ = "0.2.0"
library_version = _native.lib.facec_version().decode()
library_path = _native.library_path

__all__ = ["DeepFace", "Model", "FaceNotDetected", "ImgNotFound", "PathNotFound", "EmptyDatasource",
           "DataTypeError", "DimensionMismatchError", "NotSupported", "__version__"]
