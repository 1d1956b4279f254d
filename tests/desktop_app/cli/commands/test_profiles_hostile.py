"""``dermscreen profiles`` and ``calibrate`` against hostile stores and profile files (issue 33).

Every store is real: a tmpfs mounted full or read-only, a folder another user owns (the
command runs under a real uid change), a symbolic link planted at the store's path. Every
profile file is a real profile of cae2's scores of real nevi, then edited the way a hostile
or careless tool would. Verdicts: a message and a documented exit code (2 refused input, 4
the store cannot be changed), never a traceback or a hang, nothing lost.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core.base.paths import bundled_models_dir
from desktop_app.core.evaluation.splits import DEV_EVAL, read_split
from desktop_app.core.imaging.imageio import file_sha256
from desktop_app.core.inference.engine import Engine
from desktop_app.core.model.metadata_checks import STAT_NAMES
from desktop_app.core.model.model_file import LoadedModel
from desktop_app.core.site.site_profile import (
    REPLACED_DIR,
    SiteProfile,
    list_profiles,
    make_profile,
    profiles_dir,
    read_profile_file,
    save_profile,
)
from tests.desktop_app.cli.conftest import cli_argv, cli_env
from tests.support.data import DATA
from tests.support.mounts import fill, remount_read_only, tmpfs

CAE2 = bundled_models_dir() / "dermscreen-cae2.onnx"
REFERENCE = bundled_models_dir() / "dermscreen-reference.onnx"


def run_cli(*args: str | Path) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def real_scores(cae2: LoadedModel) -> tuple[list[float], list[str]]:
    """cae2's scores of 32 dev-eval nevi through the real engine."""
    nevi = [DATA / e.rel_path for e in read_split(DEV_EVAL) if e.cls == "nevus"][:32]
    results = Engine(cae2).analyze_all(nevi)
    assert all(r.ok for r in results)
    return [float(r.score) for r in results], [r.image_sha256 for r in results]


def _profile(cae2: LoadedModel, scores: tuple[list[float], list[str]], name: str = "Clinic A",
             **kw: object) -> SiteProfile:
    return make_profile(name, scores[0], scores[1], model_sha256=cae2.sha256,
                        meta=cae2.metadata, created_by="dr test", **kw)  # type: ignore[arg-type]


def _file(tmp_path: Path, profile: SiteProfile | dict, name: str = "p.json") -> Path:
    data = profile.to_dict() if isinstance(profile, SiteProfile) else profile
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text and "site-packages" not in text, text


# ----- stores that cannot be written ----------------------------------------------------------


