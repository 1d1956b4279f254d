"""Hardening II (issue 24): file names, folders, the output folder and the terminal.

Every case runs the real CLI (``python -m desktop_app.cli analyse``) in a child
process with the shipped reference model on real isic9 images, and checks what
a user meets: the exit code, every row of results.csv, the PDFs and the
terminal. Permission cases run the child as ``nobody`` when the tests run as
root (root would bypass the check), and skip when that is impossible.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.core.wording.text_safety import undecodable_escaped
from tests.desktop_app.core.contract_model import REFERENCE_MODEL
from tests.desktop_app.reports.pdf_tools import pdf_cells_text
from tests.desktop_app.test_hostile_inputs import assert_no_raw_escapes, csv_rows

REPO = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 180  # a hang guard, not a timing assertion
EXIT_USAGE, EXIT_OUTPUT = 2, 4
# A C locale without UTF-8 mode: file names and argv decode as ASCII + surrogateescape.
C_LOCALE = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}


def cli_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen",
           "DERMSCREEN_HOME": str(home), **(extra or {})}
    for key in ("DERMSCREEN_MODEL", "PYTHONIOENCODING"):
        env.pop(key, None)
    return env


def analyse(*args: str | Path | bytes, home: Path, extra_env: dict[str, str] | None = None,
            prefix: tuple[str, ...] = (), cwd: Path = REPO, **kwargs: object
            ) -> subprocess.CompletedProcess[bytes]:
    argv = [*prefix, sys.executable, "-m", "desktop_app.cli", "analyse",
            *(a if isinstance(a, bytes) else str(a) for a in args),
            "--model", str(REFERENCE_MODEL)]
    if "stdout" not in kwargs and "stderr" not in kwargs:
        kwargs.setdefault("capture_output", True)
    return subprocess.run(argv, cwd=cwd, timeout=CLI_TIMEOUT_S, env=cli_env(home, extra_env),
                          check=False, **kwargs)  # type: ignore[call-overload]


def _sha(path: bytes | Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _no_traceback(proc: subprocess.CompletedProcess[bytes]) -> None:
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")[-3000:]


# --- 1. file names that are not UTF-8 -------------------------------------------------------

@pytest.mark.parametrize("locale", ["utf-8", "C"])
def test_undecodable_names_are_escaped_and_every_row_kept(
        locale: str, tmp_path: Path, isic9_test_files: list[Path]) -> None:
    clinic = tmp_path / "clinic"
    clinic.mkdir()
    root = os.fsencode(clinic)
    subfolder = b"Pat_J\xe9r\xf4me"  # a Latin-1 folder name from an old archive
    os.mkdir(root + b"/" + subfolder)
    names = [b"good0.jpg", b"bad\xffname.jpg", subfolder + b"/x\xff.jpg", "Zoë.jpg".encode()]
    for src, name in zip(isic9_test_files, names, strict=False):
        shutil.copyfile(src, root + b"/" + name)  # a different image each: rows are told apart
    out = tmp_path / "résultats"  # printed under a C locale too
    proc = analyse(clinic, "--recursive", "--pdf", "--case-id-from-subfolder", "--out", out,
                   home=tmp_path / "home", extra_env=C_LOCALE if locale == "C" else None)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    _no_traceback(proc)
    raw, rows = csv_rows(out)
    assert_no_raw_escapes(proc, raw)
    assert len(rows) == len(names) and {r["status"] for r in rows} == {"ok"}
    by_path = {r["path"]: r for r in rows}
    for name in names:
        shown = undecodable_escaped(os.fsdecode(name))  # THE rule, as the reports apply it
        row = by_path[shown]
        assert row["image_sha256"] == _sha(root + b"/" + name)  # the row points at its file
    assert by_path["bad\\xffname.jpg"]["file_name"] == "bad\\xffname.jpg"
    sub_row = by_path["Pat_J\\xe9r\\xf4me/x\\xff.jpg"]
    assert sub_row["case_id"] == "Pat_J\\xe9r\\xf4me"
    assert "Zoë.jpg" in by_path  # valid UTF-8 stays readable, under a C locale too
    summary = pdf_cells_text(out / "summary.pdf")
    assert "bad\\xffname.jpg" in summary and "x\\xff.jpg" in summary
    shown_out = b"r\\xe9sultats" if locale == "C" else "résultats".encode()
    assert shown_out in proc.stdout


# --- 2. the run lock never follows a link ---------------------------------------------------

def test_a_lock_symlink_is_refused_and_its_target_untouched(
        tmp_path: Path, isic9_test_files: list[Path]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    (out / ".dermscreen.lock").symlink_to(victim)
    proc = analyse(isic9_test_files[0], "--out", out, home=tmp_path / "home")
    assert proc.returncode == EXIT_OUTPUT, proc.stderr.decode(errors="replace")
    assert b".dermscreen.lock is a symbolic link" in proc.stderr
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert not (out / "results.csv").exists()
    # A dangling link is not followed either: nothing is created where it points.
    (out / ".dermscreen.lock").unlink()
    (out / ".dermscreen.lock").symlink_to(tmp_path / "created-through-the-link")
    proc = analyse(isic9_test_files[0], "--out", out, home=tmp_path / "home")
    assert proc.returncode == EXIT_OUTPUT
    assert not (tmp_path / "created-through-the-link").exists()
    # A stale lock file a killed run left (a regular file of ours) is taken over.
    (out / ".dermscreen.lock").unlink()
    (out / ".dermscreen.lock").write_text("pid 999999\n", encoding="utf-8")
    proc = analyse(isic9_test_files[0], "--out", out, home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert len(csv_rows(out)[1]) == 1 and not (out / ".dermscreen.lock").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a file to another user needs root")
def test_a_lock_file_of_another_user_is_refused(tmp_path: Path,
                                                isic9_test_files: list[Path]) -> None:
    import pwd

    out = tmp_path / "out"
    out.mkdir()
    lock = out / ".dermscreen.lock"
    lock.write_text("", encoding="utf-8")
    os.chown(lock, pwd.getpwnam("nobody").pw_uid, -1)
    proc = analyse(isic9_test_files[0], "--out", out, home=tmp_path / "home")
    assert proc.returncode == EXIT_OUTPUT
    assert b"belongs to another user" in proc.stderr
    assert lock.read_text(encoding="utf-8") == ""


# --- 4. folders that cannot be listed --------------------------------------------------------

def _as_other_user() -> tuple[str, ...] | None:
    """A command prefix that runs a child as ``nobody`` (root bypasses permissions), () when
    not root, None when it cannot be done here."""
    if not hasattr(os, "geteuid"):
        return None
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = (setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups")
    probe = subprocess.run([*prefix, sys.executable, "-c", "import desktop_app.cli"],
                           cwd=REPO, env=cli_env(Path("/nonexistent")), capture_output=True,
                           timeout=CLI_TIMEOUT_S, check=False)
    return prefix if probe.returncode == 0 else None


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder another user can enter (pytest's own is 0700 root)."""
    base = Path(tempfile.mkdtemp(prefix="dermscreen-hostile-"))
    base.chmod(0o755)
    umask = os.umask(0o022)  # what is made inside is readable by all (0755 / 0644)
    try:
        yield base
    finally:
        os.umask(umask)
        shutil.rmtree(base)  # fd-based: removes paths longer than PATH_MAX


