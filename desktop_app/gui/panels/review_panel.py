"""The selected case's review: a reviewed mark and a free-text note, saved as they change
into the session's :class:`ReviewStore` (keyed by the image's SHA-256)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from desktop_app.core.inference.results import AnalysisResult
from desktop_app.session.review import MAX_NOTE_CHARS, ReviewStore

NO_HASH = "This case has no image hash, so its review cannot be kept."


class ReviewPanel(QWidget):
    """Mark and note of the case given to :meth:`show_case`; ``problem(text)`` when a
    change could not be kept."""

    problem = Signal(str)
    done = Signal()  # Enter in the note: back to the worklist

    def __init__(self, reviews: ReviewStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._reviews = reviews
        self._result: AnalysisResult | None = None
        # Set by the window: who is reviewing (the clinician named for reports).
        self.reviewer: Callable[[], str] = lambda: ""
        self.elsewhere_label = QLabel("")
        self.elsewhere_label.setStyleSheet("color: #7a4a00;")
        self.elsewhere_label.hide()
        self.reviewed_box = QCheckBox("Reviewed (R)")
        self.reviewed_box.setToolTip("Mark this case reviewed; kept with the image's SHA-256")
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("Note on this case (saved when you press Enter "
                                          "or leave the field)")
        self.note_edit.setMaxLength(MAX_NOTE_CHARS)
        self.note_edit.setAccessibleName("Case note")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.reviewed_box)
        layout.addWidget(self.elsewhere_label)
        layout.addWidget(QLabel("Note:"))
        layout.addWidget(self.note_edit, 1)
        self._loading = False
        self._shown_mark = False  # the box as last shown or saved
        self.reviewed_box.toggled.connect(self._save)
        self.note_edit.editingFinished.connect(self._save)
        self.note_edit.returnPressed.connect(self.done)
        self.show_case(None)

    def show_case(self, result: AnalysisResult | None) -> None:
        """Show the review of ``result`` (None: nothing selected)."""
        self._result = result
        folder = str(result.path.parent) if result is not None else ""
        review = self._reviews.get(result.image_sha256, folder) if result is not None else None
        # A note written on a copy of this image in another folder belongs to that case:
        # say one exists, never show it here.
        notes_elsewhere = (self._reviews.notes_elsewhere(result.image_sha256, folder)
                           if result is not None else 0)
        self._loading = True
        try:
            self.setEnabled(result is not None and bool(result.image_sha256))
            other = review is not None and result is not None and self._reviews.elsewhere(
                review, str(result.path.parent))
            self.reviewed_box.setChecked(bool(review and review.reviewed) and not other)
            self._shown_mark = self.reviewed_box.isChecked()
            self.elsewhere_label.setVisible(other)
            if other and review is not None:
                self.elsewhere_label.setText(
                    f"reviewed {review.reviewed_at[:10]} in another folder")
                self.elsewhere_label.setToolTip(
                    f"Marked reviewed {review.reviewed_at} by {review.reviewer or 'someone'} "
                    f"on a copy of this image in {review.where}; not reviewed here.")
            self.note_edit.setText(review.note if review else "")
            self.note_edit.setToolTip(
                "A note was written on a copy of this image in another folder; it stays with "
                "that case and is not shown or exported here." if notes_elsewhere else "")
            if notes_elsewhere and not other:
                self.elsewhere_label.setText("note on a copy in another folder")
                self.elsewhere_label.setToolTip(self.note_edit.toolTip())
                self.elsewhere_label.setVisible(True)
        finally:
            self._loading = False

    @property
    def shown(self) -> AnalysisResult | None:
        """The case whose review is shown."""
        return self._result

    def toggle(self) -> None:
        """Flip the reviewed mark of the shown case."""
        if self.isEnabled():
            self.reviewed_box.setChecked(not self.reviewed_box.isChecked())

    def mark(self) -> bool:
        """Mark the shown case reviewed; False when it cannot be (no case, no hash)."""
        if not self.isEnabled() or self._result is None:
            return False
        if self.reviewed_box.isChecked():
            return True
        self.reviewed_box.setChecked(True)
        return self.reviewed_box.isChecked()

    def _save(self, *_args: object) -> None:
        if self._loading or self._result is None or not self.isEnabled():
            return
        # Only a changed box changes the mark: a note typed on a copy whose mark was made in
        # another folder must not take that folder's mark off.
        checked = self.reviewed_box.isChecked()
        reviewed = None if checked == self._shown_mark else checked
        self._shown_mark = checked
        if not self._reviews.set(self._result.image_sha256, reviewed=reviewed,
                                 note=self.note_edit.text(), reviewer=self.reviewer(),
                                 where=str(self._result.path.parent)):
            self.problem.emit(self._reviews.last_error or NO_HASH)