def test_import_and_remove_on_a_read_only_store(tmp_path: Path, cae2: LoadedModel,
                                                real_scores: tuple[list[float], list[str]],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    source = _file(tmp_path, _profile(cae2, real_scores, "Clinic B"))
    with tmpfs(profiles_dir(), size="1m"):
        kept = save_profile(_profile(cae2, real_scores))
        remount_read_only(profiles_dir())
        assert run_cli("profiles", "import", source) == 4
        errs = capsys.readouterr().err
        assert "read-only file system" in errs
        _no_traceback(errs)
        assert run_cli("profiles", "remove", "Clinic A") == 4
        errs = capsys.readouterr().err
        assert "read-only file system" in errs and kept.name in errs
        # Nothing lost: the stored profile is still there and whole.
        assert [p.name for _, p in list_profiles()] == ["Clinic A"]
        assert read_profile_file(kept).scores == tuple(sorted(real_scores[0]))


def test_import_into_a_full_store(tmp_path: Path, cae2: LoadedModel,
                                  real_scores: tuple[list[float], list[str]],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    source = _file(tmp_path, _profile(cae2, real_scores, "Clinic B"))
    with tmpfs(profiles_dir(), size="64k"):
        kept = save_profile(_profile(cae2, real_scores))
        fill(profiles_dir())
        assert run_cli("profiles", "import", source) == 4
        errs = capsys.readouterr().err
        assert "disk full" in errs
        _no_traceback(errs)
        assert [p.name for _, p in list_profiles()] == ["Clinic A"]
        assert read_profile_file(kept).n == 32
        # No temp file left behind beside the profiles.
        assert sorted(p.name for p in profiles_dir().iterdir()) == [".filler", kept.name]


def test_remove_from_a_store_this_user_cannot_change(cae2: LoadedModel,
                                                     real_scores: tuple[list[float], list[str]]
                                                     ) -> None:
    """A shared store the user may read but not change: run as 'nobody' (a real setuid)."""
    if os.geteuid() != 0:
        pytest.skip("changing uid needs root")
    home = Path(tempfile.mkdtemp(prefix="dermscreen-shared-"))
    try:
        os.chmod(home, 0o755)
        store = home / "site_profiles"
        path = save_profile(_profile(cae2, real_scores), store)
        os.chmod(store, 0o755)
        os.chmod(path, 0o644)
        # `profiles list` first, as root, imports everything `remove` runs: the interpreter's
        # own files may sit in root's home, which 'nobody' cannot read.
        code = ("import os, sys; from desktop_app.cli import main; main(['profiles', 'list']); "
                "os.setgroups([]); os.setgid(65534); os.setuid(65534); "
                "sys.exit(main(sys.argv[1:]))")
        done = subprocess.run(
            [cli_argv()[0], "-c", code, "profiles", "remove", "Clinic A"],
            capture_output=True, text=True, timeout=120, check=False,
            env=cli_env(DERMSCREEN_HOME=str(home), HOME=str(home)),
            cwd=Path(__file__).resolve().parents[4])
        assert done.returncode == 4, done.stderr
        assert "permission denied" in done.stderr
        _no_traceback(done.stderr)
        assert path.is_file() and read_profile_file(path).name == "Clinic A"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_store_folder_that_is_a_symbolic_link_is_not_followed(
        tmp_path: Path, cae2: LoadedModel, real_scores: tuple[list[float], list[str]],
        capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "someone-elses-folder"
    elsewhere.mkdir()
    os.chmod(elsewhere, 0o755)
    profiles_dir().parent.mkdir(parents=True, exist_ok=True)
    profiles_dir().symlink_to(elsewhere)
    source = _file(tmp_path, _profile(cae2, real_scores))
    assert run_cli("profiles", "import", source) == 4
    assert "symbolic link" in capsys.readouterr().err
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755  # not made 0700 through the link
    assert list(elsewhere.iterdir()) == []


# ----- hostile profile files ------------------------------------------------------------------


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.__setitem__("threshold", 10**400), "integer of 401 digits"),
    (lambda d: d["scores"].__setitem__(31, 10**400), "integer of 401 digits"),
    (lambda d: d["scores"].__setitem__(31, int("9" * 5000)), "too long"),
    (lambda d: d.__setitem__("threshold", 1e300), "expected numbers from 0"),
    (lambda d: d.__setitem__("threshold", d["scores"][-1] * 2), "does not follow from its own"),
    (lambda d: d.__setitem__("scores", [-1.0] * 32), "expected numbers from 0"),
    (lambda d: d.__setitem__("scores", [1e300] * 32), "expected numbers from 0"),
    (lambda d: d.update(rule="alpha", alpha=1e300), "alpha: expected numbers"),
    (lambda d: d.__setitem__("accepted_flags", list(STAT_NAMES)), "do not support"),
])
def test_hostile_profile_files_are_refused(tmp_path: Path, cae2: LoadedModel,
                                           real_scores: tuple[list[float], list[str]],
                                           capsys: pytest.CaptureFixture[str],
                                           edit: object, message: str) -> None:
    data = _profile(cae2, real_scores).to_dict()
    # json.dumps writes Python's big integers digit for digit, as a hostile tool would.
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        edit(data)  # type: ignore[operator]
        source = _file(tmp_path, data)
    finally:
        sys.set_int_max_str_digits(limit)
    assert run_cli("profiles", "import", source) == 2
    errs = capsys.readouterr().err
    assert message in errs, errs
    _no_traceback(errs)
    assert list_profiles() == []


