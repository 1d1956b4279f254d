"""Per-case review state (reviewed mark and a free-text note), kept across restarts.

Keyed by the image's SHA-256, so a case keeps its review when the same folder
is opened again, moved or renamed. Stored as one JSON file in the app data
folder, written atomically and readable by the user only (it may name cases).
Qt-free.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.files import FileWriteError, utc_now_iso, write_text_atomic
from desktop_app.gui.components.events import Event

log = logging.getLogger("dermscreen.gui.review")

REVIEW_FILE = "reviews.json"
FORMAT_VERSION = 1
MAX_NOTE_CHARS = 2000
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Review:
    """What the clinician recorded for one image."""

    reviewed: bool = False
    note: str = ""
    updated_at: str = ""


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
        self._reviews: dict[str, Review] = {}
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
                self._reviews[sha] = Review(bool(entry.get("reviewed", False)),
                                            clean_note(str(entry.get("note", ""))),
                                            str(entry.get("updated_at", "")))

    def get(self, sha256: str) -> Review:
        return self._reviews.get(sha256, Review())

    def is_reviewed(self, sha256: str) -> bool:
        return self.get(sha256).reviewed

    def set(self, sha256: str, *, reviewed: bool | None = None, note: str | None = None) -> bool:
        """Change the review of ``sha256``; False when the case has no hash (nothing to key on)
        or the file could not be written (``last_error`` says why)."""
        if not _SHA.match(sha256):
            return False
        old = self.get(sha256)
        new = Review(old.reviewed if reviewed is None else bool(reviewed),
                     old.note if note is None else clean_note(note), utc_now_iso())
        if (new.reviewed, new.note) == (old.reviewed, old.note):
            return True
        self._reviews[sha256] = new
        ok = self._save()
        self.changed.emit(sha256)
        return ok

    def _save(self) -> bool:
        body = {"format_version": FORMAT_VERSION,
                "reviews": {sha: {"reviewed": r.reviewed, "note": r.note,
                                  "updated_at": r.updated_at}
                            for sha, r in sorted(self._reviews.items())
                            if r.reviewed or r.note}}
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
