"""deepface's image inputs (commons/image_utils.load_image): a path, a numpy
BGR array, a base64 string ("data:image/...;base64,...") or a binary file
object, handed to the C API without copying where it can take the bytes."""
import base64
import io
import os
from pathlib import Path

import numpy as np

from .exceptions import DataTypeError, ImgNotFound


class NativeImage:
    """What the C API is given: a file path, encoded bytes or BGR pixels.
    `name` is deepface's image name (its error messages quote it)."""

    def __init__(self, kind, name, path=None, data=None, array=None):
        self.kind = kind
        self.name = name
        self.path = path
        self._keep = data if data is not None else array  # keeps the memory alive during the call
        if kind == "memory":
            self.size = len(data)
            self.data_pointer = np.frombuffer(data, dtype=np.uint8).ctypes.data if self.size else None
        elif kind == "pixels":
            self.height, self.width = array.shape[0], array.shape[1]
            self.stride = array.strides[0]
            self.data_pointer = array.ctypes.data


def _pixels(array):
    """A BGR uint8 (H, W, 3) array as the C API takes it: any row stride, but
    3 adjacent bytes per pixel (otherwise one contiguous copy is made)."""
    if array.dtype != np.uint8:
        raise DataTypeError(f"facec takes images as 8-bit BGR numpy arrays (uint8, shape (H, W, 3)), not {array.dtype}")
    if array.ndim != 3 or array.shape[2] != 3:
        raise DataTypeError(f"facec takes images as numpy arrays of shape (H, W, 3) in BGR order, not {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"the image is empty ({array.shape})")
    if array.strides[2] != 1 or array.strides[1] != 3 or array.strides[0] < 3 * array.shape[1]:
        array = np.ascontiguousarray(array)
    return array


def load(img):
    """A NativeImage for any of deepface's image inputs, with deepface's errors."""
    if isinstance(img, np.ndarray):
        return NativeImage("pixels", "numpy array", array=_pixels(img))
    if hasattr(img, "read") and callable(img.read):
        if isinstance(img, io.StringIO):
            raise DataTypeError("img requires bytes and cannot be an io.StringIO object.")
        try:
            img.seek(0)
        except (AttributeError, TypeError, io.UnsupportedOperation):
            pass
        data = img.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DataTypeError(f"img requires bytes but its read() gave {type(data)}")
        return NativeImage("memory", "io object", data=bytes(data))
    if isinstance(img, Path):
        img = str(img)
    if not isinstance(img, str):
        raise DataTypeError(f"img must be numpy array or str but it is {type(img)}")
    if img.startswith("data:image/"):
        parts = img.split(",")
        if len(parts) < 2:
            raise ValueError("format error in base64 encoded string")
        data = base64.b64decode(parts[1])
        # deepface takes JPEG and PNG here (image_utils.load_image_from_base64).
        if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
            raise DataTypeError("Input image can be jpg or png, but it is neither")
        return NativeImage("memory", "base64 encoded string", data=data)
    if img.lower().startswith(("http://", "https://")):
        raise DataTypeError("facec does not download images: give a path, a numpy array, bytes or base64")
    if not os.path.isfile(img):
        raise ImgNotFound(f"Confirm that {img} exists")
    return NativeImage("file", img, path=img)
