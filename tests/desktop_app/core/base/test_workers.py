"""The daemon pool: results like a ThreadPoolExecutor, but shutdown never waits."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import CancelledError, wait
from pathlib import Path

import pytest

from desktop_app.core.base.workers import DaemonPool

REPO = Path(__file__).resolve().parents[4]


def test_results_and_exceptions() -> None:
    with DaemonPool(2) as pool:
        futures = [pool.submit(pow, i, 2) for i in range(10)]
        bad = pool.submit(int, "x")
        wait([*futures, bad], timeout=30)
        assert [f.result() for f in futures] == [i * i for i in range(10)]
        with pytest.raises(ValueError):
            bad.result()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(pow, 1, 1)
    with pytest.raises(ValueError):
        DaemonPool(0)


def test_shutdown_does_not_wait_for_a_stuck_worker() -> None:
    release = threading.Event()
    started = threading.Event()

    def stuck() -> str:
        started.set()
        release.wait(60)
        return "late"

    pool = DaemonPool(1)
    running = pool.submit(stuck)
    queued = pool.submit(pow, 2, 2)
    assert started.wait(30)
    pool.shutdown()  # returns while `stuck` still runs
    assert not release.is_set() and running.running()
    assert queued.cancelled()
    with pytest.raises(CancelledError):
        queued.result(timeout=0)
    release.set()
    assert running.result(timeout=30) == "late"
    assert pool.join(30)


def test_a_stuck_worker_does_not_keep_the_process_alive() -> None:
    """A ThreadPoolExecutor joins its threads at exit; a worker blocked forever would hang it."""
    code = (
        "import threading\n"
        "from desktop_app.core.base.workers import DaemonPool\n"
        "pool = DaemonPool(2)\n"
        "pool.submit(threading.Event().wait)\n"
        "pool.shutdown()\n"
        "print('exiting')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "exiting"
