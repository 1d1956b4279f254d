"""Model > Calibrate to This Site in the real window, on real images with the shipped default
(combined) model: the dialog asks for known-benign images of this site and who calibrates, the
profile records its author, a new point is not applied to an open batch from another folder
without asking (naming both), the panel gives one figure for one thing, Reset to default redoes
the drift banner at once, and the banner speaks to a clinician: silent on the uda1 full-resolution
originals and on small folders, firing on a new site's batch (uda1-external)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QDialogButtonBox

from desktop_app.core.base.paths import bundled_models_dir
from desktop_app.core.evaluation.splits import DEV_EVAL, UDA1_EXTERNAL, read_split
from desktop_app.core.site.site_profile import list_profiles
from desktop_app.gui.panels.operating_point import SITE_ITEM_PREFIX
from desktop_app.gui.panels.site_calibration import BENIGN_FOLDER_TITLE, CalibrationDialog, inside
from desktop_app.gui.shell import settings as app_settings
from desktop_app.gui.shell.main_window import MainWindow
from desktop_app.reports.csv_report import read_results_csv
from tests.desktop_app.gui.conftest import ScriptedPaths, wait_batch, wait_for, wait_signal
from tests.support.data import DATA

COMBINED = bundled_models_dir() / "dermscreen-combined.onnx"
CAE2 = bundled_models_dir() / "dermscreen-cae2.onnx"


def _link_folder(folder: Path, files: list[Path]) -> Path:
    folder.mkdir(parents=True)
    for f in files:
        (folder / f.name).symlink_to(f)
    return folder


@pytest.fixture
def benign_folder(tmp_path: Path) -> Path:
    """36 nevi of ham-extra dev-eval (the model's own kind of site)."""
    return _link_folder(tmp_path / "Clinic benign", [
        DATA / e.rel_path for e in read_split(DEV_EVAL) if e.cls == "nevus"][:36])


@pytest.fixture
def new_site(tmp_path: Path) -> tuple[Path, Path]:
    """uda1-external, a site no model trained or tuned on: (a folder of 40 of its nevi, seeded,
    for calibration; a folder of the rest of it, 61 nevi and 17 melanomas, as a later batch)."""
    entries = read_split(UDA1_EXTERNAL)
    nevi = [e for e in entries if e.cls == "nevus"]
    order = np.random.default_rng(1).permutation(len(nevi))
    calib = {nevi[i].rel_path for i in order[:40]}
    return (_link_folder(tmp_path / "UDA benign", [DATA / r for r in sorted(calib)]),
            _link_folder(tmp_path / "UDA clinic", [DATA / e.rel_path for e in entries
                                                   if e.rel_path not in calib]))


@pytest.fixture
def make_window(qtbot: object, scripted_paths: ScriptedPaths) -> Callable[..., MainWindow]:
    """A shown window on a shipped model (no small model to train), its model loaded."""

    def make(model_path: Path = COMBINED) -> MainWindow:
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


def _panel_text(window: MainWindow) -> str:
    panel = window.operating_point
    return "\n".join(label.text() for label in (
        panel.state_label, panel.site_label, panel.threshold_label, panel.expected_label,
        panel.validation_label, panel.data_label) if label.isVisible())


def test_calibrate_records_author_and_gives_one_figure_each(
        qtbot: object, make_window: Callable[..., MainWindow], scripted_paths: ScriptedPaths,
        benign_folder: Path, fullres_files: list[Path], tmp_path: Path) -> None:
    app_settings.save_report_preferences("Dr Ana Ruiz", False, False)
    window = make_window()
    assert window.engine is not None
    default = window.threshold
    assert "&Calibrate to This Site…" in _menu_texts(window)

    scripted_paths.folder = str(benign_folder)
    asked: list[tuple[str, str]] = []
    window.site.ask_details = lambda site, author: asked.append((site, author)) or (
        "Clinic A", "Dr Ana Ruiz (dermatology)")
    main_thread = threading.get_ident()
    with wait_signal(qtbot, window.site.calibrated, "the calibration"):
        window.calibrate_site_action.trigger()
        # The action returned before the work was done: the GUI thread does not score.
        assert window.site.running and threading.get_ident() == main_thread
    assert scripted_paths.folder_titles[-1] == BENIGN_FOLDER_TITLE
    assert "known-benign images from this site" in BENIGN_FOLDER_TITLE
    # The author is asked, offered from the reviewer named in the settings.
    assert asked == [("Clinic benign", "Dr Ana Ruiz")]
    [(_, profile)] = list_profiles()
    assert profile.name == "Clinic A" and profile.n == 36
    assert profile.created_by == "Dr Ana Ruiz (dermatology)"
    assert profile.model_sha256 == window.model.sha256
    assert window.threshold == pytest.approx(profile.threshold) != default

    panel = window.operating_point
    text = _panel_text(window)
    assert "Site profile Clinic A (n 36" in text and profile.date in text
    assert "calibrated by Dr Ana Ruiz (dermatology)" in text
    assert "site profile's point" in panel.state_label.text()
    # One figure for benign lesions (measured here) and one for cancers (estimated): the
    # model's own test figures at this threshold are not shown beside them (hover only).
    assert text.count("of 100 cancers") == 1 and text.count("of 100 benign") == 1
    assert "benign lesions of this site (95% CI" in text and "ESTIMATED" in text
    assert "not measured at this site" in text
    assert not re.search(r"\d%(?! CI)", panel.expected_label.text())  # no "sensitivity 88%"
    assert not panel.validation_label.isVisible()
    assert "model's own figures" in panel.expected_label.toolTip()
    # The point list names the profile's point, not "Custom α".
    assert panel.point_combo.currentText() == f"{SITE_ITEM_PREFIX}Clinic A"
    assert any(t.startswith("> Clinic A (n 36") and t.endswith(", by Dr Ana Ruiz (dermatology)")
               for t in _menu_texts(window))

    # The 12 full-resolution ISIC originals (the training archive's own kind of image, larger
    # and mostly 4:3): no per-image flag from their size, no banner on 12 images.
    window.open_paths([str(p) for p in fullres_files])
    wait_batch(qtbot, window)
    assert window.site.drift is not None and window.site.drift.status == "not checked"
    assert not window.site.banner.isVisible()
    assert all(not r.input_flags for r in window.session.results.in_input_order())
    scripted_paths.save[".csv"] = str(tmp_path / "results.csv")
    with wait_signal(qtbot, window.export_finished, "the CSV export"):
        assert window.exporter.export_csv()
    rows = read_results_csv(tmp_path / "results.csv")
    assert {r["site_profile"] for r in rows} == {profile.label()}
    assert {r["batch_drift"] for r in rows} == {"not checked"}
    assert {r["input_check"] for r in rows} == {""}

    # Reset to default: the model's own point again, no site profile.
    panel.reset_button.click()
    assert window.site.profile is None and not panel.site_label.isVisible()
    assert window.threshold == pytest.approx(default) and panel.validation_label.isVisible()


def test_new_site_banner_ask_before_applying_and_reset(
        qtbot: object, make_window: Callable[..., MainWindow], scripted_paths: ScriptedPaths,
        new_site: tuple[Path, Path], benign_folder: Path) -> None:
    calib_folder, clinic = new_site
    window = make_window()
    default = window.threshold
    banner = window.site.banner

    # A new site's batch at the model's own point: the banner fires, in words.
    window.open_paths([str(clinic)])
    wait_batch(qtbot, window)
    wait_for(qtbot, banner.isVisible, "the drift banner")
    text = banner.text
    assert "These images score higher than the ones this point was set on" in text
    assert "most benign lesions will be flagged" in text and "Calibrate to this site" in text
    assert "percentile" not in text and "quartile" not in text
    tip = banner.label.toolTip()  # the statistics, on hover
    assert "lower quartile" in tip and "percentile" in tip and "78 scores" in tip
    assert banner.action_button.isVisible() and "Calibrate" in banner.action_button.text()

    # Calibrating from the banner on this site's benign images: the open batch comes from
    # another folder, so the window asks first, naming both; "No" leaves the batch alone.
    scripted_paths.folder = str(calib_folder)
    window.site.ask_details = lambda site, author: ("UDA site", "Dr Lee")
    questions: list[tuple[str, str, str]] = []
    window.site.ask_apply = lambda p, on, batch: questions.append((p.name, on, batch)) or False
    with wait_signal(qtbot, window.site.calibrated, "the calibration"):
        banner.action_button.click()
    assert questions == [("UDA site", str(calib_folder), str(clinic))]
    assert window.site.profile is None and window.threshold == pytest.approx(default)
    assert all(r.threshold == pytest.approx(default)
               for r in window.session.results.in_input_order() if r.ok)
    assert "Not applied to the open batch" in window.message_bar.text
    assert banner.isVisible()
    [(_, stored)] = list_profiles()
    assert stored.name == "UDA site" and stored.created_by == "Dr Lee"

    # Asked again and answered yes: the batch is re-decided at the site's point, and against
    # the site's own benign images the batch is in range.
    window.site.ask_apply = lambda p, on, batch: questions.append((p.name, on, batch)) or True
    with wait_signal(qtbot, window.site.calibrated, "the second calibration"):
        assert window.site.calibrate_folder(calib_folder, "UDA site", "Dr Lee")
    assert len(questions) == 2
    assert window.site.profile is not None and window.site.profile.name == "UDA site"
    assert all(r.threshold == pytest.approx(window.site.profile.threshold)
               for r in window.session.results.in_input_order() if r.ok)
    assert window.site.drift is not None and not window.site.drift.alarm
    assert not banner.isVisible()

    # Reset to default: the banner is redone at once, without reopening the folder.
    window.operating_point.reset_button.click()
    assert window.site.profile is None and window.threshold == pytest.approx(default)
    assert banner.isVisible() and "score higher" in banner.text

    # A calibration whose folder is the open batch's own: applied without a question.
    window.open_paths([str(benign_folder)])
    wait_batch(qtbot, window)
    with wait_signal(qtbot, window.site.calibrated, "the third calibration"):
        assert window.site.calibrate_folder(benign_folder, "Clinic B", "Dr Lee")
    assert len(questions) == 2 and window.site.profile.name == "Clinic B"


def test_small_folder_is_silent(qtbot: object, make_window: Callable[..., MainWindow],
                                new_site: tuple[Path, Path], tmp_path: Path) -> None:
    """Three images of the new site: too few to judge a site, so no banner."""
    _, clinic = new_site
    few = _link_folder(tmp_path / "three", sorted(p.resolve() for p in clinic.iterdir())[:3])
    window = make_window()
    window.open_paths([str(few)])
    wait_batch(qtbot, window)
    assert window.site.drift is not None and window.site.drift.status == "not checked"
    assert not window.site.banner.isVisible()


def test_calibration_dialog_needs_a_name_and_an_author(qtbot: object) -> None:
    dialog = CalibrationDialog(None, "Clinic benign", "")
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # nobody named yet
    dialog.author_edit.setText("  Dr Ana Ruiz ")
    assert ok.isEnabled() and dialog.values() == ("Clinic benign", "Dr Ana Ruiz")
    dialog.site_edit.setText(" ")
    assert not ok.isEnabled()


def test_profile_is_remembered_per_model(qtbot: object, make_window: Callable[..., MainWindow],
                                         benign_folder: Path) -> None:
    window = make_window(CAE2)
    with wait_signal(qtbot, window.site.calibrated, "the calibration"):
        assert window.site.calibrate_folder(benign_folder, "Clinic B", "Dr Lee")
    threshold = window.threshold
    window.close()
    again = make_window(CAE2)
    assert again.site.profile is not None and again.site.profile.name == "Clinic B"
    assert again.site.profile.created_by == "Dr Lee"
    assert again.threshold == pytest.approx(threshold)
    # Another model never decides at this model's profile.
    other = make_window(bundled_models_dir() / "dermscreen-reference.onnx")
    assert other.site.profile is None and not other.operating_point.site_label.isVisible()


def test_too_few_images_says_why(qtbot: object, make_window: Callable[..., MainWindow],
                                 tmp_path: Path, isic9_test_files: list[Path]) -> None:
    window = make_window(CAE2)
    folder = _link_folder(tmp_path / "few", isic9_test_files[:5])
    with wait_signal(qtbot, window.site.calibration_failed, "the calibration to fail"):
        assert window.site.calibrate_folder(folder, "Tiny", "Dr Lee")
    assert "at least 30" in window.message_bar.text and list_profiles() == []
    assert window.site.profile is None


def test_inside_counts_links_both_ways(tmp_path: Path, benign_folder: Path) -> None:
    """The open batch "comes from the calibration folder" when its files are links in it, or
    when it is opened through a link to that folder; a sibling folder does not."""
    first = next(benign_folder.iterdir())
    assert first.is_symlink() and inside(first, benign_folder)  # its target lies elsewhere
    link = tmp_path / "link to clinic"
    link.symlink_to(benign_folder, target_is_directory=True)
    assert inside(link, benign_folder) and inside(benign_folder, benign_folder)
    sibling = tmp_path / "Clinic benign 2"
    sibling.mkdir()
    assert not inside(sibling, benign_folder) and not inside(tmp_path, benign_folder)
