"""What ``dermscreen send`` reads and keeps in ``OUT/dicom``: the run's manifest and the
ledger of what each PACS confirmed (``sent.json``, :data:`LEDGER_NAME`).

Both are read only when they are regular files (the project's one rule,
:func:`desktop_app.core.imaging.regular_file.open_regular`: a FIFO or device is never opened, so
nothing blocks). A folder without DermScreen's manifest is not sent from.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from desktop_app.core.base.files import atomic_path, write_error_cause
from desktop_app.reports.dicom.write import DICOM_DIR_NAME, MANIFEST_FORMAT, MANIFEST_NAME

LEDGER_NAME = "sent.json"
DAMAGED_SUFFIX = ".damaged"
MAX_MANIFEST_BYTES = 16 * 2**20


def dicom_folder(out_dir: str | Path) -> Path:
    """``OUT/dicom`` for an output folder, or the folder itself when given ``OUT/dicom``."""
    folder = Path(out_dir)
    return folder / DICOM_DIR_NAME if (folder / DICOM_DIR_NAME).is_dir() else folder


def ledger_path(out_dir: str | Path) -> Path:
    return dicom_folder(out_dir) / LEDGER_NAME


def _read_regular_text(path: Path, limit: int) -> str:
    """A regular file's text (the project's one rule: a pipe, device or folder is never
    opened for reading, so nothing blocks). Raises OSError (or ValueError: too large)."""
    from desktop_app.core.imaging.regular_file import open_regular

    fd, st = open_regular(path)
    with open(fd, "rb") as fh:
        if st.st_size > limit:
            msg = f"{path.name} is over {limit // 2**20} MB"
            raise ValueError(msg)
        return fh.read(limit + 1).decode("utf-8")


def os_words(exc: OSError) -> str:
    from desktop_app.core.imaging.regular_file import NotRegularFileOSError

    if isinstance(exc, NotRegularFileOSError):
        return f"not a regular file ({exc.kind})"
    if isinstance(exc, FileNotFoundError):
        return "missing"
    return exc.strerror or "cannot be read"


def read_manifest(out_dir: str | Path) -> list[dict[str, str]]:
    """The objects ``manifest.json`` lists (file name, SOP class and instance UID).

    Raises ValueError with words when the folder is not one DermScreen wrote."""
    folder = dicom_folder(out_dir)
    path = folder / MANIFEST_NAME
    hint = (f"{out_dir} is not an output folder DermScreen wrote (no readable "
            f"{DICOM_DIR_NAME}/{MANIFEST_NAME}): give the --out folder of "
            "'dermscreen analyse --dicom' (or the folder Export All Reports wrote)")
    try:
        data = json.loads(_read_regular_text(path, MAX_MANIFEST_BYTES))
    except FileNotFoundError:
        raise ValueError(hint) from None
    except OSError as exc:
        raise ValueError(f"{hint}; {MANIFEST_NAME} is {os_words(exc)}") from None
    except ValueError:  # not JSON, not UTF-8, too large
        raise ValueError(f"{hint}; its {MANIFEST_NAME} is damaged") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT or \
            not isinstance(data.get("objects"), list):
        raise ValueError(f"{hint}; its {MANIFEST_NAME} is not DermScreen's")
    objects = []
    for item in data["objects"]:
        if not isinstance(item, dict):
            continue
        name = item.get("file")
        uid = item.get("sop_instance_uid")
        if isinstance(name, str) and isinstance(uid, str) and name and "/" not in name \
                and "\\" not in name and name not in (".", "..") and name.endswith(".dcm"):
            objects.append({"file": name, "sop_instance_uid": uid,
                            "sop_class_uid": str(item.get("sop_class_uid", ""))})
    return objects


def read_ledger(out_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``{destination: {sop_instance_uid: {"file", "sent_at"}}}``; {} when missing or
    unreadable (see :func:`_load_ledger` for what send does with a damaged one)."""
    try:
        return _clean_ledger(json.loads(_read_regular_text(ledger_path(out_dir),
                                                           MAX_MANIFEST_BYTES)))[0]
    except (OSError, ValueError):
        return {}


def _clean_ledger(data: Any) -> tuple[dict[str, dict[str, Any]], bool]:
    """(the ledger's well-formed entries, whether anything was dropped)."""
    if not isinstance(data, dict):
        return {}, True
    clean: dict[str, dict[str, Any]] = {}
    dropped = False
    for dest, entries in data.items():
        if not isinstance(entries, dict):
            dropped = True
            continue
        kept = {uid: entry for uid, entry in entries.items()
                if isinstance(uid, str) and isinstance(entry, dict)}
        dropped = dropped or len(kept) != len(entries)
        clean[str(dest)] = kept
    return clean, dropped


class LedgerError(Exception):
    """``sent.json`` must not be used (not a regular file, unreadable, cannot be set aside)."""

    def __init__(self, words: str) -> None:
        super().__init__(words)
        self.words = words


def load_ledger(folder: Path) -> tuple[dict[str, dict[str, Any]], str]:
    """(the ledger for a send, a note for the user or ""). A damaged one is kept aside as
    sent.json.damaged and a new one started; raises :class:`LedgerError` in words when it
    is not a regular file or cannot be read."""
    path = folder / LEDGER_NAME
    try:
        text = _read_regular_text(path, MAX_MANIFEST_BYTES)
    except FileNotFoundError:
        return {}, ""
    except (OSError, ValueError) as exc:
        words = os_words(exc) if isinstance(exc, OSError) else "too large"
        raise LedgerError(f"{path} is {words}: refused without reading it; nothing was sent "
                          "(remove or replace it, then send again)") from None
    try:
        ledger, dropped = _clean_ledger(json.loads(text))
    except ValueError:
        ledger, dropped = {}, True
    if not dropped:
        return ledger, ""
    aside = path.with_name(LEDGER_NAME + DAMAGED_SUFFIX)
    try:
        os.replace(path, aside)
    except OSError as exc:
        raise LedgerError(f"{path} is damaged and cannot be moved aside "
                          f"({write_error_cause(exc)}): nothing was sent") from None
    return ledger, (f"{LEDGER_NAME} was damaged (not DermScreen's layout): kept as "
                    f"{aside.name}, a new one started; objects it named may go again (the "
                    "PACS keeps one copy per UID)")


def write_ledger(folder: Path, ledger: dict[str, dict[str, Any]]) -> None:
    with atomic_path(folder / LEDGER_NAME, private=True) as tmp:
        tmp.write_text(json.dumps(ledger, indent=1, sort_keys=True), encoding="utf-8")
