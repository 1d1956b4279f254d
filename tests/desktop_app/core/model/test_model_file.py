"""The model loader: a real exported model, and every way a model file can be wrong."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from desktop_app.core.base.errors import (
    ModelCorruptError,
    ModelError,
    ModelHashMismatchError,
    ModelMetadataError,
    ModelNotFoundError,
    ModelShapeError,
)
from desktop_app.core.base.paths import sidecar_path
from desktop_app.core.imaging.preprocess import preprocess_file
from desktop_app.core.model import model_file
from desktop_app.core.model.metadata import OUTPUT_NAMES, PREFIX
from desktop_app.core.model.model_file import (
    LoadedModel,
    find_models,
    load_model,
    read_metadata,
    read_metadata_props,
)
from tests.desktop_app.core.contract_model import (
    REFERENCE_MODEL,
    contract_graph,
    reference_props,
    save_contract_model,
)

REPO = Path(__file__).resolve().parents[4]


def _copy_model(src: Path, folder: Path, name: str = "model.onnx", sidecar: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / name
    dst.write_bytes(src.read_bytes())
    if sidecar:
        digest = hashlib.sha256(dst.read_bytes()).hexdigest()
        sidecar_path(dst).write_text(f"{digest}  {name}\n", encoding="utf-8")
    return dst


@pytest.fixture(scope="module")
def small_props(small_model_path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(small_model_path)).metadata_props}


# --- the real exported model -------------------------------------------------------


def test_loads_the_exported_model_with_its_metadata(small_model_path: Path) -> None:
    model = load_model(small_model_path)
    assert isinstance(model, LoadedModel)
    assert model.path == small_model_path
    assert model.sha256 == hashlib.sha256(small_model_path.read_bytes()).hexdigest()
    assert model.short_sha == model.sha256[:12]
    assert model.display_name == "DermScreen test CAE 0.0.1"
    assert model.input_size == model.metadata.preprocess.size == 128
    assert model.metadata.threshold == pytest.approx(model.metadata.benign_stats.threshold())
    # What really runs, never what the build merely lists.
    assert model.provider == model.session.get_providers()[0]
    assert model.provider_label == ("CUDA" if model.provider.startswith("CUDA") else "CPU")


def test_run_scores_real_images_in_any_batch_size(small_model_path: Path, isic9_test_files) -> None:
    model = load_model(small_model_path, prefer_gpu=False, intra_op_threads=1)
    assert model.provider == "CPUExecutionProvider"
    cfg = model.metadata.preprocess
    batch = np.stack([preprocess_file(f, cfg) for f in isic9_test_files[:5]])
    out = model.run(batch, outputs=OUTPUT_NAMES)
    assert out["reconstruction"].shape == (5, 128, 128, 3)
    assert out["error_map"].shape == (5, 128, 128)
    assert out["score"].shape == (5,)
    assert np.all(np.isfinite(out["score"])) and np.all(out["score"] > 0)
    # One image alone scores as it does inside a batch.
    single = model.run(batch[2])["score"]
    assert single.shape == (1,)
    assert single[0] == pytest.approx(out["score"][2], abs=1e-6)
    # The score is the mean of the same terms the heatmap shows, so they move together.
    assert np.argmax(out["score"]) == np.argmax(out["error_map"].mean(axis=(1, 2)))


def test_a_terminated_run_options_ends_the_run(small_model_path: Path) -> None:
    # How a stopped batch leaves ONNX Runtime at once instead of being torn down inside it
    # at process exit (SIGABRT): runs sharing the RunOptions end when its flag is set.
    model = load_model(small_model_path, prefer_gpu=False, intra_op_threads=1)
    batch = np.zeros((2, 128, 128, 3), np.float32)
    options = model.run_options()
    assert model.run(batch, run_options=options)["score"].shape == (2,)
    options.terminate = True
    with pytest.raises(Exception, match=r"(?i)terminat"):
        model.run(batch, run_options=options)
    assert model.run(batch)["score"].shape == (2,)  # the session itself stays usable


def test_run_refuses_a_wrong_batch(small_model_path: Path) -> None:
    model = load_model(small_model_path, prefer_gpu=False)
    with pytest.raises(ValueError, match=r"\[N, 128, 128, 3\]"):
        model.run(np.zeros((2, 64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="unknown output"):
        model.run(np.zeros((1, 128, 128, 3), np.float32), outputs=("logits",))


def test_read_metadata_matches_the_session_without_onnx(
    small_model_path: Path, small_props: dict[str, str]
) -> None:
    raw = read_metadata_props(small_model_path)
    session = ort.InferenceSession(str(small_model_path), providers=["CPUExecutionProvider"])
    assert raw == small_props == dict(session.get_modelmeta().custom_metadata_map)
    assert read_metadata(small_model_path) == load_model(small_model_path).metadata


def test_loader_needs_neither_tensorflow_nor_onnx_and_is_quiet(small_model_path: Path) -> None:
    """In a fresh process (as the app starts): no TF, no onnx package, no CUDA noise."""
    code = (
        "import sys\n"
        "from desktop_app.core.model.model_file import load_model\n"
        f"m = load_model({str(small_model_path)!r})\n"
        "print(m.provider, m.provider_label)\n"
        "print(sorted(k for k in ('tensorflow', 'onnx', 'keras', 'training') if k in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    provider, label = lines[0].split()
    assert provider in ("CUDAExecutionProvider", "CPUExecutionProvider")
    assert label == provider.removesuffix("ExecutionProvider")
    assert lines[1] == "[]"
    if provider == "CPUExecutionProvider":
        # onnxruntime-gpu on a machine without CUDA logs a library error unless quieted.
        assert "cuda" not in proc.stderr.lower(), proc.stderr
        assert "error" not in proc.stderr.lower(), proc.stderr


# --- files that must be refused ----------------------------------------------------


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not found") as info:
        load_model(tmp_path / "absent.onnx")
    assert str(tmp_path / "absent.onnx") in str(info.value)
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(ModelNotFoundError, match="not a regular file"):
        load_model(tmp_path / "folder.onnx")
    with pytest.raises(ModelNotFoundError):
        read_metadata(tmp_path / "absent.onnx")


@pytest.mark.parametrize(
    "content",
    [b"", b"this is a text file, not a model\n" * 20, "random", "truncated"],
    ids=["empty", "text", "random", "truncated"],
)
def test_corrupt_bytes(content: bytes | str, small_model_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.onnx"
    if content == "random":
        content = np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    elif content == "truncated":
        data = small_model_path.read_bytes()
        content = data[: len(data) // 2]
    path.write_bytes(content)
    with pytest.raises(ModelCorruptError) as info:
        load_model(path)
    assert info.value.path == str(path)
    # The session-free metadata reader fails cleanly as well (typed, never a crash).
    with pytest.raises(ModelError):
        read_metadata(path)


def test_wrong_hash_sidecar(small_model_path: Path, tmp_path: Path) -> None:
    path = _copy_model(small_model_path, tmp_path)
    assert load_model(path).sha256 in sidecar_path(path).read_text()
    sidecar_path(path).write_text("0" * 64 + "  model.onnx\n", encoding="utf-8")
    with pytest.raises(ModelHashMismatchError, match="does not match"):
        load_model(path)
    sidecar_path(path).write_text("not a digest\n", encoding="utf-8")
    with pytest.raises(ModelHashMismatchError, match="no SHA-256"):
        load_model(path)


def test_changed_bytes_fail_the_hash_before_anything_else(
    small_model_path: Path, tmp_path: Path
) -> None:
    path = _copy_model(small_model_path, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the weights
    path.write_bytes(bytes(data))
    with pytest.raises(ModelHashMismatchError):
        load_model(path)
    sidecar_path(path).unlink()  # without a sidecar there is nothing to compare with
    assert load_model(path).sha256 == hashlib.sha256(bytes(data)).hexdigest()


def test_model_without_metadata(small_model_path: Path, tmp_path: Path) -> None:
    proto = onnx.load(str(small_model_path))
    del proto.metadata_props[:]
    path = tmp_path / "bare.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(ModelMetadataError, match="no DermScreen metadata"):
        load_model(path)
    with pytest.raises(ModelMetadataError):
        read_metadata(path)


@pytest.mark.parametrize("drop", ["threshold", "preprocess", "benign_stats"])
def test_metadata_missing_a_required_key(
    drop: str, small_props: dict[str, str], tmp_path: Path
) -> None:
    props = {k: v for k, v in small_props.items() if k != PREFIX + drop}
    path = tmp_path / "partial.onnx"
    onnx.save(contract_graph(props), str(path))
    with pytest.raises(ModelMetadataError, match=PREFIX + drop):
        load_model(path)


def test_metadata_that_does_not_parse(small_props: dict[str, str], tmp_path: Path) -> None:
    props = dict(small_props)
    props[PREFIX + "benign_stats"] = "{not json"
    path = tmp_path / "garbled.onnx"
    onnx.save(contract_graph(props), str(path))
    with pytest.raises(ModelMetadataError, match="not valid JSON"):
        load_model(path)
    props = dict(small_props)
    props[PREFIX + "format_version"] = "99"
    onnx.save(contract_graph(props), str(path))
    with pytest.raises(ModelMetadataError, match="newer"):
        load_model(path)


def test_hand_built_contract_graph_loads(small_props: dict[str, str], tmp_path: Path) -> None:
    """The builder used below is right when its shapes are right (control case)."""
    path = tmp_path / "ok.onnx"
    onnx.save(contract_graph(small_props), str(path))
    model = load_model(path, prefer_gpu=False)
    out = model.run(np.full((2, 128, 128, 3), 0.5, np.float32), OUTPUT_NAMES)
    assert out["score"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 64}, r"expected \[N, 128, 128, 3\]"),
        ({"input_name": "input_1"}, "one input named 'image'"),
        ({"outputs": ("reconstruction", "error_map")}, "lacks output"),
    ],
    ids=["input-size", "input-name", "missing-score"],
)
def test_wrong_signature(
    kwargs: dict, match: str, small_props: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "wrong.onnx"
    onnx.save(contract_graph(small_props, **kwargs), str(path))
    with pytest.raises(ModelShapeError, match=match):
        load_model(path)


def test_metadata_size_must_match_the_graph(small_props: dict[str, str], tmp_path: Path) -> None:
    props = dict(small_props)
    pre = json.loads(props[PREFIX + "preprocess"])
    pre["size"] = 96
    props[PREFIX + "preprocess"] = json.dumps(pre)
    path = tmp_path / "mismatch.onnx"
    onnx.save(contract_graph(props, size=128), str(path))
    with pytest.raises(ModelShapeError, match="96"):
        load_model(path)


def test_bad_thread_count(small_model_path: Path) -> None:
    with pytest.raises(ValueError, match="intra_op_threads"):
        load_model(small_model_path, intra_op_threads=0)


# --- finding models ----------------------------------------------------------------


def test_find_models(
    small_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_user_home
) -> None:
    resources = tmp_path / "resources"
    monkeypatch.setenv("DERMSCREEN_RESOURCES", str(resources))
    bundled = _copy_model(small_model_path, resources / "models", "b-reference.onnx")
    user = _copy_model(small_model_path, isolated_user_home / "models", "A-mine.onnx")
    (isolated_user_home / "models" / "notes.txt").write_text("not a model", encoding="utf-8")
    extra_dir = tmp_path / "extra"
    extra = _copy_model(small_model_path, extra_dir, "c-extra.onnx", sidecar=False)
    # The user folder named again as an extra folder must not list its model twice.
    found = find_models([extra_dir, isolated_user_home / "models", tmp_path / "missing"])
    assert found == [user, bundled, extra]
    assert find_models() == [user, bundled]
    assert model_file.paths.user_models_dir() == isolated_user_home / "models"


# --- hostile metadata and unverified files (reference model's metadata, contract graph) ----


def _with(props: dict[str, str], key: str, value: str) -> dict[str, str]:
    return {**props, PREFIX + key: value}


def _with_json(props: dict[str, str], key: str, field: str, value: object) -> dict[str, str]:
    data = json.loads(props[PREFIX + key])
    data[field] = value
    return {**props, PREFIX + key: json.dumps(data)}


def test_reference_metadata_on_the_contract_graph_loads_verified(tmp_path: Path) -> None:
    """Control case for the refusals below: the shipped metadata is valid, the sidecar matches."""
    model = load_model(save_contract_model(tmp_path / "ok.onnx", reference_props()), prefer_gpu=False)
    assert model.verified and model.verification_label == "verified"
    assert model.metadata == read_metadata(REFERENCE_MODEL)
    bundled = load_model(REFERENCE_MODEL, prefer_gpu=False)
    assert bundled.verified  # the shipped model carries its sidecar


HOSTILE_METADATA = {
    "threshold-nan": (("threshold", "nan"), "threshold must be a finite number above 0"),
    "threshold-inf": (("threshold", "inf"), "threshold must be a finite number above 0"),
    "threshold-negative": (("threshold", "-1"), "threshold must be a finite number above 0"),
    "sd-zero": (("benign_stats", "sd", 0.0), "benign sd must be a finite number above 0"),
    "sd-negative": (("benign_stats", "sd", -0.5), "benign sd must be a finite number above 0"),
    "mean-nan": (("benign_stats", "mean", float("nan")), "benign mean must be finite"),
    "max-pixels-1": (("preprocess", "max_pixels", 1), "max_pixels must be a whole number"),
    "hair-ref-side-0": (("preprocess", "hair_ref_side", 0), "hair_ref_side must be a whole number"),
    "preprocess-version-2": (("preprocess", "version", 2), "preprocessing version 2"),
    "inpaint-radius-huge": (("preprocess", "inpaint_radius", 1e6), "inpaint_radius must be"),
    "heatmap-vmax-nan": (("heatmap_vmax", "nan"), "heatmap_vmax must be a finite number above 0"),
    "heatmap-vmax-negative": (("heatmap_vmax", "-0.3"), "heatmap_vmax must be a finite number"),
    "format-version-negative": (("format_version", "-7"), "format version -7 is not supported"),
    "format-version-text": (("format_version", "one"), "not a whole number"),
    "model-name-2mb": (("model_name", "A" * 2_000_000), "at most 1,000,000"),
    "model-name-long": (("model_name", "A" * 201), "model_name is 201 characters long; at most 200"),
    "model-name-blank": (("model_name", "\x1b\x07 \n\t"), "model_name is empty"),
    "ssim-sigma-inf": (("ssim_window", "sigma", float("inf")), "SSIM window sigma"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_METADATA))
def test_hostile_metadata_is_refused_with_its_reason(case: str, tmp_path: Path) -> None:
    change, reason = HOSTILE_METADATA[case]
    props = reference_props()
    if len(change) == 2:
        props = _with(props, *change)
    elif change[0] == "ssim_window":
        props = _with(props, "ssim_window", json.dumps({"sigma": change[2], "border": "valid"}))
    else:
        props = _with_json(props, *change)
    path = save_contract_model(tmp_path / f"{case}.onnx", props)
    with pytest.raises(ModelMetadataError) as info:
        load_model(path, prefer_gpu=False)
    assert reason in str(info.value)
    assert str(path) in str(info.value)
    with pytest.raises(ModelMetadataError):
        read_metadata(path)  # the session-free reader applies the same rules


def test_model_pixel_limit_tightens_never_loosens(tmp_path: Path) -> None:
    from desktop_app.core.imaging.imageio import DEFAULT_MAX_PIXELS
    from desktop_app.core.imaging.preprocess import effective_max_pixels

    loose = _with_json(reference_props(), "preprocess", "max_pixels", 10**12)
    model = load_model(save_contract_model(tmp_path / "loose.onnx", loose), prefer_gpu=False)
    assert effective_max_pixels(model.metadata.preprocess) == DEFAULT_MAX_PIXELS
    tight = _with_json(reference_props(), "preprocess", "max_pixels", 2_000_000)
    model = load_model(save_contract_model(tmp_path / "tight.onnx", tight), prefer_gpu=False)
    assert effective_max_pixels(model.metadata.preprocess) == 2_000_000


def test_control_characters_are_stripped_from_text_fields(tmp_path: Path) -> None:
    props = _with(reference_props(), "model_name", "\x1b[31mEvil\x1b[0m\r\nCAE\u202e")
    props = _with(props, "model_version", "1.0\x07")
    model = load_model(save_contract_model(tmp_path / "ansi.onnx", props), prefer_gpu=False)
    assert model.metadata.model_name == "[31mEvil[0mCAE"
    assert model.metadata.model_version == "1.0"
    assert "\x1b" not in model.display_name


def test_unsorted_benign_scores_are_sorted(tmp_path: Path) -> None:
    props = reference_props()
    stats = json.loads(props[PREFIX + "benign_stats"])
    stats["scores"] = list(reversed(stats["scores"]))
    props = _with(props, "benign_stats", json.dumps(stats))
    model = load_model(save_contract_model(tmp_path / "rev.onnx", props), prefer_gpu=False)
    scores = model.metadata.benign_stats.scores
    assert list(scores) == sorted(scores)
    assert model.metadata.benign_stats == read_metadata(REFERENCE_MODEL).benign_stats


def test_a_model_without_sidecar_loads_unverified(tmp_path: Path) -> None:
    path = save_contract_model(tmp_path / "bare.onnx", reference_props(), sidecar=False)
    model = load_model(path, prefer_gpu=False)
    assert model.verified is False
    assert model.verification_label == "unverified model"
    # One changed byte with the old sidecar still present: refused.
    good = save_contract_model(tmp_path / "signed.onnx", reference_props())
    data = bytearray(good.read_bytes())
    data[-1] ^= 0x01
    good.write_bytes(bytes(data))
    with pytest.raises(ModelHashMismatchError, match="does not match"):
        load_model(good, prefer_gpu=False)


def test_a_fifo_sidecar_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    path = save_contract_model(tmp_path / "m.onnx", reference_props(), sidecar=False)
    os.mkfifo(sidecar_path(path))
    with pytest.raises(ModelHashMismatchError, match="not a regular file"):
        load_model(path, prefer_gpu=False)


def test_a_huge_metadata_entry_is_not_read_into_memory(tmp_path: Path) -> None:
    props = _with(reference_props(), "description", "D" * 5_000_000)
    path = save_contract_model(tmp_path / "huge.onnx", props)
    with pytest.raises(ModelMetadataError, match="a metadata entry is 5,000,"):
        read_metadata(path)
    with pytest.raises(ModelMetadataError, match="at most 1,000,000"):
        load_model(path, prefer_gpu=False)
