"""Every window action as data: name, text, shortcut, icon, tip, menu and enable rule.

The window builds one QAction per :class:`ActionSpec` (``window.<name>_action``)
and calls :func:`update_enabled` whenever its state changes, so the rule that
enables an action lives here, once, next to the action itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar, QWidget

from desktop_app.gui.panels.results_model import (
    FILTER_ALL,
    FILTER_ANOMALOUS,
    FILTER_BORDERLINE,
    FILTER_ERRORS,
    FILTER_FLAGGED,
    FILTER_NOT_FLAGGED,
    FILTER_UNREVIEWED,
)
from desktop_app.gui.shell.icons import load_icon


@dataclass(frozen=True)
class ActionContext:
    """What the enable rules may look at (a snapshot of the window's state)."""

    can_analyse: bool  # a model is loaded and none is being loaded
    running: bool  # a batch runs
    has_rows: bool  # the table holds results
    has_case: bool  # a row is selected and a model is loaded


Rule = Callable[[ActionContext], bool]


@dataclass(frozen=True)
class ActionSpec:
    """One action. ``slot`` is a dotted path from the window ("case_viewer.fit"), called
    with ``arg`` when given, else with no argument."""

    name: str
    text: str
    slot: str
    shortcut: str | QKeySequence.StandardKey | None = None
    icon: str | None = None
    tip: str = ""
    enabled_when: Rule | None = None
    arg: str | None = None
    checkable: bool = False


def _analyse(c: ActionContext) -> bool:
    return c.can_analyse


def _export(c: ActionContext) -> bool:
    return c.can_analyse and c.has_rows


def _case(c: ActionContext) -> bool:
    return c.has_case


def _running(c: ActionContext) -> bool:
    return c.running


def _rows(c: ActionContext) -> bool:
    return c.has_rows


SEP = "-"
RECENT = "recent"  # where File > Recent Folders goes

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_folder", "Open &Folder…", "choose_folder", QKeySequence.StandardKey.Open,
               "open-folder", "Analyse every image in a folder", _analyse),
    ActionSpec("open_images", "Open &Images…", "choose_images", "Ctrl+Shift+O", "open-images",
               "Analyse selected image files", _analyse),
    ActionSpec("include_subfolders", "Include &Subfolders", "set_include_subfolders", None,
               None, "Open Folder also analyses the images in its subfolders", checkable=True),
    ActionSpec("export_csv", "Export &CSV…", "exporter.export_csv", "Ctrl+E", "export-csv",
               "Save every result as a CSV table", _export),
    ActionSpec("export_pdf", "Export &PDF Summary…", "exporter.export_summary_pdf", "Ctrl+P",
               "export-pdf", "Save a PDF summary of the batch", _export),
    ActionSpec("export_case_pdf", "Export Case P&DF…", "exporter.export_case_pdf", "Ctrl+Shift+P", None,
               "Save a PDF report of the selected case", _case),
    ActionSpec("export_all", "Export &All Reports…", "exporter.export_all_reports",
               "Ctrl+Shift+E", None, "Save the CSV, the PDF summary and a case PDF per flagged "
               "or borderline image into a new folder", _export),
    ActionSpec("send_to_pacs", "Send to PAC&S…", "send_to_pacs", None, None,
               "Send the DICOM results of an exported folder (Export All Reports) to a PACS"),
    ActionSpec("show_patient", "Show Patient &Identity", "set_show_patient", None, None,
               "Show the patient ID, name and birth date DICOM images carry, in the window and "
               "the reports", checkable=True),
    ActionSpec("cancel", "&Cancel Batch", "cancel_batch", "Esc", "cancel",
               "Stop the running batch", _running),
    ActionSpec("quit", "&Quit", "close", "Ctrl+Q"),  # StandardKey.Quit is empty on some desktops
    ActionSpec("about", "&About DermScreen", "show_about", None, "about",
               "Intended use and the model card"),
    ActionSpec("fit", "&Fit Image", "case_viewer.fit", "F", "fit",
               "Show the whole image in the case views"),
    ActionSpec("one_to_one", "&Actual Size (1:1)", "case_viewer.one_to_one", "1", None,
               "One image pixel per screen pixel"),
    ActionSpec("zoom_in", "Zoom &In", "case_viewer.zoom_in", "+", None, "Zoom the case views in"),
    ActionSpec("zoom_out", "Zoom &Out", "case_viewer.zoom_out", "-", None,
               "Zoom the case views out"),
    ActionSpec("zoom_reset", "&Reset Zoom", "case_viewer.fit", "0", None,
               "Show the whole image again"),
    # Ctrl+1 .. Ctrl+7 in the order of the filter box (results_model.FILTER_MODES).
    ActionSpec("show_all", "Show &All", "results_panel.set_filter_mode", "Ctrl+1", arg=FILTER_ALL),
    ActionSpec("show_flagged", "Show F&lagged Only", "results_panel.set_filter_mode", "Ctrl+2",
               None, "Only the cases flagged at the threshold (borderline ones are not)",
               arg=FILTER_FLAGGED),
    ActionSpec("show_borderline", "Show &Borderline Only", "results_panel.set_filter_mode",
               "Ctrl+3", arg=FILTER_BORDERLINE),
    ActionSpec("show_unreviewed", "Show &Unreviewed", "results_panel.set_filter_mode", "Ctrl+4",
               arg=FILTER_UNREVIEWED),
    ActionSpec("show_anomalous", "Show Flagged &or Borderline", "results_panel.set_filter_mode",
               "Ctrl+5", arg=FILTER_ANOMALOUS),
    ActionSpec("show_not_flagged", "Show &Not Flagged", "results_panel.set_filter_mode",
               "Ctrl+6", arg=FILTER_NOT_FLAGGED),
    ActionSpec("show_errors", "Show &Errors Only", "results_panel.set_filter_mode", "Ctrl+7",
               arg=FILTER_ERRORS),
    ActionSpec("case_scale", "Heatmap on This &Case's Scale", "set_case_scale", "S", None,
               "Full colour at this case's 99th percentile error inside the field of view "
               "(off: the model's fixed scale, the same for every case)", checkable=True),
    ActionSpec("full_screen", "F&ull-Screen Case View", "views.set_full_screen", "F11", None,
               "Only the case views, on the whole screen (F11 or Esc to leave)",
               checkable=True),
    ActionSpec("original_only", "&Original Alone", "views.set_original_only", "O", None,
               "The original image alone, without overlay, over the whole case panel (O again "
               "for every view)", checkable=True),
    ActionSpec("shortcuts", "&Keyboard Shortcuts", "views.show_shortcuts",
               QKeySequence.StandardKey.HelpContents, None, "Every keyboard shortcut"),
    ActionSpec("find", "Find File…", "name_filter.setFocus", QKeySequence.StandardKey.Find),
    ActionSpec("next_flagged", "Next &Flagged Case", "results_panel.next_flagged", "N", None,
               "Select the next flagged or borderline case", _rows),
    ActionSpec("previous_flagged", "Previous Flagged Case", "results_panel.previous_flagged",
               "Shift+N", None, "Select the previous flagged or borderline case", _rows),
    ActionSpec("next_unreviewed", "Next &Unreviewed Case", "results_panel.next_unreviewed", "U",
               None, "Select the next case not yet marked reviewed", _rows),
    ActionSpec("mark_reviewed", "Mark &Reviewed and Next", "mark_reviewed_and_next", "R", None,
               "Mark the selected case reviewed and go to the next case", _case),
    ActionSpec("pin_case", "&Pin Case for Comparison", "views.pin_case", "P", None,
               "Keep the shown case to compare another one with", _case),
    ActionSpec("compare", "&Compare with Pinned Case", "views.compare_with_pinned", "C", None,
               "The pinned case and the shown case side by side: same scale, linked zoom",
               _case),
    ActionSpec("toggle_reviewed", "Toggle Reviewed Mark", "review_panel.toggle", "Shift+R", None,
               "Mark the selected case reviewed, or take the mark off", _case),
    ActionSpec("open_model", "Open &Model File…", "choose_model_file", None, "model",
               "Use another DermScreen ONNX model"),
    ActionSpec("calibrate_site", "&Calibrate to This Site…", "site.calibrate", None, None,
               "Set the operating point from a folder of this site's benign images", _analyse),
)

