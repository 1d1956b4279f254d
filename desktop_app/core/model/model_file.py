"""Open a DermScreen ONNX model: hash, metadata and shape checks, CUDA -> CPU fallback.

Qt-free and TensorFlow-free; needs ONNX Runtime only (not the ``onnx`` package).
Every failure a user can meet is a typed :class:`~desktop_app.core.base.errors.ModelError`
naming the file and the reason.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import onnxruntime as ort

from desktop_app.core.base import paths
from desktop_app.core.base.errors import (
    ModelCorruptError,
    ModelHashMismatchError,
    ModelMetadataError,
    ModelNotFoundError,
    ModelShapeError,
)
from desktop_app.core.imaging.imageio import file_sha256
from desktop_app.core.imaging.regular_file import open_regular
from desktop_app.core.model.metadata import (
    INPUT_NAME,
    MAX_PROP_CHARS,
    OPTIONAL_OUTPUT_NAMES,
    OUTPUT_ANOMALY_SCORE,
    OUTPUT_ERROR_MAP,
    OUTPUT_EVIDENCE_MAP,
    OUTPUT_NAMES,
    OUTPUT_PROBABILITY,
    OUTPUT_RECONSTRUCTION,
    OUTPUT_SCORE,
    PREFIX,
    MetadataError,
    ModelMetadata,
)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# ONNX Runtime severities: 0 verbose .. 3 error, 4 fatal. Errors only by default;
# fatal only while CUDA is tried, because a CPU-only machine with onnxruntime-gpu
# logs a missing-library ERROR there (measured, even at 3) that the user must not
# see: falling back to the CPU is the expected, working outcome.
_QUIET_SEVERITY = 3
_SILENT_SEVERITY = 4
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
UNVERIFIED_LABEL = "unverified model"
# A sidecar holds one line: 64 hex digits and a file name.
_MAX_SIDECAR_BYTES = 4096

ort.set_default_logger_severity(_QUIET_SEVERITY)


@dataclass
class LoadedModel:
    """A checked model with its inference session."""

    path: Path
    sha256: str
    metadata: ModelMetadata
    provider: str  # "CUDAExecutionProvider" or "CPUExecutionProvider"
    input_size: int
    session: Any = field(repr=False)
    # True when a ``.sha256`` sidecar beside the file matched its bytes; False
    # when there is none (a mismatched sidecar is refused at load). Shown as
    # "unverified model" in the GUI, CSV (model_verified) and PDF.
    verified: bool = False

    @property
    def short_sha(self) -> str:
        return self.sha256[:12]

    @property
    def display_name(self) -> str:
        return f"{self.metadata.model_name} {self.metadata.model_version}"

    @cached_property
    def output_names(self) -> tuple[str, ...]:
        """The contract's outputs this graph has: the three required ones, then any optional
        (read once: :meth:`run` checks every batch's names against it)."""
        have = {o.name for o in self.session.get_outputs()}
        return OUTPUT_NAMES + tuple(n for n in OPTIONAL_OUTPUT_NAMES if n in have)

    def has_output(self, name: str) -> bool:
        return name in self.output_names

    @property
    def verification_label(self) -> str:
        """"verified" or "unverified model" (no ``.sha256`` sidecar vouches for the file)."""
        return "verified" if self.verified else UNVERIFIED_LABEL

    @property
    def provider_label(self) -> str:
        """Short provider name for the status bar and reports: CUDA or CPU."""
        return "CUDA" if self.provider == CUDA else "CPU"

    def run_options(self) -> ort.RunOptions:
        """A fresh RunOptions for :meth:`run`: setting its ``terminate`` ends every run that
        uses it at the next operator (how a stopped batch leaves ONNX Runtime promptly)."""
        return ort.RunOptions()

    def run(
        self, batch: np.ndarray | Mapping[str, np.ndarray], outputs: Sequence[str] = (OUTPUT_SCORE,),
        run_options: ort.RunOptions | None = None,
    ) -> dict[str, np.ndarray]:
        """Run a preprocessed float32 batch; returns output name -> array.

        ``batch`` is ``[N, size, size, 3]`` for a one-input model, or a mapping that fills
        every declared input by name (``metadata.input_configs()``), each ``[N, s, s, 3]``
        with its own side and the same N. Safe to call from several threads at once.
        """
        configs = self.metadata.input_configs()
        given = dict(batch) if isinstance(batch, Mapping) else {INPUT_NAME: batch}
        if set(given) != set(configs):
            msg = f"the model takes inputs {sorted(configs)}, got {sorted(given)}"
            raise ValueError(msg)
        feed, count = {}, None
        for name, cfg in configs.items():
            arr = np.asarray(given[name])
            if arr.ndim == 3:
                arr = arr[None]
            want = (cfg.size, cfg.size, 3)
            if arr.ndim != 4 or arr.shape[1:] != want or arr.shape[0] == 0:
                msg = (f"input {name!r} must have shape [N, {want[0]}, {want[1]}, 3], "
                       f"got {list(arr.shape)}")
                raise ValueError(msg)
            if count is not None and arr.shape[0] != count:
                msg = f"inputs hold different numbers of images ({count} and {arr.shape[0]})"
                raise ValueError(msg)
            count = arr.shape[0]
            feed[name] = np.ascontiguousarray(arr, dtype=np.float32)
        outputs = tuple(outputs)
        if not outputs:
            msg = "name at least one output to compute"
            raise ValueError(msg)
        unknown = [name for name in outputs if name not in self.output_names]
        if unknown:
            msg = f"unknown output(s) {unknown}; the model has {list(self.output_names)}"
            raise ValueError(msg)
        values = self.session.run(list(outputs), feed, run_options)
        return dict(zip(outputs, values, strict=True))


# --- files and hashes -------------------------------------------------------------



def _check_readable(path: Path) -> None:
    if not path.exists():
        raise ModelNotFoundError(path, "model file not found")
    if not path.is_file():
        raise ModelNotFoundError(path, "not a regular file")
    if not os.access(path, os.R_OK):
        raise ModelNotFoundError(path, "model file is not readable (permission denied)")
    if path.stat().st_size == 0:
        raise ModelCorruptError(path, "model file is empty (0 bytes)")


def _file_hash(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError as exc:
        raise ModelNotFoundError(path, f"cannot read model file ({exc.strerror or exc})") from None


def check_sidecar(path: Path, digest: str) -> bool:
    """Compare ``digest`` with the ``.sha256`` sidecar; False when there is none.

    Raises ModelHashMismatchError when the sidecar disagrees or cannot be read.
    """
    sidecar = paths.sidecar_path(path)
    if not sidecar.exists():
        return False
    try:
        fd, _ = open_regular(sidecar)
        with open(fd, "rb") as fh:
            text = fh.read(_MAX_SIDECAR_BYTES).decode("utf-8", errors="replace").strip()
    except OSError as exc:
        reason = f"cannot read hash file {sidecar.name} ({exc.strerror or exc})"
        raise ModelHashMismatchError(path, reason) from None
    expected = text.split()[0] if text else ""
    if not _HEX64.match(expected):
        raise ModelHashMismatchError(path, f"hash file {sidecar.name} holds no SHA-256 digest")
    if expected.lower() != digest:
        reason = (
            f"SHA-256 {digest[:12]}... does not match {sidecar.name} ({expected[:12].lower()}...): "
            "the file was changed or damaged"
        )
        raise ModelHashMismatchError(path, reason)
    return True


# --- metadata without a session ---------------------------------------------------

_METADATA_PROPS_FIELD = 14  # ModelProto.metadata_props (onnx.proto)
# UTF-8 needs at most 4 bytes a character: anything longer is refused by the
# metadata checks anyway, so it is not even read into memory.
_MAX_METADATA_ENTRY_BYTES = 4 * MAX_PROP_CHARS + 4096


def _read_varint(fh: BinaryIO) -> int | None:
    result = 0
    for shift in range(0, 70, 7):
        byte = fh.read(1)
        if not byte:
            return None
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result
    msg = "varint too long"
    raise ValueError(msg)


def _parse_entry(data: bytes) -> tuple[str, str]:
    """StringStringEntryProto: key = field 1, value = field 2."""
    out = {1: "", 2: ""}
    fh = io.BytesIO(data)
    while fh.tell() < len(data):
        tag = _read_varint(fh)
        if tag is not None and tag & 7 != 2:
            msg = "unexpected field type in metadata entry"
            raise ValueError(msg)
        length = _read_varint(fh) if tag is not None else None
        value = fh.read(length) if length is not None else b""
        if length is None or len(value) != length:
            msg = "truncated metadata entry"
            raise ValueError(msg)
        if tag >> 3 in out:
            out[tag >> 3] = value.decode("utf-8")
    return out[1], out[2]


def read_metadata_props(path: str | Path) -> dict[str, str]:
    """The raw ``metadata_props`` of an ONNX file, read from the protobuf wire format.

    Skips every other top-level field (the graph and its weights) by seeking, so
    this costs a few reads whatever the model's size, and needs neither ``onnx``
    nor an inference session.
    """
    path = Path(path)
    _check_readable(path)
    size = path.stat().st_size
    props: dict[str, str] = {}
    try:
        with open(path, "rb") as fh:
            while True:
                tag = _read_varint(fh)
                if tag is None:
                    break
                number, wire = tag >> 3, tag & 7
                if number == 0:
                    msg = "field number 0"
                    raise ValueError(msg)
                if wire == 0:
                    if _read_varint(fh) is None:
                        msg = "truncated varint"
                        raise ValueError(msg)
                elif wire == 1:
                    fh.seek(8, os.SEEK_CUR)
                elif wire == 5:
                    fh.seek(4, os.SEEK_CUR)
                elif wire == 2:
                    length = _read_varint(fh)
                    if length is None or fh.tell() + length > size:
                        msg = "length runs past the end of the file"
                        raise ValueError(msg)
                    if number == _METADATA_PROPS_FIELD:
                        if length > _MAX_METADATA_ENTRY_BYTES:
                            raise ModelMetadataError(
                                path, f"a metadata entry is {length:,} bytes; at most "
                                f"{_MAX_METADATA_ENTRY_BYTES:,}"
                            )
                        key, value = _parse_entry(fh.read(length))
                        props[key] = value
                    else:
                        fh.seek(length, os.SEEK_CUR)
                else:
                    msg = f"unsupported wire type {wire}"
                    raise ValueError(msg)
                if fh.tell() > size:
                    msg = "field runs past the end of the file"
                    raise ValueError(msg)
    except OSError as exc:
        raise ModelNotFoundError(path, f"cannot read model file ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelCorruptError(path, f"not a valid ONNX model file ({exc})") from None
    return props


def _metadata_from(path: Path, props: dict[str, str]) -> ModelMetadata:
    if not any(key.startswith(PREFIX) for key in props):
        raise ModelMetadataError(
            path, "the model carries no DermScreen metadata (threshold, preprocessing, ...)"
        )
    try:
        return ModelMetadata.from_props(props)
    except MetadataError as exc:
        raise ModelMetadataError(path, str(exc)) from None


def read_metadata(path: str | Path) -> ModelMetadata:
    """The model's :class:`ModelMetadata` without creating an inference session."""
    path = Path(path)
    return _metadata_from(path, read_metadata_props(path))


# --- sessions ---------------------------------------------------------------------


def _session_options(intra_op_threads: int | None, severity: int = _QUIET_SEVERITY) -> Any:
    opts = ort.SessionOptions()
    opts.log_severity_level = severity
    # Spinning worker threads burn a core between batches that the
    # preprocessing pool needs (measured: ~36 -> ~26 CPU ms per image).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if intra_op_threads is not None:
        if intra_op_threads < 1:
            msg = f"intra_op_threads must be at least 1, got {intra_op_threads}"
            raise ValueError(msg)
        opts.intra_op_num_threads = intra_op_threads
    return opts


# Set once CUDA failed in this process: later loads go straight to the CPU.
_cuda_state = {"failed": False}


def _try_cuda_session(path: Path, intra_op_threads: int | None) -> Any | None:
    """A session whose first provider really is CUDA, or None (silently)."""
    if _cuda_state["failed"] or CUDA not in ort.get_available_providers():
        return None
    # Missing CUDA libraries are logged at ERROR level; only FATAL is shown
    # while we try, then the usual level comes back.
    ort.set_default_logger_severity(_SILENT_SEVERITY)
    try:
        session = ort.InferenceSession(
            str(path),
            sess_options=_session_options(intra_op_threads, _SILENT_SEVERITY),
            providers=[CUDA, CPU],
        )
    except Exception:
        # A damaged file fails here too, so this is not proof CUDA is unusable;
        # the CPU attempt that follows reports what is wrong with the file.
        return None
    finally:
        ort.set_default_logger_severity(_QUIET_SEVERITY)
    if session.get_providers()[0] != CUDA:
        _cuda_state["failed"] = True
        return None
    return session


def _create_session(path: Path, prefer_gpu: bool, intra_op_threads: int | None) -> Any:
    """A session on CUDA when it really works, else on the CPU, without console noise."""
    opts = _session_options(intra_op_threads)
    if prefer_gpu:
        session = _try_cuda_session(path, intra_op_threads)
        if session is not None:
            return session
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=[CPU])
    except Exception as exc:  # ORT raises several unrelated types
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        raise ModelCorruptError(path, f"ONNX Runtime cannot load this model ({reason})") from None


def _dims(shape: Sequence[Any]) -> list[int | None]:
    """ORT shapes hold ints for fixed dims and str/None for dynamic ones."""
    return [d if isinstance(d, int) and d > 0 else None for d in shape]


def _dims_match(actual: Sequence[Any], expected: Sequence[int | None]) -> bool:
    got = _dims(actual)
    if len(got) != len(expected):
        return False
    return all(g is None or e is None or g == e for g, e in zip(got, expected, strict=True))


def check_signature(path: Path, session: Any, size: int,
                    extra_inputs: Mapping[str, int] | None = None) -> None:
    """Input ``image`` [N,size,size,3] (plus each declared extra input [N,side,side,3]) and
    outputs reconstruction/error_map/score, all float32; the optional outputs of a combined
    model (anomaly_score, probability, evidence_map) are checked where present."""
    declared = {INPUT_NAME: size, **(extra_inputs or {})}
    inputs = {i.name: i for i in session.get_inputs()}
    if set(inputs) != set(declared):
        if len(declared) == 1:
            reason = f"expected one input named {INPUT_NAME!r}, found {sorted(inputs)}"
        else:
            reason = (f"the metadata declares inputs {sorted(declared)}, the graph has "
                      f"{sorted(inputs)}")
        raise ModelShapeError(path, reason)
    for name, side in declared.items():
        inp = inputs[name]
        if inp.type != "tensor(float)":
            raise ModelShapeError(path, f"input {name!r} is {inp.type}, expected float32")
        if not _dims_match(inp.shape, [None, side, side, 3]):
            reason = (
                f"input {name!r} has shape {list(inp.shape)}, expected [N, {side}, {side}, 3] "
                "(preprocessing size in the metadata)"
            )
            raise ModelShapeError(path, reason)
    outputs = {o.name: o for o in session.get_outputs()}
    missing = [name for name in OUTPUT_NAMES if name not in outputs]
    if missing:
        reason = f"model lacks output(s) {missing}; found {sorted(outputs)}"
        raise ModelShapeError(path, reason)
    expected = {
        OUTPUT_RECONSTRUCTION: [None, size, size, 3],
        OUTPUT_ERROR_MAP: [None, size, size],
        OUTPUT_SCORE: [None],
        # Optional (a combined model's parts): checked only where the graph has them.
        OUTPUT_ANOMALY_SCORE: [None],
        OUTPUT_PROBABILITY: [None],
        OUTPUT_EVIDENCE_MAP: [None, size, size],
    }
    for name, dims in expected.items():
        if name not in outputs:
            continue
        out = outputs[name]
        if out.type != "tensor(float)":
            raise ModelShapeError(path, f"output {name!r} is {out.type}, expected float32")
        if not _dims_match(out.shape, dims):
            shown = ["N", *dims[1:]]
            reason = f"output {name!r} has shape {list(out.shape)}, expected {shown}"
            raise ModelShapeError(path, reason)


def load_model(
    path: str | Path, *, prefer_gpu: bool = True, intra_op_threads: int | None = None
) -> LoadedModel:
    """Open and check a model file; raises a ModelError subclass naming the reason.

    Order: the file exists -> its SHA-256 matches the sidecar (a mismatch is
    refused; no sidecar loads the model with ``verified=False``) -> ONNX Runtime
    loads it -> its metadata is loaded, migrated and validated -> its
    input/output names and shapes follow the contract.
    """
    path = Path(path)
    _check_readable(path)
    digest = _file_hash(path)
    verified = check_sidecar(path, digest)
    session = _create_session(path, prefer_gpu, intra_op_threads)
    props = dict(session.get_modelmeta().custom_metadata_map)
    metadata = _metadata_from(path, props)
    size = metadata.preprocess.size
    check_signature(path, session, size,
                    {name: cfg.size for name, cfg in metadata.extra_inputs.items()})
    provider = session.get_providers()[0]
    return LoadedModel(
        path=path,
        sha256=digest,
        metadata=metadata,
        provider=CUDA if provider == CUDA else CPU,
        input_size=size,
        session=session,
        verified=verified,
    )


def find_models(extra_dirs: Sequence[Path] = ()) -> list[Path]:
    """``*.onnx`` files in the bundled and user model folders (and ``extra_dirs``).

    Sorted by file name (case-folded) then folder, duplicates (same resolved
    file) removed. Missing folders are skipped.
    """
    found: dict[Path, Path] = {}
    for folder in (paths.bundled_models_dir(), paths.user_models_dir(), *map(Path, extra_dirs)):
        try:
            candidates = [p for p in folder.glob("*.onnx") if p.is_file()]
        except OSError:
            continue
        for candidate in candidates:
            found.setdefault(candidate.resolve(), candidate)
    return sorted(found.values(), key=lambda p: (p.name.lower(), str(p)))
