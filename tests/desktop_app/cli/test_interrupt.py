"""A stopped run keeps its finished rows; a run owns its output folder.

The real CLI runs as a child process on the 2,241 isic9 Train images with its
stderr on a pseudo-terminal, so its progress bar says how far it got; the
signal is sent once it has finished some files, well before it could finish all.
"""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from desktop_app.core.inference.results import CSV_COLUMNS
from desktop_app.reports.csv_report import read_results_csv
from tests.desktop_app.cli.conftest import cli_argv, cli_env, run_cli_process
from tests.support.data import REPO

N_TRAIN = 2241


class TerminalRun:
    """The CLI in a child process whose stderr is a terminal (read on a thread)."""

    def __init__(self, *args: str | Path) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(cli_argv(*args), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=slave, cwd=REPO,
                                     env=cli_env(), text=True)
        os.close(slave)
        self._master = master
        self._chunks: list[str] = []
        self._progress = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 4096)
            except OSError:  # EIO: the child closed the terminal
                data = b""
            with self._progress:
                if data:
                    self._chunks.append(data.decode("utf-8", "replace"))
                self._progress.notify_all()
            if not data:
                return

    @property
    def stderr(self) -> str:
        with self._progress:
            return "".join(self._chunks)

    def done_so_far(self) -> int:
        counts = re.findall(r"\] (\d+)/\d+", self.stderr)
        return int(counts[-1]) if counts else 0

    def wait_until_done(self, n: int, timeout: float = 300) -> None:
        """Block until the progress bar shows ``n`` files done (fails the test on a timeout)."""
        with self._progress:
            ok = self._progress.wait_for(
                lambda: self.done_so_far() >= n or self.proc.poll() is not None, timeout)
        if not ok or self.proc.poll() is not None:
            self.proc.kill()
            pytest.fail(f"the run did not reach {n} files: {self.stderr[-2000:]}")

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        stdout, _ = self.proc.communicate(timeout=timeout)
        self._reader.join(timeout)
        os.close(self._master)
        return self.proc.returncode, stdout, self.stderr


def _check_partial(out: Path) -> list[dict[str, str]]:
    rows = read_results_csv(out / "results.partial.csv")
    assert rows and tuple(rows[0]) == CSV_COLUMNS
    indices = [int(r["index"]) for r in rows]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    assert all(r["status"] in ("ok", "error") for r in rows)
    return rows


def test_sigterm_keeps_finished_rows_and_a_second_run_is_refused(
        model_path: Path, isic9_dir: Path, good_files: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    previous = "a complete earlier results.csv\n"
    (out / "results.csv").write_text(previous, encoding="utf-8")
    run = TerminalRun("analyse", isic9_dir / "Train", "--recursive", "--out", out,
                      "--model", model_path)
    try:
        run.wait_until_done(10)
        # A second run into the same folder while the first holds it: refused at once.
        second = run_cli_process("analyse", good_files[0], "--out", out, "--model", model_path)
        assert second.returncode == 4, second.stderr
        assert f"in use by another DermScreen run (pid {run.proc.pid})" in second.stderr
        run.proc.send_signal(signal.SIGTERM)
    finally:
        code, stdout, stderr = run.finish()
    assert code == 143, stderr
    assert "stopped by SIGTERM" in stderr and "PARTIAL" in stderr
    assert "results.partial.csv" in stdout and stdout.startswith("PARTIAL")
    rows = _check_partial(out)
    assert 10 <= len(rows) < N_TRAIN
    assert (out / "results.csv").read_text(encoding="utf-8") == previous
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "results.partial.csv"]


def test_ctrl_c_writes_a_partial_file_not_results_csv(model_path: Path, isic9_dir: Path,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = TerminalRun("analyse", isic9_dir / "Train", "--recursive", "--out", out,
                      "--model", model_path)
    try:
        run.wait_until_done(5)
        run.proc.send_signal(signal.SIGINT)
    finally:
        code, _stdout, stderr = run.finish()
    assert code == 130, stderr
    assert "stopped by Ctrl-C (SIGINT)" in stderr
    assert 5 <= len(_check_partial(out)) < N_TRAIN
    assert not (out / "results.csv").exists()


def test_sighup_is_treated_like_sigterm(model_path: Path, isic9_dir: Path,
                                        tmp_path: Path) -> None:
    """A closed terminal or SSH session (SIGHUP, sent with os.kill) keeps the finished rows."""
    out = tmp_path / "out"
    out.mkdir()
    previous = "a complete earlier results.csv\n"
    (out / "results.csv").write_text(previous, encoding="utf-8")
    run = TerminalRun("analyse", isic9_dir / "Train", "--recursive", "--out", out,
                      "--model", model_path)
    try:
        run.wait_until_done(5)
        os.kill(run.proc.pid, signal.SIGHUP)
    finally:
        code, stdout, stderr = run.finish()
    assert code == 128 + signal.SIGHUP, stderr
    assert "stopped by SIGHUP (the terminal was closed)" in stderr and "PARTIAL" in stderr
    assert stdout.startswith("PARTIAL")
    assert 5 <= len(_check_partial(out)) < N_TRAIN
    assert (out / "results.csv").read_text(encoding="utf-8") == previous