MENUS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("&File", ("open_folder", "open_images", "include_subfolders", RECENT, SEP, "export_csv",
               "export_pdf", "export_case_pdf", "export_all", "send_to_pacs", SEP, "cancel", SEP,
               "quit")),
    ("&View", ("show_all", "show_flagged", "show_borderline", "show_unreviewed",
               "show_anomalous", "show_not_flagged", "show_errors", "find", SEP, "fit",
               "one_to_one", "zoom_in", "zoom_out", "zoom_reset", "original_only", "case_scale",
               "full_screen", SEP, "show_patient")),
    ("&Review", ("mark_reviewed", "toggle_reviewed", "next_flagged", "previous_flagged",
                 "next_unreviewed", SEP, "pin_case", "compare")),
    ("&Model", ("open_model", "calibrate_site")),
    ("&Help", ("shortcuts", "about")),
)
TOOLBAR: tuple[str, ...] = ("open_folder", "include_subfolders", "open_images", SEP, "export_csv", "export_pdf", SEP,
                            "cancel", "about")


def _resolve(owner: object, dotted: str) -> Callable[..., object]:
    target: object = owner
    for part in dotted.split("."):
        target = getattr(target, part)
    if not callable(target):
        msg = f"action slot {dotted!r} is not callable"
        raise TypeError(msg)
    return target


def build_actions(window: QWidget) -> dict[str, QAction]:
    """One QAction per spec, set as ``window.<name>_action``; shortcuts work window-wide."""
    built: dict[str, QAction] = {}
    for spec in ACTIONS:
        action = QAction(spec.text, window)
        if spec.icon:
            action.setIcon(load_icon(spec.icon))
        if spec.shortcut is not None:
            action.setShortcut(QKeySequence(spec.shortcut))
        if spec.tip:
            action.setStatusTip(spec.tip)
            action.setToolTip(spec.tip)
        action.setCheckable(spec.checkable)
        # Resolved when triggered: the parts an action calls may be built after the actions.
        if spec.checkable:
            action.toggled.connect(lambda on, p=spec.slot: _resolve(window, p)(on))
        elif spec.arg is not None:
            action.triggered.connect(lambda _c=False, p=spec.slot, a=spec.arg:
                                     _resolve(window, p)(a))
        else:
            action.triggered.connect(lambda _c=False, p=spec.slot: _resolve(window, p)())
        window.addAction(action)
        setattr(window, f"{spec.name}_action", action)
        built[spec.name] = action
    return built


def fill_menu(menu: QMenu | QToolBar, names: tuple[str, ...], actions: dict[str, QAction],
              recent: QMenu | None = None) -> None:
    for name in names:
        if name == SEP:
            menu.addSeparator()
        elif name == RECENT:
            if recent is not None and isinstance(menu, QMenu):
                menu.addMenu(recent)
        else:
            menu.addAction(actions[name])


def update_enabled(actions: dict[str, QAction], context: ActionContext) -> None:
    """Apply every spec's enable rule to its action."""
    for spec in ACTIONS:
        if spec.enabled_when is not None:
            actions[spec.name].setEnabled(spec.enabled_when(context))
