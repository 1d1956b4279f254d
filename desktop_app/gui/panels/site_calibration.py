"""Model > Calibrate to This Site…, the site-profile choice and the drift banner.

Calibration asks for a folder of the site's known-benign images, the site's name
and who calibrates, scores the folder on a worker thread
(:class:`~desktop_app.gui.threads.workers.TaskThread`; the GUI thread never waits), stores
the profile (:mod:`desktop_app.core.site.site_profile`) and moves the operating
point to it; when a batch from another folder is open it first asks, naming
both. The active profile is remembered per model SHA-256. After every batch,
and when the point is reset, the drift check (:mod:`desktop_app.core.inference.drift`)
runs on the table's results against the active point's reference, and the
banner says in words what an alarm means (the statistics on hover) and offers
calibration.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.inference.drift import DriftReport
from desktop_app.core.site.calibration import drift_of, profile_from_results
from desktop_app.core.site.site_profile import (
    DEFAULT_SPECIFICITY,
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
BENIGN_FOLDER_TITLE = "Choose a folder of known-benign images from this site"
DRIFT_HEADLINE = "Check the operating point."


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


def inside(path: str | Path, folder: str | Path) -> bool:
    """``path`` is ``folder`` or lies below it, as written (a link inside the folder counts)
    or resolved (a link to the folder counts)."""
    def below(p: Path, f: Path) -> bool:
        return p == f or f in p.parents

    if below(Path(os.path.abspath(path)), Path(os.path.abspath(folder))):
        return True
    try:
        return below(Path(path).resolve(), Path(folder).resolve())
    except OSError:
        return False


class CalibrationDialog(QDialog):
    """Asks the site's name and who calibrates (both needed: the profile records them)."""

    def __init__(self, parent: QWidget | None, site: str, author: str) -> None:
        super().__init__(parent)
        self.setWindowTitle("Calibrate to this site")
        flagged = round(100 * (1 - DEFAULT_SPECIFICITY))
        intro = QLabel("The images in the folder must all be benign lesions from this site "
                       "(confirmed benign, not merely unflagged; 100 or more recommended). The "
                       f"new point flags about {flagged} of every 100 of them.")
        intro.setWordWrap(True)
        self.site_edit = QLineEdit(site)
        self.site_edit.setAccessibleName("Site name")
        self.author_edit = QLineEdit(author)
        self.author_edit.setAccessibleName("Calibrated by")
        self.author_edit.setPlaceholderText("your name (recorded in the profile)")
        form = QFormLayout()
        form.addRow("Site name:", self.site_edit)
        form.addRow("Calibrated by:", self.author_edit)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        for edit in (self.site_edit, self.author_edit):
            edit.textChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self.site_edit.text().strip() and self.author_edit.text().strip()))

    def values(self) -> tuple[str, str]:
        return self.site_edit.text().strip(), self.author_edit.text().strip()


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
        self._folder: Path | None = None  # the benign folder of the calibration running
        self._reset_bound = False
        # Ask the site's name and author, and whether to apply a new point to an open batch
        # from elsewhere (tests replace them; None / False is a no).
        self.ask_details = self._ask_details
        self.ask_apply = self._ask_apply

    # ---------------------------------------------------------------- profiles
    def on_model_loaded(self) -> None:
        """Re-apply this model's remembered profile (one made with another model never is)."""
        if not self._reset_bound:  # the panel exists once a model can load; bind once
            # After the control's own reset: no site profile, the banner redone at once.
            self.window.operating_point.reset_button.clicked.connect(self.on_reset)
            self._reset_bound = True
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
            choices += [(p.label() + (f", by {p.created_by}" if p.created_by else ""), p)
                        for _, p in list_profiles(model_sha256=model.sha256)]
        for text, profile in choices:
            item = sub.addAction(text)
            item.setCheckable(True)
            item.setChecked((profile is None and self.profile is None) or (
                profile is not None and self.profile is not None
                and profile.name == self.profile.name))
            item.triggered.connect(lambda _c=False, p=profile: self.apply(p))
            group.addAction(item)
        sub.setEnabled(model is not None)

    def on_reset(self) -> None:
        """Reset to default: the model's own point, so no site profile; the banner is redone
        at once against the model's validation images."""
        if self.profile is not None:
            self.apply(None)
        else:
            self.check_drift()

    # ---------------------------------------------------------------- calibrating
    def _ask_details(self, site: str, author: str) -> tuple[str, str] | None:
        dialog = CalibrationDialog(self.window, site, author)
        return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def _ask_apply(self, profile: SiteProfile, calibrated_on: str, batch: str) -> bool:
        answer = QMessageBox.question(
            self.window, "Use the new point for the open batch?",
            f"The site profile {profile.name} was calibrated on the benign images in\n"
            f"{calibrated_on}.\n\nThe open batch comes from\n{batch}.\n\n"
            "Decide the open batch at this site's point? Every case is re-decided. Choose No "
            "if the batch comes from another site: the profile is stored, and Model > Site "
            "Profile applies it later.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def calibrate(self) -> bool:
        """Ask for a folder of the site's known-benign images, its name and who calibrates."""
        folder = self.window.path_provider.open_folder(self.window, app_settings.last_dir(),
                                                       BENIGN_FOLDER_TITLE)
        if not folder:
            return False
        details = self.ask_details(Path(folder).name, app_settings.report_preferences()[0])
        if not details or not all(details):
            return False
        name, author = details
        return self.calibrate_folder(folder, name, author)

    def calibrate_folder(self, folder: str | Path, name: str, author: str | None = None) -> bool:
        """Score ``folder`` on a worker thread and store a profile called ``name``, made by
        ``author`` (None: the reviewer named in the settings)."""
        session = self.window.session
        engine, model = session.engine, session.model
        if engine is None or model is None or self.running or session.running:
            self.window.show_message("Calibration needs a loaded model and no batch running.",
                                     "warning")
            return False
        recursive = self.window.include_subfolders_action.isChecked()
        created_by = app_settings.report_preferences()[0] if author is None else author
        self._folder = Path(folder)

        self._cancel.clear()
        cancel = self._cancel

        def work() -> tuple[SiteProfile, CalibrationInput]:
            results = engine.analyze_all([str(folder)], recursive=recursive, cancel=cancel)
            if cancel.is_set():
                raise ProfileError("calibration cancelled")
            profile, data = profile_from_results(name, results, model, created_by=created_by)
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

    def open_batch_elsewhere(self) -> str:
        """The open batch's folder(s) when it does not come from the calibration folder
        ('' when no batch is open, or it is that folder's own images)."""
        session = self.window.session
        inputs = session.last_inputs
        if not session.results.in_input_order() or not inputs or self._folder is None:
            return ""
        if all(inside(p, self._folder) for p in inputs):
            return ""
        if len(inputs) == 1:
            return str(inputs[0])
        parents = sorted({str(Path(p) if Path(p).is_dir() else Path(p).parent) for p in inputs})
        return f"{len(inputs)} inputs in " + "; ".join(parents[:3]) + (
            f" and {len(parents) - 3} more folders" if len(parents) > 3 else "")

    def _done(self, value: tuple[SiteProfile, CalibrationInput]) -> None:
        self.running = False
        profile, data = value
        elsewhere = self.open_batch_elsewhere()
        applied = not elsewhere or self.ask_apply(profile, str(self._folder), elsewhere)
        if applied:
            self.apply(profile)
        problems = data.problems()
        where = "" if applied else (
            " Not applied to the open batch (it comes from another folder): choose it in "
            "Model > Site Profile to use it.")
        self.window.show_message(
            f"Calibrated to {profile.label()} by {profile.created_by or 'an unnamed user'}: "
            f"threshold {profile.threshold:.5g}.{where}"
            + (f" Note: {'; '.join(problems)}." if problems else ""),
            "warning" if problems else "info")
        self.window.batch_status.say(f"Site profile {profile.name} stored"
                                     + (" and in use" if applied else ", not in use"))
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
                              ranges_known=engine.image_ranges is not None,
                              threshold=session.threshold)
        if self.drift.alarm:
            self.banner.show_message(f"{DRIFT_HEADLINE} {self.drift.words()}", "warning",
                                     action=CALIBRATE_ACTION)
            self.banner.label.setToolTip(self.drift.details())  # the statistics, on hover
        else:
            self.banner.hide()
        log.info("drift check: %s. %s", self.drift.status, self.drift.details())
        self.drift_checked.emit(self.drift)
        return self.drift
