"""What the window does when a model has loaded or failed to: title, banner, operating
point, plot scale, the switch message, and what stays in use on a failure."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.core.base import paths
from desktop_app.core.model.operating_points import borderline_low
from desktop_app.core.wording.texts import unverified_model_note
from desktop_app.gui.shell import menus
from desktop_app.gui.shell import settings as app_settings

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import Engine
    from desktop_app.core.model.model_file import LoadedModel

APP_TITLE = "DermScreen"
MODEL_HELP = (
    "Analysis is disabled. Choose a model with Model ▸ Open Model File… "
    f"or put {paths.DEFAULT_MODEL_NAME} in {paths.bundled_models_dir()}."
)


def window_title(model_name: str, model_version: str) -> str:
    """"DermScreen CAE 2.1.0" -> "CAE 2.1.0 — DermScreen": the app's name once. It ends the
    title because the platform appends the application's display name to any title that
    does not already end with it (that gave "DermScreen — DermScreen CAE 2.1.0 — DermScreen")."""
    name = model_name.strip()
    if name.lower().startswith(APP_TITLE.lower()):
        name = name[len(APP_TITLE):].strip(" -—")
    model = " ".join(p for p in (name, model_version) if p)
    return f"{model} — {APP_TITLE}" if model else APP_TITLE


# ``window`` is the main window (typed Any: this module must not import it back).
def on_model_loaded(window: Any, path: Path, value: tuple[LoadedModel, Engine]) -> None:
    if window._closing:
        return
    model, engine = value
    meta = model.metadata
    window.banner.hide()
    if not model.verified:  # loaded, but nothing vouches for the file: cannot be missed
        window.banner.show_message(unverified_model_note(model.path.name), "warning")
    window.model_status.show_model(model)
    window.setWindowTitle(window_title(meta.model_name, meta.model_version))
    window.operating_point.set_model(meta, app_settings.saved_alpha(model.sha256))
    threshold = window.operating_point.threshold
    window._set_band(borderline_low(meta, threshold))
    window.score_panel.set_stats(meta.benign_stats)
    window.case_viewer.set_vmax(meta.heatmap_vmax)
    before = window.session.model, window.session.threshold
    rerun = window.session.finish_model_load(path, model, engine, threshold)
    if before[0] is not None and before[0].sha256 != model.sha256:
        window.show_message(menus.switch_message(before[0].metadata, before[1], meta,
                                               threshold, bool(rerun)), "info")
    window.score_panel.set_threshold(threshold)
    window.site.on_model_loaded()
    window.results_panel.update_summary()
    if window.session.remember_model:
        app_settings.save_model_path(path)
    window.update_actions()
    window.model_ready.emit(model)
    if rerun:
        window.open_paths(rerun)


def on_model_failed(window: Any, path: Path, message: str) -> None:
    if window._closing:
        return
    window.update_actions()
    if window.session.model is not None:  # keep the model that works; say why
        window.model_status.show_model(window.session.model)
        window.show_message(f"The model could not be loaded: {message}. "
                          "The previous model stays in use.", "error")
    else:
        window.model_status.no_model()
        window.banner.show_message(f"The model could not be loaded: {message}. {MODEL_HELP}",
                                 "error", action="Open Model File…")
    window.model_failed.emit(message)
