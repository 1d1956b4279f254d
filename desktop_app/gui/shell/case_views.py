"""How the case is looked at beyond the viewer itself: pin and compare (P, C), full screen
(F11, Esc leaves it), the original alone (O) and the keyboard-shortcut list (Help)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from desktop_app.gui.windows.compare import CompareDialog
from desktop_app.gui.windows.shortcuts import ShortcutsDialog

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from desktop_app.gui.panels.case_viewer import CaseViewer
    from desktop_app.session.session import Session, ShownCase


class ViewsHost(Protocol):
    """What the case views need of the window (the main window is one), so this module
    never imports the window back."""

    session: Session
    case_viewer: CaseViewer
    results_panel: QWidget
    score_panel: QWidget
    review_panel: QWidget
    actions_by_name: dict[str, QAction]
    full_screen_action: QAction

    def show_message(self, text: str, level: str = "info") -> None: ...
    def isMaximized(self) -> bool: ...  # noqa: N802 (Qt's names)
    def isFullScreen(self) -> bool: ...  # noqa: N802
    def showFullScreen(self) -> None: ...  # noqa: N802
    def showMaximized(self) -> None: ...  # noqa: N802
    def showNormal(self) -> None: ...  # noqa: N802


class CaseViews(QObject):
    """Owned by the window (``window.views``); the View and Review actions call it."""

    def __init__(self, window: ViewsHost) -> None:
        super().__init__(cast(QWidget, window))
        self.window = window
        self.pinned: ShownCase | None = None
        self.compare: CompareDialog | None = None
        self.shortcuts: ShortcutsDialog | None = None
        self._was_maximized = False
        # Esc leaves full screen; enabled only there (elsewhere Esc cancels a batch).
        self._esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), cast(QWidget, window))
        self._esc.setContext(Qt.ShortcutContext.WindowShortcut)
        self._esc.setEnabled(False)
        self._esc.activated.connect(self.leave_full_screen)
        self._esc.activatedAmbiguously.connect(self.leave_full_screen)

    # -- compare ----------------------------------------------------------------------
    def pin_case(self) -> bool:
        """Keep the shown case (its images too) to compare the next ones with."""
        shown = self.window.session.shown_case
        if shown is None:
            self.window.show_message("Wait until the case is shown, then pin it.", "warning")
            return False
        self.pinned = shown
        self.window.show_message(f"Pinned {shown[0].path.name}: select another case and press "
                                 "C to compare the two.", "info")
        return True

    def compare_with_pinned(self) -> CompareDialog | None:
        """The pinned case and the shown one side by side (same fixed scale, linked zoom)."""
        pinned, shown = self.pinned, self.window.session.shown_case
        if pinned is None or shown is None:
            self.window.show_message("Pin a case first (P), then select another and press C.",
                                     "warning")
            return None
        if pinned[0].path == shown[0].path and pinned[0].image_sha256 == shown[0].image_sha256:
            self.window.show_message(f"{shown[0].path.name} is the pinned case: select another "
                                     "case to compare it with, then press C.", "warning")
            return None
        self.close_compare()
        viewer = self.window.case_viewer
        self.compare = CompareDialog(pinned, shown, viewer.fixed_vmax, viewer.opacity,
                                     cast(QWidget, self.window))
        viewer.opacity_changed.connect(self.compare.set_opacity)
        self.compare.show()  # non-modal: the worklist stays usable
        return self.compare

    def close_compare(self) -> None:
        if self.compare is not None:
            self.compare.close()
            self.compare.deleteLater()
            self.compare = None

    # -- full screen, the original alone --------------------------------------------
    def set_full_screen(self, on: bool) -> None:
        """Only the case views, on the whole screen; off: the window as it was."""
        w = self.window
        for widget in (w.results_panel, w.score_panel, w.review_panel):
            widget.setVisible(not on)
        self._esc.setEnabled(on)
        if on:
            self._was_maximized = w.isMaximized()
            w.showFullScreen()
            w.case_viewer.setFocus()
        elif w.isFullScreen():
            if self._was_maximized:
                w.showMaximized()
            else:
                w.showNormal()
        w.case_viewer.fit()

    def leave_full_screen(self) -> None:
        """Esc in full screen: back to the window (the F11 action unchecked)."""
        self.window.full_screen_action.setChecked(False)

    def set_original_only(self, on: bool) -> None:
        """O: the original alone, without the overlay, over the whole case panel."""
        self.window.case_viewer.set_original_only(on)

    # -- help -------------------------------------------------------------------------
    def show_shortcuts(self) -> ShortcutsDialog:
        """Help > Keyboard Shortcuts: every shortcut, by menu, from the actions themselves."""
        if self.shortcuts is None:
            self.shortcuts = ShortcutsDialog(self.window.actions_by_name,
                                             cast(QWidget, self.window))
        self.shortcuts.show()
        self.shortcuts.raise_()
        return self.shortcuts

    def close_all(self) -> None:
        self.close_compare()
        if self.shortcuts is not None:
            self.shortcuts.close()
