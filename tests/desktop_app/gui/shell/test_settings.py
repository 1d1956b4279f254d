"""Settings live in one INI file under DERMSCREEN_HOME, isolated per test."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray

from desktop_app.gui.shell import settings as app_settings


def test_settings_file_lives_under_the_user_home(isolated_user_home: Path):
    store = app_settings.settings()
    assert Path(store.fileName()) == isolated_user_home / app_settings.SETTINGS_FILE
    assert store.format() == store.Format.IniFormat


def test_recent_folders_are_deduplicated_newest_first_and_capped(tmp_path: Path):
    assert app_settings.recent_folders() == []
    folders = [tmp_path / f"f{i}" for i in range(app_settings.MAX_RECENT + 3)]
    for folder in folders:
        app_settings.add_recent_folder(folder)
    app_settings.add_recent_folder(folders[4])
    recent = app_settings.recent_folders()
    assert len(recent) == app_settings.MAX_RECENT
    assert recent[0] == str(folders[4])
    assert recent[1] == str(folders[-1])
    assert len(set(recent)) == len(recent)
    app_settings.clear_recent_folders()
    assert app_settings.recent_folders() == []


def test_single_recent_folder_reads_back_as_a_list(tmp_path: Path):
    app_settings.add_recent_folder(tmp_path)
    assert app_settings.recent_folders() == [str(tmp_path)]


def test_alpha_and_opacity_round_trip_and_garbage_is_ignored():
    assert app_settings.saved_alpha() is None
    app_settings.save_alpha(1.75)
    assert app_settings.saved_alpha() == 1.75
    store = app_settings.settings()
    store.setValue(app_settings.KEY_ALPHA, "not a number")
    store.sync()
    assert app_settings.saved_alpha() is None
    # Each model keeps its own operating point.
    app_settings.save_alpha(0.5, "a" * 64)
    app_settings.save_alpha(2.0, "b" * 64)
    assert app_settings.saved_alpha("a" * 64) == 0.5
    assert app_settings.saved_alpha("b" * 64) == 2.0
    assert app_settings.saved_alpha("c" * 64) is None
    app_settings.save_opacity(0.3)
    assert app_settings.saved_opacity() == 0.3
    app_settings.save_opacity(7.0)
    assert app_settings.saved_opacity() == 1.0


def test_bytes_and_model_path_round_trip(tmp_path: Path):
    assert app_settings.saved_bytes(app_settings.KEY_GEOMETRY) is None
    app_settings.save_bytes(app_settings.KEY_GEOMETRY, QByteArray(b"\x01\x02geometry"))
    assert bytes(app_settings.saved_bytes(app_settings.KEY_GEOMETRY)) == b"\x01\x02geometry"
    app_settings.save_model_path(tmp_path / "m.onnx")
    assert app_settings.saved_model_path() == str(tmp_path / "m.onnx")


def test_each_test_starts_with_fresh_settings():
    # The autouse fixture gives this test a new DERMSCREEN_HOME: nothing from above leaks in.
    assert app_settings.saved_alpha() is None
    assert app_settings.recent_folders() == []


def test_settings_file_is_private(isolated_user_home: Path, tmp_path: Path):
    import stat

    app_settings.add_recent_folder(tmp_path / "Patients" / "Smith John")
    app_settings.save_include_subfolders(False)
    assert app_settings.include_subfolders() is False
    path = app_settings.settings_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_saving_no_alpha_forgets_it():
    app_settings.save_alpha(2.0, "a" * 64)
    app_settings.save_alpha(None, "a" * 64)
    assert app_settings.saved_alpha("a" * 64) is None


def test_an_unwritable_home_does_not_stop_the_app(tmp_path: Path, monkeypatch):
    from desktop_app.session.review import ReviewStore

    blocker = tmp_path / "home-is-a-file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("DERMSCREEN_HOME", str(blocker / "sub"))
    app_settings.save_alpha(1.0)  # nowhere to write: no exception
    assert app_settings.recent_folders() == []
    store = ReviewStore(app_settings.review_file_path())
    assert not store.set("a" * 64, reviewed=True)
    assert store.last_error
