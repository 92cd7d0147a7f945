"""deepface 0.0.103's exception classes (deepface/modules/exceptions.py), so
that `except ValueError` and `except FaceNotDetected` code keeps working."""


class ImgNotFound(ValueError):
    pass


class PathNotFound(ValueError):
    pass


class FaceNotDetected(ValueError):
    pass


class SpoofDetected(ValueError):
    pass


class EmptyDatasource(ValueError):
    pass


class DimensionMismatchError(ValueError):
    pass


class InvalidEmbeddingsShapeError(ValueError):
    pass


class DataTypeError(ValueError):
    pass


class UnimplementedError(ValueError):
    pass


class DuplicateEntryError(ValueError):
    pass


class NotSupported(UnimplementedError):
    """What facec does not do (another model, detector or option): the message
    names what is supported. An UnimplementedError (a ValueError), the class
    deepface raises for an unknown model or detector."""
