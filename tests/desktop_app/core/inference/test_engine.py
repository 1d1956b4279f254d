"""The streaming engine on real images with a real exported model and ONNX Runtime."""

from __future__ import annotations

import shutil
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.imaging.imageio import file_sha256
from desktop_app.core.imaging.preprocess import PreprocessConfig, preprocess_file
from desktop_app.core.inference.engine import Engine, Progress
from desktop_app.core.inference.results import redecide
from desktop_app.core.model.model_file import LoadedModel, load_model
from tests.support.data import make_bad_files


@pytest.fixture(scope="module")
def model(small_model_path: Path) -> LoadedModel:
    return load_model(small_model_path, prefer_gpu=False)


@pytest.fixture(scope="module")
def real_files(isic9_test_files: list[Path], fullres_files: list[Path]) -> list[Path]:
    # Every class of the Test split once, plus two full-resolution originals.
    by_class: dict[str, Path] = {}
    for f in isic9_test_files:
        by_class.setdefault(f.parent.name, f)
    return [*by_class.values(), *fullres_files[:2]]


def test_analyze_real_images(model: LoadedModel, real_files: list[Path]) -> None:
    engine = Engine(model, workers=2, batch_size=4)
    seen: list[Progress] = []
    results = list(engine.analyze(real_files, progress=seen.append))
    assert sorted(r.index for r in results) == list(range(len(real_files)))
    stats = model.metadata.benign_stats
    for r in results:
        assert r.status == "ok", r.error
        assert r.path == real_files[r.index]
        assert r.error == "" and r.error_code == ""
        assert np.isfinite(r.score) and r.score >= 0
        assert r.threshold == pytest.approx(model.metadata.threshold)
        assert r.decision == ("anomalous" if r.score > r.threshold else "normal")
        assert r.z == pytest.approx(float(stats.z(r.score)))
        assert r.percentile == pytest.approx(float(stats.percentile(r.score)))
        assert 0.0 <= r.percentile <= 100.0
        assert r.image_sha256 == file_sha256(r.path)
        assert (r.model_name, r.model_version) == (model.metadata.model_name,
                                                   model.metadata.model_version)
        assert r.model_sha256 == model.sha256 and r.provider == model.provider_label == "CPU"
        assert r.seconds > 0
        assert datetime.fromisoformat(r.analysed_at).utcoffset().total_seconds() == 0
    assert seen[0].done == 0 and seen[-1].done == seen[-1].total == len(real_files)
    assert [p.done for p in seen] == list(range(len(real_files) + 1))
    assert seen[-1].errors == 0 and seen[-1].eta_s == 0


def test_batched_scores_equal_single_image_scores(model: LoadedModel, real_files: list[Path]) -> None:
    results = Engine(model, workers=2, batch_size=8).analyze_all(real_files)
    for r in results[:3] + results[-2:]:
        x = preprocess_file(r.path, model.metadata.preprocess)
        alone = float(model.run(x[None])["score"][0])
        assert r.score == pytest.approx(alone, rel=1e-5, abs=1e-7)


def test_folders_and_recursion(model: LoadedModel, real_files: list[Path], tmp_path: Path) -> None:
    top = tmp_path / "clinic"
    (top / "visit 2").mkdir(parents=True)
    shutil.copy(real_files[0], top / "a.jpg")
    shutil.copy(real_files[1], top / "visit 2" / "b.jpg")
    (top / "readme.txt").write_text("not an image", encoding="utf-8")
    engine = Engine(model, workers=1, batch_size=2)
    flat = engine.analyze_all([top])
    deep = engine.analyze_all([top], recursive=True)
    assert [r.path.name for r in flat] == ["a.jpg"]
    assert sorted(r.path.name for r in deep) == ["a.jpg", "b.jpg"]
    assert all(r.ok for r in deep)


def test_bad_files_become_error_rows(model: LoadedModel, real_files: list[Path], tmp_path: Path) -> None:
    cases = make_bad_files(tmp_path / "bad")
    # The folder of bad files is listed like a clinician's folder (its GIF included: an
    # unsupported image format gets a row saying so); a named file is kept whatever its
    # suffix, so the missing file gets a row too.
    inputs = [real_files[0], tmp_path / "bad", tmp_path / "missing.jpg", real_files[1]]
    results = Engine(model, workers=2, batch_size=4).analyze_all(inputs)
    # + missing and the two real files; the folder named folder.jpg is a folder, no row.
    assert len(results) == len(cases) - 1 + 3
    codes = {r.path.name: r.error_code for r in results}
    assert codes == {
        real_files[0].name: "",
        "empty.jpg": "empty_file",
        "truncated.jpg": "truncated",
        "notes.jpg": "not_an_image",
        "lesion.gif": "unsupported_format",
        "bomb.png": "too_large",
        "missing.jpg": "unreadable",
        real_files[1].name: "",
    }
    for r in results:
        if r.error_code:
            assert r.status == "error" and r.error and r.score is None and r.decision == ""
            assert r.z is None and r.percentile is None
        else:
            assert r.status == "ok" and r.score is not None
    truncated = next(r for r in results if r.error_code == "truncated")
    assert truncated.image_sha256 == file_sha256(cases["truncated"])
    assert "megapixel" in next(r for r in results if r.error_code == "too_large").error


