"""Per-case review state (reviewed mark and a free-text note), kept across restarts.

Keyed by the image's SHA-256, so a case keeps its review when the same folder
is opened again, moved or renamed. A mark also records who made it, when, and
where (the folder the image was in and the case ID): the same image opened from
another folder or case is shown as "reviewed <date> in <where>", not as
reviewed here (:meth:`ReviewStore.reviewed_here`). A note belongs to the place it was
written in: it is kept under the image's SHA-256 *and* its folder, so a byte-identical
copy opened from another patient's folder never shows it (nor exports it); that copy
can carry its own note. Stored as one JSON file in the app data folder, written
atomically and readable by the user only (it may name cases). Qt-free.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path

from desktop_app.core.base.files import FileWriteError, utc_now_iso, write_text_atomic
from desktop_app.session.events import Event

log = logging.getLogger("dermscreen.gui.review")

REVIEW_FILE = "reviews.json"
FORMAT_VERSION = 2  # 2: notes by folder ("notes": {folder: text}); 1: one "note"
MAX_NOTE_CHARS = 2000
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Review:
    """What the clinician recorded for one image, as seen from one folder: ``note`` is the
    note written in that folder only."""

    reviewed: bool = False
    note: str = ""
    updated_at: str = ""
    reviewer: str = ""  # the clinician named when the mark was made
    reviewed_at: str = ""  # UTC ISO 8601 time of the mark
    where: str = ""  # the image's folder when it was marked ("" in older files: anywhere)
    case_id: str = ""  # the case ID of the batch it was marked in, if one was given


def clean_note(text: str) -> str:
    """A note as stored: control characters (but newlines and tabs) dropped, length capped."""
    kept = "".join(ch for ch in text if ch in "\n\t" or ch.isprintable())
    return kept.strip()[:MAX_NOTE_CHARS]


class ReviewStore:
    """Reviews by image SHA-256, saved to ``path`` on every change.

    ``changed`` carries the SHA-256 of the case whose review changed.
    A file that cannot be read starts an empty store (and is not overwritten
    until the first change, so nothing is lost by merely opening the app).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reviews: dict[str, Review] = {}  # the marks (their ``note`` is always "")
        self._notes: dict[str, dict[str, str]] = {}  # sha256 -> {folder: note}
        self.changed: Event[str] = Event("review.changed")
        self.last_error = ""
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            self.last_error = f"could not read {self.path.name}: {exc}"
            log.warning("review file unreadable: %s", exc)
            return
        entries = data.get("reviews", {}) if isinstance(data, dict) else {}
        for sha, entry in entries.items() if isinstance(entries, dict) else ():
            if _SHA.match(str(sha)) and isinstance(entry, dict):
                where = str(entry.get("where", ""))
                self._reviews[sha] = Review(
                    bool(entry.get("reviewed", False)), "",
                    str(entry.get("updated_at", "")), clean_note(str(entry.get("reviewer", ""))),
                    str(entry.get("reviewed_at", "")), where,
                    clean_note(str(entry.get("case_id", ""))))
                notes = entry.get("notes")
                if isinstance(notes, dict):
                    places = {str(k): clean_note(str(v)) for k, v in notes.items()}
                else:  # format 1: one note, written where the mark was (or nowhere known)
                    places = {where: clean_note(str(entry.get("note", "")))}
                kept = {k: v for k, v in places.items() if v}
                if kept:
                    self._notes[sha] = kept

    def get(self, sha256: str, folder: str = "") -> Review:
        """The mark of ``sha256`` and the note written in ``folder`` (none from elsewhere)."""
        mark = self._reviews.get(sha256, Review())
        note = self._notes.get(sha256, {}).get(folder, "")
        return replace(mark, note=note) if note else mark

    def notes_elsewhere(self, sha256: str, folder: str) -> int:
        """How many notes were written on copies of this image in other folders."""
        return sum(1 for place in self._notes.get(sha256, {}) if place != folder)

    def is_reviewed(self, sha256: str) -> bool:
        return self.get(sha256).reviewed

    def reviewed_here(self, sha256: str, folder: str, case_id: str = "") -> bool:
        """Marked reviewed in ``folder`` (and, when both name one, the same case ID)."""
        review = self.get(sha256)
        return review.reviewed and not self.elsewhere(review, folder, case_id)

    @staticmethod
    def elsewhere(review: Review, folder: str, case_id: str = "") -> bool:
        """The mark was made on a copy in another folder or in another case."""
        if not review.reviewed:
            return False
        other_folder = bool(review.where) and review.where != folder
        other_case = bool(review.case_id) and bool(case_id) and review.case_id != case_id
        return other_folder or other_case

    def set(self, sha256: str, *, reviewed: bool | None = None, note: str | None = None,
            reviewer: str = "", where: str = "", case_id: str = "") -> bool:
        """Change the review of ``sha256`` in folder ``where``; False when the case has no
        hash (nothing to key on) or the file could not be written (``last_error`` says why).
        A new mark records ``reviewer``, the time, ``where`` and ``case_id``; ``note`` is
        kept for ``where`` only."""
        if not _SHA.match(sha256):
            return False
        old = self._reviews.get(sha256, Review())
        old_note = self._notes.get(sha256, {}).get(where, "")
        new_note = old_note if note is None else clean_note(note)
        marking = bool(reviewed) and (not old.reviewed or self.elsewhere(old, where, case_id))
        now = utc_now_iso()
        new = Review(old.reviewed if reviewed is None else bool(reviewed), "", now,
                     clean_note(reviewer) if marking else old.reviewer,
                     now if marking else old.reviewed_at,
                     where if marking else old.where,
                     clean_note(case_id) if marking else old.case_id)
        if not new.reviewed:
            new = Review(False, "", now)
        if (new.reviewed, new.where, new.case_id, new_note) == (
                old.reviewed, old.where, old.case_id, old_note):
            return True
        self._reviews[sha256] = new
        places = self._notes.setdefault(sha256, {})
        if new_note:
            places[where] = new_note
        else:
            places.pop(where, None)
        if not places:
            del self._notes[sha256]
        ok = self._save()
        self.changed.emit(sha256)
        return ok

    def _save(self) -> bool:
        body = {"format_version": FORMAT_VERSION,
                "reviews": {sha: {"reviewed": r.reviewed, "notes": self._notes.get(sha, {}),
                                  "updated_at": r.updated_at, "reviewer": r.reviewer,
                                  "reviewed_at": r.reviewed_at, "where": r.where,
                                  "case_id": r.case_id}
                            for sha, r in sorted(self._reviews.items())
                            if r.reviewed or sha in self._notes}}
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_text_atomic(self.path, json.dumps(body, indent=1, ensure_ascii=False),
                              private=True)
        except (OSError, FileWriteError) as exc:
            self.last_error = f"could not save the review file: {exc}"
            log.error("review file not saved: %s", exc)
            return False
        self.last_error = ""
        return True