def test_threshold_is_re_derived_and_accepted_flags_must_be_supported(
        tmp_path: Path, cae2: LoadedModel, real_scores: tuple[list[float], list[str]],
        capsys: pytest.CaptureFixture[str]) -> None:
    n = len(real_scores[0])
    # Size and aspect out of range in 30 of 32 images: supported; sharpness in 2: not accepted.
    honest = _profile(cae2, real_scores, accepted_flags=("long_side", "aspect", "sharpness"),
                      flag_counts={"long_side": 30, "aspect": n, "sharpness": 2})
    assert honest.accepted_flags == ("aspect", "long_side")
    assert run_cli("profiles", "import", _file(tmp_path, honest)) == 0
    out = capsys.readouterr().out
    assert "re-derived from its scores" in out
    assert f"size (30 of {n} images)" in out and f"aspect ratio ({n} of {n} images)" in out
    assert run_cli("profiles", "list") == 0
    assert f"usual here: aspect ratio ({n} of {n} images), size (30 of {n}" \
        in capsys.readouterr().out
    # Counts that claim more images than the profile holds are refused.
    forged = honest.to_dict() | {"name": "Forged", "flag_counts": {"aspect": n + 5}}
    assert run_cli("profiles", "import", _file(tmp_path, forged, "f.json")) == 2
    assert "flag_counts" in capsys.readouterr().err
    # A damaged file in the store is named by `list`, not silently dropped.
    (profiles_dir() / "damaged.json").write_text("{", encoding="utf-8")
    assert run_cli("profiles", "list") == 0
    assert "skipped (cannot be used): damaged.json: cannot read" in capsys.readouterr().err
    (profiles_dir() / "damaged.json").unlink()
    # An older profile without counts keeps its scores; what it accepted is not trusted.
    old = honest.to_dict() | {"name": "Older"}
    del old["flag_counts"]
    assert run_cli("profiles", "import", _file(tmp_path, old, "o.json")) == 0
    assert "usual at its site: none" in capsys.readouterr().out


def test_names_that_differ_outside_ascii_or_late_are_kept_apart(
        tmp_path: Path, cae2: LoadedModel, real_scores: tuple[list[float], list[str]],
        capsys: pytest.CaptureFixture[str]) -> None:
    names = ["東京", "大阪", "Dermatology outpatient clinic, north wing, room 1",
             "Dermatology outpatient clinic, north wing, room 2"]
    for i, name in enumerate(names):
        assert run_cli("profiles", "import",
                       _file(tmp_path, _profile(cae2, real_scores, name), f"{i}.json")) == 0
    stored = list_profiles()
    assert sorted(p.name for _, p in stored) == sorted(names)
    assert len({path for path, _ in stored}) == 4
    capsys.readouterr()


