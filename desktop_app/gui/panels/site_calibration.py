"""Model > Calibrate to This Site…, the site-profile choice and the drift banner.

Calibration scores a folder of the site's benign images on a worker thread
(:class:`~desktop_app.gui.threads.workers.TaskThread`; the GUI thread never waits), stores
the profile (:mod:`desktop_app.core.site.site_profile`) and moves the operating
point to it. The active profile is remembered per model SHA-256. After every
batch the drift check (:mod:`desktop_app.core.inference.drift`) runs on the table's
results against the active point's reference, and the banner says what an
alarm means and offers calibration.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QInputDialog, QMenu

from desktop_app.core.inference.drift import DriftReport
from desktop_app.core.site.calibration import drift_of, profile_from_results
from desktop_app.core.site.site_profile import (
    MIN_IMAGES,
    ProfileError,
    SiteProfile,
    expectation_words,
    find_profile,
    list_profiles,
    save_profile,
)
from desktop_app.gui.shell import settings as app_settings
from desktop_app.gui.threads.workers import TaskThread
from desktop_app.gui.windows.common import MessageBar

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from desktop_app.core.site.calibration import CalibrationInput
    from desktop_app.gui.panels.operating_point import OperatingPointControl
    from desktop_app.gui.shell.status import BatchStatus
    from desktop_app.gui.threads.workers import ThreadRegistry
    from desktop_app.gui.windows.common import PathProvider
    from desktop_app.session.session import Session

log = logging.getLogger("dermscreen.gui")


class CalibrationHost(Protocol):
    """What site calibration needs of the window (the main window is one), so this panel
    never imports the window back."""

    session: Session
    operating_point: OperatingPointControl
    batch_status: BatchStatus
    threads: ThreadRegistry
    path_provider: PathProvider
    include_subfolders_action: QAction

    def show_message(self, text: str, level: str = "info") -> None: ...


KEY_PROFILE = "decision/site_profile"
CALIBRATE_ACTION = "Calibrate to This Site…"


def _profile_key(model_sha256: str) -> str:
    return f"{KEY_PROFILE}/{model_sha256[:16]}"


def saved_profile_name(model_sha256: str) -> str:
    value = app_settings.settings().value(_profile_key(model_sha256))
    return value if isinstance(value, str) else ""


def save_profile_name(model_sha256: str, name: str) -> None:
    store = app_settings.settings()
    if name:
        store.setValue(_profile_key(model_sha256), name)
    else:
        store.remove(_profile_key(model_sha256))
    store.sync()


class SiteCalibration(QObject):
    """``calibrated(SiteProfile)`` after a calibration was stored and applied;
    ``calibration_failed(text)`` when it could not be; ``drift_checked(DriftReport)``
    after each batch's check."""

    calibrated = Signal(object)
    calibration_failed = Signal(str)
    drift_checked = Signal(object)

    def __init__(self, window: CalibrationHost) -> None:
        super().__init__(window)
        self.window = window
        self.profile: SiteProfile | None = None
        self.drift: DriftReport | None = None
        self.running = False
        self._cancel = threading.Event()
        self.banner = MessageBar()
        self.banner.setObjectName("DriftBanner")
        self.banner.action_clicked.connect(self.calibrate)
        # Asks the site's name (tests replace it; returns None to cancel).
        self.ask_name = self._ask_name

    # ---------------------------------------------------------------- profiles
    def on_model_loaded(self) -> None:
        """Re-apply this model's remembered profile (one made with another model never is)."""
        model = self.window.session.model
        self.profile = None
        self.banner.hide()
        if model is None:
            return
        name = saved_profile_name(model.sha256)
        if name:
            try:
                self.apply(find_profile(name, model.sha256))
            except ProfileError as exc:
                self.window.show_message(f"Site profile not applied: {exc}", "warning")
                save_profile_name(model.sha256, "")
        self.window.operating_point.set_site(None if self.profile is None else self.profile)

    def apply(self, profile: SiteProfile | None) -> None:
        """Decide at ``profile``'s point (None: back to the model's default point)."""
        model = self.window.session.model
        if model is None:
            return
        if profile is not None and profile.model_sha256 != model.sha256:
            self.window.show_message("That site profile was made with another model: a new "
                                     "model needs a new calibration.", "warning")
            return
        self.profile = profile
        save_profile_name(model.sha256, profile.name if profile is not None else "")
        control = self.window.operating_point
        control.set_site(profile)
        if profile is not None:
            control.set_threshold(profile.threshold)
        else:
            control.reset()
        self.check_drift()

    def site_words(self) -> tuple[str, ...]:
        model = self.window.session.model
        if self.profile is None or model is None:
            return ()
        return expectation_words(self.profile, model.metadata, self.window.session.threshold)

    def report_fields(self) -> dict[str, object]:
        """The site profile and drift fields of :class:`ReportContext` for an export now."""
        drift = self.drift
        return {
            "site_profile": self.profile.label() if self.profile is not None else "",
            "site_words": self.site_words(),
            "batch_drift": drift.status if drift is not None else "",
            "drift_words": drift.words() if drift is not None else "",
        }

    def fill_menu(self, menu: QMenu) -> None:
        """The Site Profile submenu, into the Model menu when it opens."""
        model = self.window.session.model
        sub = menu.addMenu("Site &Profile")
        group = QActionGroup(sub)
        choices: list[tuple[str, SiteProfile | None]] = [("None (the model's own point)", None)]
        if model is not None:
            choices += [(p.label(), p) for _, p in list_profiles(model_sha256=model.sha256)]
        for text, profile in choices:
            item = sub.addAction(text)
            item.setCheckable(True)
            item.setChecked((profile is None and self.profile is None) or (
                profile is not None and self.profile is not None
                and profile.name == self.profile.name))
            item.triggered.connect(lambda _c=False, p=profile: self.apply(p))
            group.addAction(item)
        sub.setEnabled(model is not None)

    # ---------------------------------------------------------------- calibrating
    def _ask_name(self, default: str) -> str | None:
        text, ok = QInputDialog.getText(self.window, "Calibrate to this site",
                                        "Site name for this profile:", text=default)
        return (text.strip() or default) if ok else None

    def calibrate(self) -> bool:
        """Ask for a folder of the site's benign images and a name, then calibrate."""
        folder = self.window.path_provider.open_folder(self.window, app_settings.last_dir())
        if not folder:
            return False
        name = self.ask_name(Path(folder).name)
        if not name:
            return False
        return self.calibrate_folder(folder, name)

    def calibrate_folder(self, folder: str | Path, name: str) -> bool:
        """Score ``folder`` on a worker thread and store a profile called ``name``."""
        session = self.window.session
        engine, model = session.engine, session.model
        if engine is None or model is None or self.running or session.running:
            self.window.show_message("Calibration needs a loaded model and no batch running.",
                                     "warning")
            return False
        recursive = self.window.include_subfolders_action.isChecked()

        self._cancel.clear()
        cancel = self._cancel

        def work() -> tuple[SiteProfile, CalibrationInput]:
            results = engine.analyze_all([str(folder)], recursive=recursive, cancel=cancel)
            if cancel.is_set():
                raise ProfileError("calibration cancelled")
            profile, data = profile_from_results(name, results, model,
                                                 created_by=app_settings.report_preferences()[0])
            save_profile(profile)
            return profile, data

        self.running = True
        self.window.batch_status.say(f"Calibrating on the benign images in {Path(folder).name}…")
        task = TaskThread(work, "calibrate", on_done=self._done, on_error=self._failed)
        self.window.threads.start(task)
        return True

    def stop(self) -> None:
        """Stop a running calibration (the window is closing); nothing is stored."""
        self._cancel.set()

    def _done(self, value: tuple[SiteProfile, CalibrationInput]) -> None:
        self.running = False
        profile, data = value
        self.apply(profile)
        problems = data.problems()
        self.window.show_message(
            f"Calibrated to {profile.label()}: threshold {profile.threshold:.5g}."
            + (f" Note: {'; '.join(problems)}." if problems else ""),
            "warning" if problems else "info")
        self.window.batch_status.say(f"Site profile {profile.name} stored and in use")
        self.calibrated.emit(profile)

    def _failed(self, text: str) -> None:
        self.running = False
        if "at least" not in text:
            text = f"{text} (a site profile needs at least {MIN_IMAGES} benign images)"
        self.window.show_message(f"Calibration failed, nothing stored: {text}", "error")
        self.calibration_failed.emit(text)

    # ---------------------------------------------------------------- drift
    def check_drift(self) -> DriftReport | None:
        """The drift check of the table's results; shows or hides the banner."""
        session = self.window.session
        model, engine = session.model, session.engine
        results = session.results.in_input_order()
        if model is None or engine is None or not results:
            self.drift = None
            self.banner.hide()
            return None
        self.drift = drift_of(results, model, self.profile,
                              ranges_known=engine.image_ranges is not None)
        if self.drift.alarm:
            self.banner.show_message(f"This batch is out of range. {self.drift.words()}",
                                     "warning", action=CALIBRATE_ACTION)
        else:
            self.banner.hide()
        log.info("drift check: %s (rank %s, images out %d of %d)", self.drift.status,
                 self.drift.rank, self.drift.n_images_out, self.drift.n_images_checked)
        self.drift_checked.emit(self.drift)
        return self.drift
