"""Review marks and notes: keyed by image SHA-256, kept in a private file across restarts."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from desktop_app.session.review import MAX_NOTE_CHARS, ReviewStore, clean_note

SHA_A = "a" * 64
SHA_B = "b" * 64


def test_reviews_survive_a_restart_and_the_file_is_private(tmp_path: Path):
    path = tmp_path / "home" / "reviews.json"
    store = ReviewStore(path)
    changed: list[str] = []
    store.changed.connect(changed.append)
    assert store.set(SHA_A, reviewed=True)
    assert store.set(SHA_B, note="irregular border,\nsee dermoscopy")
    assert changed == [SHA_A, SHA_B]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = ReviewStore(path)
    assert again.is_reviewed(SHA_A) and not again.is_reviewed(SHA_B)
    assert again.get(SHA_B).note == "irregular border,\nsee dermoscopy"
    assert again.get(SHA_A).updated_at  # when it was marked


def test_cases_without_a_hash_cannot_be_keyed(tmp_path: Path):
    store = ReviewStore(tmp_path / "reviews.json")
    assert not store.set("", reviewed=True)
    assert not store.set("not-a-sha", reviewed=True)
    assert not (tmp_path / "reviews.json").exists()


def test_notes_are_cleaned_and_capped():
    assert clean_note("ok\x1b[31m red\x00") == "ok[31m red"
    assert len(clean_note("x" * (MAX_NOTE_CHARS + 10))) == MAX_NOTE_CHARS


def test_an_unreadable_file_is_not_overwritten_until_a_change(tmp_path: Path):
    path = tmp_path / "reviews.json"
    path.write_text("{ not json", encoding="utf-8")
    store = ReviewStore(path)
    assert "could not read" in store.last_error
    assert path.read_text(encoding="utf-8") == "{ not json"
    assert store.set(SHA_A, reviewed=True)
    assert json.loads(path.read_text(encoding="utf-8"))["reviews"][SHA_A]["reviewed"] is True


def test_a_failed_write_says_why(tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    store = ReviewStore(blocker / "reviews.json")
    assert not store.set(SHA_A, reviewed=True)
    assert "could not save" in store.last_error


def test_a_note_belongs_to_the_folder_it_was_written_in(tmp_path: Path):
    path = tmp_path / "reviews.json"
    store = ReviewStore(path)
    assert store.set(SHA_A, note="patient one: refer", where="/clinic/p1")
    assert store.get(SHA_A, "/clinic/p1").note == "patient one: refer"
    assert store.get(SHA_A, "/clinic/p2").note == ""  # the same bytes, another patient
    assert store.notes_elsewhere(SHA_A, "/clinic/p2") == 1
    assert store.set(SHA_A, note="patient two: stable", where="/clinic/p2")
    again = ReviewStore(path)
    assert again.get(SHA_A, "/clinic/p1").note == "patient one: refer"
    assert again.get(SHA_A, "/clinic/p2").note == "patient two: stable"
    assert again.set(SHA_A, note="", where="/clinic/p2")  # cleared there only
    assert again.get(SHA_A, "/clinic/p1").note == "patient one: refer"
    assert again.notes_elsewhere(SHA_A, "/clinic/p1") == 0


def test_a_format_1_note_stays_where_its_mark_was_made(tmp_path: Path):
    path = tmp_path / "reviews.json"
    path.write_text(json.dumps({"format_version": 1, "reviews": {SHA_A: {
        "reviewed": True, "note": "old note", "where": "/clinic/p1"}}}), encoding="utf-8")
    store = ReviewStore(path)
    assert store.get(SHA_A, "/clinic/p1").note == "old note"
    assert store.get(SHA_A, "/clinic/p2").note == ""