def test_file_vanishing_mid_batch(model: LoadedModel, isic9_test_files: list[Path],
                                  tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    for i, src in enumerate(isic9_test_files[:6]):
        shutil.copy(src, folder / f"img{i}.jpg")
    victim = folder / "img5.jpg"

    def on_progress(p: Progress) -> None:
        if p.done == 1:
            victim.unlink()  # listed, not yet read: the window is 2 files wide

    results = Engine(model, workers=1, batch_size=1).analyze_all([folder], progress=on_progress)
    assert len(results) == 6
    assert [r.status for r in results] == ["ok"] * 5 + ["error"]
    assert results[5].error_code == "unreadable" and "not found" in results[5].error


def test_cancel_keeps_partial_results(model: LoadedModel, isic9_test_files: list[Path]) -> None:
    cancel = threading.Event()
    files = isic9_test_files[:40]

    def on_progress(p: Progress) -> None:
        if p.done >= 3:
            cancel.set()

    got = list(Engine(model, workers=2, batch_size=2).analyze(files, progress=on_progress,
                                                               cancel=cancel))
    assert len(got) == 3
    assert all(r.ok for r in got) and len({r.index for r in got}) == 3
    # A cancel set before starting yields nothing and raises nothing.
    cancel2 = threading.Event()
    cancel2.set()
    assert list(Engine(model).analyze(files, cancel=cancel2)) == []


def test_threshold_override_and_redecide(model: LoadedModel, real_files: list[Path]) -> None:
    engine = Engine(model, workers=2)
    stats = model.metadata.benign_stats
    base = engine.analyze_all(real_files)
    scores = sorted(r.score for r in base)
    mid = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2
    direct = engine.analyze_all(real_files, threshold=mid)
    redone = [redecide(r, stats, mid) for r in base]
    assert [r.decision for r in redone] == [r.decision for r in direct]
    assert {r.decision for r in redone} == {"anomalous", "normal"}
    assert [r.score for r in redone] == [r.score for r in base]


def test_explain_gives_case_images(model: LoadedModel, real_files: list[Path]) -> None:
    engine = Engine(model)
    size = model.input_size
    full = real_files[-1]
    case = engine.explain(full)
    assert max(case.original.shape[:2]) <= 1024 and case.original.dtype == np.uint8
    assert case.original.shape[2] == 3
    assert case.model_input.shape == (size, size, 3) and case.model_input.dtype == np.float32
    assert np.array_equal(case.model_input, preprocess_file(full, model.metadata.preprocess))
    assert case.reconstruction.shape == (size, size, 3)
    assert case.error_map.shape == (size, size) and np.all(case.error_map >= -1e-4)
    scored = engine.analyze_all([full])[0]
    assert case.score == pytest.approx(scored.score, rel=1e-5, abs=1e-7)


def test_engine_settings(model: LoadedModel) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        Engine(model, batch_size=0)
    from desktop_app.core.inference.engine import usable_cores

    cores = usable_cores()
    engine = Engine(model, workers=3, batch_size=8)
    assert engine.workers == min(3, cores)
    # Capped at the core count (each worker holds one decoded original).
    assert Engine(model, workers=1000).workers == cores
    assert Engine(model, workers=-3).workers == 1
    # The in-flight window keeps every worker busy during a batch yet stays small.
    assert engine.batch_size + engine.workers <= engine.window <= 4 * engine.batch_size
    assert engine.default_threshold == model.metadata.threshold
    assert engine.model_info()["model_sha256"] == model.sha256


def test_model_lanes_share_every_core_and_stay_bounded() -> None:
    from desktop_app.core.inference.engine import inference_threads, model_lanes

    assert [model_lanes(n) for n in (1, 2, 4, 16)] == [1, 2, 2, 2]
    assert [inference_threads(n) for n in (1, 2, 4, 16)] == [1, 1, 2, 8]
    # The lanes together use every core (and never more threads than cores).
    for n in (1, 2, 3, 4, 7, 16):
        assert model_lanes(n) * inference_threads(n) <= n <= model_lanes(n) * (inference_threads(n) + 1)
    assert inference_threads() >= 1


# --- hostile inputs and a stuck worker (the shipped reference model) ---------------


@pytest.fixture(scope="module")
def reference() -> LoadedModel:
    from tests.desktop_app.core.contract_model import REFERENCE_MODEL

    return load_model(REFERENCE_MODEL, prefer_gpu=False)


def test_non_regular_files_get_error_rows_and_the_batch_goes_on(
    reference: LoadedModel, isic9_test_files: list[Path], tmp_path: Path
) -> None:
    import os
    import socket

    folder = tmp_path / "clinic"
    folder.mkdir()
    shutil.copy(isic9_test_files[0], folder / "a.jpg")
    os.mkfifo(folder / "b-pipe.jpg")
    (folder / "c-zero.jpg").symlink_to("/dev/zero")
    (folder / "d-dir.jpg").mkdir()  # a folder: no row (it is searched only when recursive)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "e-sock.jpg"))
    shutil.copy(isic9_test_files[1], folder / "f.jpg")
    try:
        results = Engine(reference, workers=2, batch_size=2).analyze_all([folder])
    finally:
        sock.close()
    by_name = {r.path.name: r for r in results}
    assert [r.path.name for r in results] == sorted(by_name)
    assert by_name["a.jpg"].ok and by_name["f.jpg"].ok
    assert "d-dir.jpg" not in by_name
    for name in ("b-pipe.jpg", "c-zero.jpg", "e-sock.jpg"):
        r = by_name[name]
        assert r.status == "error" and r.error_code == "unreadable"
        assert "not a regular file" in r.error and r.image_sha256 == ""
    assert all(r.model_verified for r in results)  # the shipped model has its sidecar


def test_cancel_does_not_wait_for_a_stuck_worker(
    reference: LoadedModel, isic9_test_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker blocked in a read (a dead network share) must not hold up cancel or exit."""
    from desktop_app.core.inference import engine as engine_module

    files = isic9_test_files[:12]
    victim = files[5]
    release = threading.Event()
    stuck = threading.Event()
    unstuck = threading.Event()
    real = engine_module.prepare_file

    def prepare(index: int, path: Path, cfg: PreprocessConfig, *rest: object) -> object:
        if path == victim:
            stuck.set()
            release.wait(60)  # stands in for a read that never returns
            unstuck.set()
        return real(index, path, cfg, *rest)

    monkeypatch.setattr(engine_module, "prepare_file", prepare)
    cancel = threading.Event()
    got = []

    def on_progress(p: Progress) -> None:
        if stuck.is_set() and p.done >= 3:
            cancel.set()

    try:
        for r in Engine(reference, workers=2, batch_size=1).analyze(files, progress=on_progress,
                                                                   cancel=cancel):
            got.append(r)
        # The generator has returned (its pool shut down) while the worker is still stuck;
        # a pool that joined its threads would only get here after the 60 s wait ended.
        assert stuck.is_set() and not unstuck.is_set()
        assert cancel.is_set() and 3 <= len(got) < len(files)
        assert victim not in {r.path for r in got}
        assert all(r.ok for r in got)
    finally:
        release.set()


def test_error_rows_keep_the_hash_of_the_bytes_read(
    reference: LoadedModel, tmp_path: Path, isic9_test_files: list[Path]
) -> None:
    import hashlib

    import numpy as np
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(blank)
    results = Engine(reference, workers=1).analyze_all([blank, isic9_test_files[0]])
    assert results[0].error_code == "blank_image" and "blank" in results[0].error
    assert results[0].image_sha256 == hashlib.sha256(blank.read_bytes()).hexdigest()
    assert results[1].ok and results[1].image_sha256 == file_sha256(isic9_test_files[0])


def test_explain_checks_the_hash_on_the_bytes_it_decodes(
    reference: LoadedModel, tmp_path: Path, isic9_test_files: list[Path]
) -> None:
    from desktop_app.core.base.errors import ImageChangedError

    path = tmp_path / "case.jpg"
    shutil.copy(isic9_test_files[0], path)
    scored = Engine(reference, workers=1).analyze_all([path])[0]
    case = Engine(reference).explain(path, expected_sha256=scored.image_sha256)
    assert case.sha256 == scored.image_sha256
    assert case.score == pytest.approx(scored.score, rel=1e-5, abs=1e-7)
    shutil.copy(isic9_test_files[1], path)  # replaced after the batch
    with pytest.raises(ImageChangedError, match="changed since it was analysed"):
        Engine(reference).explain(path, expected_sha256=scored.image_sha256)
