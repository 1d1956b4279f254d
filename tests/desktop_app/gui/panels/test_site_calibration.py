"""Model > Calibrate to This Site in the real window, on real images with the shipped cae2 model:
the profile is made on a worker thread, the panel says what it promises, the drift banner fires
on the uda1 full-resolution originals and stays hidden on isic9 Test images."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app.core.base.paths import bundled_models_dir
from desktop_app.core.evaluation.splits import DEV_EVAL, read_split
from desktop_app.core.site.site_profile import list_profiles
from desktop_app.gui.shell.main_window import MainWindow
from desktop_app.reports.csv_report import read_results_csv
from tests.desktop_app.gui.conftest import ScriptedPaths, wait_batch, wait_for, wait_signal
from tests.support.data import DATA

CAE2 = bundled_models_dir() / "dermscreen-cae2.onnx"


@pytest.fixture
def benign_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "Clinic benign"
    folder.mkdir()
    for e in [e for e in read_split(DEV_EVAL) if e.cls == "nevus"][:36]:
        (folder / Path(e.rel_path).name).symlink_to(DATA / e.rel_path)
    return folder


@pytest.fixture
def make_window(qtbot: object, scripted_paths: ScriptedPaths) -> Callable[..., MainWindow]:
    """A shown window on a shipped model (no small model to train), its model loaded."""

    def make(model_path: Path = CAE2) -> MainWindow:
        window = MainWindow(model_path, path_provider=scripted_paths)
        qtbot.addWidget(window)  # type: ignore[attr-defined]
        window.show()
        wait_for(qtbot, lambda: window.engine is not None or bool(window.model_error),
                 "the model to load")
        return window

    return make


def _menu_texts(window: MainWindow) -> list[str]:
    menu = window.model_menu
    menu.aboutToShow.emit()  # the menu fills itself when opened
    texts = [a.text() for a in menu.actions()]
    for action in menu.actions():
        if action.menu() is not None:
            texts += [f"> {a.text()}" for a in action.menu().actions()]
    return texts


def test_calibrate_then_drift_banner(qtbot: object, make_window: Callable[..., MainWindow],
                                     scripted_paths: ScriptedPaths, benign_folder: Path,
                                     fullres_files: list[Path], isic9_test_files: list[Path],
                                     tmp_path: Path) -> None:
    window = make_window(CAE2)
    assert window.engine is not None
    default = window.threshold
    assert "&Calibrate to This Site…" in _menu_texts(window)

    scripted_paths.folder = str(benign_folder)
    asked: list[str] = []
    window.site.ask_name = lambda default_name: asked.append(default_name) or "Clinic A"
    main_thread = threading.get_ident()
    with wait_signal(qtbot, window.site.calibrated, "the calibration"):
        window.calibrate_site_action.trigger()
        # The action returned before the work was done: the GUI thread does not score.
        assert window.site.running and threading.get_ident() == main_thread
    assert asked == ["Clinic benign"]
    [(_, profile)] = list_profiles()
    assert profile.name == "Clinic A" and profile.n == 36 and profile.model_sha256 == \
        window.model.sha256
    assert window.threshold == pytest.approx(profile.threshold) != default
    panel = window.operating_point
    assert panel.site_label.isVisible()
    text = panel.site_label.text()
    assert "Site profile Clinic A (n 36" in text and profile.date in text
    assert "Expected specificity" in text and "95% CI" in text
    assert "ESTIMATED" in text and "not measured at this site" in text
    assert "site profile's point" in panel.state_label.text()
    assert any(t.startswith("> Clinic A (n 36") for t in _menu_texts(window))

    # The uda1 originals (767x576 to 3872x2592 photographs) are unlike the training crops.
    window.open_paths([str(p) for p in fullres_files])
    wait_batch(qtbot, window)
    banner = window.site.banner
    wait_for(qtbot, banner.isVisible, "the drift banner")
    assert "out of range" in banner.text and "Calibrate to This Site" in banner.text
    assert banner.action_button.isVisible() and "Calibrate" in banner.action_button.text()
    assert all(r.threshold == pytest.approx(profile.threshold)
               for r in window.session.results.in_input_order() if r.ok)

    scripted_paths.save[".csv"] = str(tmp_path / "results.csv")
    with wait_signal(qtbot, window.export_finished, "the CSV export"):
        assert window.exporter.export_csv()
    rows = read_results_csv(tmp_path / "results.csv")
    assert {r["site_profile"] for r in rows} == {profile.label()}
    assert {r["batch_drift"] for r in rows} == {"out of range"}

    # Back at the model's own point, isic9 Test (118 images, 54% cancers) is in range.
    window.site.apply(None)
    assert not panel.site_label.isVisible() and window.threshold == pytest.approx(default)
    window.open_paths([str(p) for p in isic9_test_files])
    wait_batch(qtbot, window)
    assert window.site.drift is not None and window.site.drift.status == "in range"
    assert window.site.drift.n_scored == 118
    assert not banner.isVisible()


def test_profile_is_remembered_per_model(qtbot: object, make_window: Callable[..., MainWindow],
                                         scripted_paths: ScriptedPaths,
                                         benign_folder: Path) -> None:
    window = make_window(CAE2)
    window.site.ask_name = lambda _d: "Clinic B"
    with wait_signal(qtbot, window.site.calibrated, "the calibration"):
        assert window.site.calibrate_folder(benign_folder, "Clinic B")
    threshold = window.threshold
    window.close()
    again = make_window(CAE2)
    assert again.site.profile is not None and again.site.profile.name == "Clinic B"
    assert again.threshold == pytest.approx(threshold)
    # Another model never decides at this model's profile.
    other = make_window(bundled_models_dir() / "dermscreen-reference.onnx")
    assert other.site.profile is None and not other.operating_point.site_label.isVisible()


def test_too_few_images_says_why(qtbot: object, make_window: Callable[..., MainWindow],
                                 tmp_path: Path, isic9_test_files: list[Path]) -> None:
    window = make_window(CAE2)
    folder = tmp_path / "few"
    folder.mkdir()
    for f in isic9_test_files[:5]:
        (folder / f.name).symlink_to(f)
    with wait_signal(qtbot, window.site.calibration_failed, "the calibration to fail"):
        assert window.site.calibrate_folder(folder, "Tiny")
    assert "at least 30" in window.message_bar.text and list_profiles() == []
    assert window.site.profile is None
