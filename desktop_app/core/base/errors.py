"""Typed errors: every failure a user can meet names its file and its reason."""

from __future__ import annotations

from pathlib import Path


class DermScreenError(Exception):
    """Base class for every error DermScreen raises on purpose."""


class ImageError(DermScreenError):
    """An input image could not be turned into a tensor."""

    reason_code = "image_error"

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class EmptyFileError(ImageError):
    reason_code = "empty_file"


class TruncatedImageError(ImageError):
    reason_code = "truncated"


class NotAnImageError(ImageError):
    reason_code = "not_an_image"


class UnsupportedFormatError(ImageError):
    reason_code = "unsupported_format"


class ImageTooLargeError(ImageError):
    reason_code = "too_large"


class UnreadableFileError(ImageError):
    reason_code = "unreadable"


class ImageChangedError(ImageError):
    """The file's bytes no longer hash to the SHA-256 recorded when it was analysed."""

    reason_code = "changed"


class NotARegularFileError(UnreadableFileError):
    """A folder, named pipe, device or socket: refused before any read (a read could block)."""


class UnsuitableImageError(ImageError):
    """A decodable image that is no lesion photograph the model can judge."""

    reason_code = "unsuitable_image"


class ImageTooSmallError(UnsuitableImageError):
    reason_code = "too_small"


class ExtremeAspectError(UnsuitableImageError):
    reason_code = "extreme_aspect"


class BlankImageError(UnsuitableImageError):
    reason_code = "blank_image"


class UnknownClassError(DermScreenError, ValueError):
    """A dataset folder carries a class name DermScreen does not know."""


class ModelError(DermScreenError):
    """The model file cannot be used."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelNotFoundError(ModelError):
    pass


class ModelCorruptError(ModelError):
    pass


class ModelHashMismatchError(ModelError):
    pass


class ModelMetadataError(ModelError):
    pass


class ModelShapeError(ModelError):
    pass
