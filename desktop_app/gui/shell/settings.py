"""The app's persistent settings: one INI file under the user data folder.

Every read and write goes through :func:`settings`, so tests (which set
DERMSCREEN_HOME per test) never see each other's or the user's settings.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from desktop_app.core.base.paths import user_data_dir
from desktop_app.session.review import REVIEW_FILE

SETTINGS_FILE = "settings.ini"
MAX_RECENT = 8

KEY_GEOMETRY = "window/geometry"
KEY_STATE = "window/state"
KEY_SPLITTER = "window/splitter"
KEY_COLUMNS = "window/table_columns"  # the results table's column widths and order
KEY_RECENT = "files/recent_folders"
KEY_LAST_DIR = "files/last_dir"
KEY_ALPHA = "decision/alpha"
KEY_OPACITY = "viewer/opacity"
KEY_MODEL = "model/path"
KEY_SUBFOLDERS = "files/include_subfolders"


def settings_path() -> Path:
    return user_data_dir() / SETTINGS_FILE


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it 0700: it holds folder names and notes,
    which in a clinic can name patients."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    except OSError:
        # A read-only home must not stop the app: settings and reviews then are not kept
        # (the review panel says so when a change cannot be saved).
        pass
    return path


def settings() -> QSettings:
    """The one QSettings object factory (INI file under DERMSCREEN_HOME or the user folder)."""
    path = settings_path()
    private_dir(path.parent)
    return QSettings(str(path), QSettings.Format.IniFormat)


def _commit(store: QSettings) -> None:
    """Write ``store`` out and keep the file readable by the user only (0600)."""
    store.sync()
    with contextlib.suppress(OSError):
        os.chmod(store.fileName(), 0o600)


QT_DIALOG_STATE_FILE = "QtProject.conf"


@contextlib.contextmanager
def private_dialog_state() -> Iterator[Path]:
    """Around a Qt file dialog: Qt's own dialog history goes to the app's private folder.

    Qt's file dialog saves its last folder and history (``lastVisited=file:///.../
    Patient_Jane_DOE/``) through ``QSettings(UserScope, "QtProject")``: by default
    ``~/.config/QtProject.conf``, created 0644, outside the app's folder. Pointing
    the user scope at the app's 0700 folder first keeps it there, and the file is
    made 0600 when the dialog has closed. Yields that file's path.
    """
    folder = private_dir(user_data_dir())
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
    target = folder / QT_DIALOG_STATE_FILE
    try:
        yield target
    finally:
        with contextlib.suppress(OSError):
            os.chmod(target, 0o600)


def review_file_path() -> Path:
    """The reviews of every case (desktop_app.session.review), next to the settings."""
    return private_dir(user_data_dir()) / REVIEW_FILE


def include_subfolders() -> bool:
    """Open Folder also reads subfolders (the visible File menu option); on by default."""
    value = settings().value(KEY_SUBFOLDERS)
    return str(value).lower() not in ("false", "0") if value is not None else True


def save_include_subfolders(on: bool) -> None:
    store = settings()
    store.setValue(KEY_SUBFOLDERS, "true" if on else "false")
    _commit(store)


def _as_list(value: object) -> list[str]:
    # QSettings returns a bare string for a one-element list and None for none.
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v]
    return []


def recent_folders() -> list[str]:
    return _as_list(settings().value(KEY_RECENT))


def add_recent_folder(folder: str | Path) -> list[str]:
    """Put ``folder`` first in the recent list (deduplicated, capped); returns the list."""
    folder = str(Path(folder))
    items = [folder] + [f for f in recent_folders() if f != folder]
    items = items[:MAX_RECENT]
    store = settings()
    store.setValue(KEY_RECENT, items)
    _commit(store)
    return items


def clear_recent_folders() -> None:
    store = settings()
    store.remove(KEY_RECENT)
    _commit(store)


def _float_or_none(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _alpha_key(model_sha256: str) -> str:
    # Per model: an alpha means a different threshold (and trade-off) for each model,
    # so switching models must start from that model's own choice, not the last one's.
    return f"{KEY_ALPHA}/{model_sha256[:16]}" if model_sha256 else KEY_ALPHA


def saved_alpha(model_sha256: str = "") -> float | None:
    """The alpha the user chose last for this model, or None (use the model's own threshold)."""
    return _float_or_none(settings().value(_alpha_key(model_sha256)))


def save_alpha(alpha: float | None, model_sha256: str = "") -> None:
    """Keep ``alpha`` for this model; None forgets it (the model's default point again)."""
    store = settings()
    if alpha is None:
        store.remove(_alpha_key(model_sha256))
    else:
        store.setValue(_alpha_key(model_sha256), float(alpha))
    _commit(store)


def saved_opacity(default: float = 0.5) -> float:
    value = _float_or_none(settings().value(KEY_OPACITY))
    return default if value is None else min(1.0, max(0.0, value))


def save_opacity(opacity: float) -> None:
    store = settings()
    store.setValue(KEY_OPACITY, float(opacity))
    _commit(store)


def saved_bytes(key: str) -> QByteArray | None:
    value = settings().value(key)
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


def save_bytes(key: str, value: QByteArray) -> None:
    store = settings()
    store.setValue(key, value)
    _commit(store)


def last_dir() -> str:
    value = settings().value(KEY_LAST_DIR)
    return value if isinstance(value, str) else ""


def save_last_dir(folder: str | Path) -> None:
    store = settings()
    store.setValue(KEY_LAST_DIR, str(folder))
    _commit(store)


KEY_REPORTS_DIR = "reports/folder"
REPORTS_FOLDER_NAME = "DermScreen reports"


def default_reports_dir() -> Path:
    """"DermScreen reports" in the user's documents (never the image folder: an image store
    may be read-only or shared). Under DERMSCREEN_HOME (tests) it lives in there."""
    from PySide6.QtCore import QStandardPaths

    if os.environ.get("DERMSCREEN_HOME"):
        return Path(os.environ["DERMSCREEN_HOME"]) / "Documents" / REPORTS_FOLDER_NAME
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(docs or Path.home()) / REPORTS_FOLDER_NAME


def reports_dir() -> Path:
    """Where exports are offered: the folder of the last export, else the default."""
    value = settings().value(KEY_REPORTS_DIR)
    if isinstance(value, str) and value and Path(value).is_dir():
        return Path(value)
    return default_reports_dir()


def save_reports_dir(folder: str | Path) -> None:
    store = settings()
    store.setValue(KEY_REPORTS_DIR, str(folder))
    _commit(store)


def saved_model_path() -> str:
    value = settings().value(KEY_MODEL)
    return value if isinstance(value, str) else ""


def save_model_path(path: str | Path) -> None:
    store = settings()
    store.setValue(KEY_MODEL, str(path))
    _commit(store)


def initial_model_path() -> Path:
    """The model to open when none is named: the last one chosen (if it still exists),
    else the default (DERMSCREEN_MODEL or the bundled default model, dermscreen-derm-fast)."""
    from desktop_app.core.base.paths import default_model_path

    saved = saved_model_path()
    if saved and Path(saved).is_file() and not os.environ.get("DERMSCREEN_MODEL"):
        return Path(saved)
    return default_model_path()


KEY_CLINICIAN = "reports/clinician"
KEY_FULL_PATHS = "reports/full_paths"
KEY_CASE_FROM_SUBFOLDER = "reports/case_id_from_subfolder"


def report_preferences() -> tuple[str, bool, bool]:
    """(clinician, full paths, case ID from subfolder) last used in a report; the case ID
    itself is per batch and never kept."""
    store = settings()
    clinician = store.value(KEY_CLINICIAN)
    return (str(clinician) if isinstance(clinician, str) else "",
            str(store.value(KEY_FULL_PATHS)).lower() == "true",
            str(store.value(KEY_CASE_FROM_SUBFOLDER)).lower() == "true")


def save_report_preferences(clinician: str, full_paths: bool, case_id_from_subfolder: bool) -> None:
    store = settings()
    store.setValue(KEY_CLINICIAN, clinician)
    store.setValue(KEY_FULL_PATHS, "true" if full_paths else "false")
    store.setValue(KEY_CASE_FROM_SUBFOLDER, "true" if case_id_from_subfolder else "false")
    _commit(store)


KEY_SHOW_PATIENT = "privacy/show_patient_identity"
KEY_PACS = "dicom/pacs_destination"
KEY_CALLING_AE = "dicom/calling_ae"
KEY_LAST_EXPORT = "dicom/last_export_folder"


def show_patient_identity() -> bool:
    """View > Show Patient Identity: DICOM patient ID, name, birth date in the window and
    reports; off by default (the window may be seen by others)."""
    return str(settings().value(KEY_SHOW_PATIENT)).lower() == "true"


def save_show_patient_identity(on: bool) -> None:
    store = settings()
    store.setValue(KEY_SHOW_PATIENT, "true" if on else "false")
    _commit(store)


def _text(key: str) -> str:
    value = settings().value(key)
    return value if isinstance(value, str) else ""


def pacs_destination() -> str:
    """The AE@host:port last sent to (File > Send to PACS)."""
    return _text(KEY_PACS)


def save_pacs_destination(text: str) -> None:
    store = settings()
    store.setValue(KEY_PACS, text)
    _commit(store)


def calling_ae() -> str:
    """Our AE title as the PACS knows it ("" = the default, DERMSCREEN)."""
    return _text(KEY_CALLING_AE)


def save_calling_ae(text: str) -> None:
    store = settings()
    store.setValue(KEY_CALLING_AE, text)
    _commit(store)


def last_export_folder() -> str:
    """The folder Export All Reports last wrote (Send to PACS offers it)."""
    return _text(KEY_LAST_EXPORT)


def save_last_export_folder(folder: str | Path) -> None:
    store = settings()
    store.setValue(KEY_LAST_EXPORT, str(folder))
    _commit(store)