def _deep_chain(top: Path, image: Path) -> None:
    """top/a.../a.../... beyond PATH_MAX (4096), an image at the bottom (made with dir fds)."""
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(22):  # 22 x 201 characters
            os.mkdir("a" * 200, dir_fd=fd)
            child = os.open("a" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
        out = os.open("deep.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        with open(out, "wb") as fh:
            fh.write(image.read_bytes())
    finally:
        os.close(fd)


def test_each_unlistable_subfolder_gets_its_own_row(
        shared_tmp: Path, isic9_test_files: list[Path]) -> None:
    prefix = _as_other_user()
    if prefix is None:
        pytest.skip("cannot run the CLI as another user here (setpriv / nobody missing)")
    clinic = shared_tmp / "clinic"
    (clinic / "open").mkdir(parents=True)
    for i in range(3):
        shutil.copyfile(isic9_test_files[i], clinic / f"good{i}.jpg")
    shutil.copyfile(isic9_test_files[3], clinic / "open" / "sub.jpg")
    (clinic / "locked").mkdir()
    shutil.copyfile(isic9_test_files[4], clinic / "locked" / "hidden-from-us.jpg")
    (clinic / "deep").mkdir()
    _deep_chain(clinic / "deep", isic9_test_files[5])
    for name in ("out", "out-flat", "home"):
        (shared_tmp / name).mkdir()
        (shared_tmp / name).chmod(0o777)  # the other user writes here
    (clinic / "locked").chmod(0o000)
    try:
        proc = analyse(clinic, "--recursive", "--out", shared_tmp / "out",
                       home=shared_tmp / "home", prefix=prefix)
        flat = analyse(clinic, "--out", shared_tmp / "out-flat", home=shared_tmp / "home",
                       prefix=prefix)
    finally:
        (clinic / "locked").chmod(0o755)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    _no_traceback(proc)
    rows = csv_rows(shared_tmp / "out")[1]
    ok = sorted(r["path"] for r in rows if r["status"] == "ok")
    assert ok == ["good0.jpg", "good1.jpg", "good2.jpg", "open/sub.jpg"]
    errors = {r["path"]: r for r in rows if r["status"] == "error"}
    assert len(rows) == 6 and len(errors) == 2
    assert errors["locked"]["error"] == "cannot list folder (Permission denied)"
    assert errors["locked"]["error_code"] == "unreadable"
    (deep,) = [p for p in errors if p.startswith("deep/")]
    assert "File name too long" in errors[deep]["error"]
    # Without --recursive the subfolders are not searched: no rows for them at all.
    assert flat.returncode == 0, flat.stderr.decode(errors="replace")
    assert sorted(r["path"] for r in csv_rows(shared_tmp / "out-flat")[1]) == [
        "good0.jpg", "good1.jpg", "good2.jpg"]


# --- 9. a folder named like an image; an empty --out ------------------------------------------

def test_a_folder_named_like_an_image_is_a_folder(tmp_path: Path,
                                                  isic9_test_files: list[Path]) -> None:
    clinic = tmp_path / "clinic"
    (clinic / "x.jpg").mkdir(parents=True)
    shutil.copyfile(isic9_test_files[0], clinic / "a.jpg")
    shutil.copyfile(isic9_test_files[1], clinic / "x.jpg" / "inner.jpg")
    flat = analyse(clinic, "--out", tmp_path / "flat", home=tmp_path / "home")
    assert flat.returncode == 0
    assert [(r["path"], r["status"]) for r in csv_rows(tmp_path / "flat")[1]] == [("a.jpg", "ok")]
    deep = analyse(clinic, "--recursive", "--out", tmp_path / "deep", home=tmp_path / "home")
    assert deep.returncode == 0
    assert [(r["path"], r["status"]) for r in csv_rows(tmp_path / "deep")[1]] == [
        ("a.jpg", "ok"), ("x.jpg/inner.jpg", "ok")]


def test_an_empty_out_is_refused(tmp_path: Path, isic9_test_files: list[Path]) -> None:
    for empty in ("", "  "):
        proc = analyse(isic9_test_files[0], "--out", empty, home=tmp_path / "home", cwd=tmp_path)
        assert proc.returncode == EXIT_USAGE
        assert b"argument --out: needs a folder name" in proc.stderr
    assert not (tmp_path / "results.csv").exists()  # nothing written where it ran


# --- 6. an earlier results.csv moves to superseded/ -------------------------------------------

def test_an_earlier_results_csv_is_superseded_not_replaced(
        tmp_path: Path, isic9_test_files: list[Path]) -> None:
    out = tmp_path / "out"
    first = analyse(isic9_test_files[0], "--out", out, home=tmp_path / "home")
    assert first.returncode == 0
    earlier = (out / "results.csv").read_bytes()
    second = analyse(isic9_test_files[1], "--out", out, home=tmp_path / "home")
    assert second.returncode == 0
    (moved,) = list((out / "superseded").iterdir())
    assert (moved / "results.csv").read_bytes() == earlier
    assert str(moved).encode() in second.stdout
    assert [r["file_name"] for r in csv_rows(out)[1]] == [isic9_test_files[1].name]


# --- 8. a full, closed or missing stdout -------------------------------------------------------

@pytest.mark.parametrize("stdout", ["/dev/full", "closed pipe", "closed fd"])
def test_an_unwritable_stdout_keeps_the_exit_code_true(
        stdout: str, tmp_path: Path, isic9_test_files: list[Path]) -> None:
    out = tmp_path / "out"
    args = [*isic9_test_files[:3], "--out", out]
    if stdout == "/dev/full":
        with open("/dev/full", "wb") as full:
            proc = analyse(*args, home=tmp_path / "home", stdout=full, stderr=subprocess.PIPE)
    elif stdout == "closed pipe":
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the run prints (``| head`` ended)
        try:
            proc = analyse(*args, home=tmp_path / "home", stdout=write_end,
                           stderr=subprocess.PIPE)
        finally:
            os.close(write_end)
    else:  # started with stdout closed (``>&-``)
        proc = analyse(*args, home=tmp_path / "home", stderr=subprocess.PIPE,
                       preexec_fn=lambda: os.close(1))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    _no_traceback(proc)
    assert b"Exception ignored" not in proc.stderr
    assert [r["status"] for r in csv_rows(out)[1]] == ["ok"] * 3