def test_import_over_the_sites_own_calibration(tmp_path: Path, cae2: LoadedModel,
                                               real_scores: tuple[list[float], list[str]],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    own = _profile(cae2, real_scores)
    save_profile(own)
    other = _profile(cae2, ([*real_scores[0][:31], real_scores[0][0]], real_scores[1]),
                     specificity=0.8)
    source = _file(tmp_path, other)
    assert run_cli("profiles", "import", source) == 2
    errs = capsys.readouterr().err
    assert "this site's own calibration" in errs and "--replace" in errs
    [(_, still)] = list_profiles()
    assert not still.imported and still.threshold == own.threshold
    assert run_cli("profiles", "import", source, "--replace") == 0
    out = capsys.readouterr().out
    assert "the old one is kept in" in out
    [(_, now)] = list_profiles()
    assert now.imported and now.threshold == other.threshold
    [copy] = (profiles_dir() / REPLACED_DIR).iterdir()
    assert str(copy) in out and stat.S_IMODE(copy.stat().st_mode) == 0o600
    recovered = read_profile_file(copy)
    assert not recovered.imported and recovered.threshold == own.threshold


def test_remove_without_model_asks_when_several_models_hold_the_name(
        cae2: LoadedModel, real_scores: tuple[list[float], list[str]],
        capsys: pytest.CaptureFixture[str]) -> None:
    save_profile(_profile(cae2, real_scores))
    other = make_profile("Clinic A", *real_scores, model_sha256=file_sha256(REFERENCE),
                         meta=cae2.metadata)
    save_profile(other)
    assert run_cli("profiles", "remove", "Clinic A") == 2
    errs = capsys.readouterr().err
    assert "exist for 2 models" in errs and "--model FILE" in errs and "--all-models" in errs
    assert len(list_profiles()) == 2
    assert run_cli("profiles", "remove", "Clinic A", "--model", REFERENCE) == 0
    assert f"({file_sha256(REFERENCE)[:12]})" in capsys.readouterr().out
    [(_, left)] = list_profiles()
    assert left.model_sha256 == cae2.sha256
    save_profile(other)
    assert run_cli("profiles", "remove", "Clinic A", "--all-models") == 0
    assert "removed 2 profiles" in capsys.readouterr().out
    assert list_profiles() == []


# ----- export to what is not a regular file ---------------------------------------------------


@pytest.fixture
def stored(cae2: LoadedModel, real_scores: tuple[list[float], list[str]]) -> Iterator[None]:
    save_profile(_profile(cae2, real_scores))
    yield


def test_export_to_dev_stdout_writes_through(stored: None, tmp_path: Path) -> None:
    devnull_before = os.lstat("/dev/stdout")
    done = subprocess.run(cli_argv("profiles", "export", "Clinic A", "/dev/stdout",
                                   "--model", CAE2),
                          capture_output=True, text=True, timeout=120, check=False,
                          env=cli_env())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "Clinic A"  # the profile itself, on the pipe
    assert "exported Clinic A" in done.stderr
    after = os.lstat("/dev/stdout")
    assert stat.S_ISLNK(after.st_mode) and after.st_ino == devnull_before.st_ino
    assert not list(Path("/dev").glob(".stdout.*.tmp"))
    # stdout redirected into a file: the file receives it, /dev/stdout stays a link.
    with open(tmp_path / "out.json", "w", encoding="utf-8") as fh:
        done = subprocess.run(cli_argv("profiles", "export", "Clinic A", "/dev/stdout",
                                       "--model", CAE2),
                              stdout=fh, stderr=subprocess.PIPE, text=True, timeout=120,
                              check=False, env=cli_env())
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["n"] == 32


def test_export_to_a_fifo_without_reader_is_refused_at_once(stored: None, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert run_cli("profiles", "export", "Clinic A", fifo, "--model", CAE2) == 4
    assert "named pipe with no reader" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # never renamed over
    assert run_cli("profiles", "export", "Clinic A", tmp_path, "--model", CAE2) == 4
    assert "folder is in the way" in capsys.readouterr().err


# ----- calibration refusals say why -----------------------------------------------------------


def test_calibration_refusal_counts_duplicates_and_unreadable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nevus = next(DATA / e.rel_path for e in read_split(DEV_EVAL) if e.cls == "nevus")
    copies = tmp_path / "copies"
    copies.mkdir()
    for i in range(40):
        shutil.copy(nevus, copies / f"copy{i:02d}.jpg")
    assert run_cli("calibrate", copies, "--model", CAE2) == 2
    errs = capsys.readouterr().err
    assert "1 benign images scored" in errs
    assert "of 40 files, 39 were duplicates of an earlier file" in errs
    broken = tmp_path / "broken"
    broken.mkdir()
    for i in range(40):
        (broken / f"b{i:02d}.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    assert run_cli("calibrate", broken, "--model", CAE2) == 2
    errs = capsys.readouterr().err
    assert "0 benign images scored" in errs and "of 40 files, 40 could not be read" in errs
    assert list_profiles() == []
