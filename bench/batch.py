"""Batch analysis throughput and memory: DermScreen's engine vs the forward pass vs a baseline.

First, the whole-process comparison (issue 17): ``dermscreen analyze FOLDER
--recursive`` against the method's own per-image pipeline
(``bench/method_baseline.py``: OpenCV read, hair removal, resize, Keras
``predict`` one image at a time, scikit-image SSIM), each as its own process
on the same folder, paired and alternated, median of ``--repeats``: wall time
(start-up included), CPU seconds (RUSAGE_CHILDREN) and peak RSS. Then the CPU
milliseconds per image split into read, decode, hash, resize, hair removal,
model, score and CSV (``bench/stages.py``).

Then, on (a) the isic9 Test images and (b) the uda1-fullres originals repeated
to 200 files (symlinks in a temp folder):

* engine end to end: ``Engine.analyze`` (decode, preprocess on the thread pool,
  SHA-256, batched ONNX Runtime, results), with the process CPU utilisation
  cpu_time / wall / n_cores (psutil);
* ONNX Runtime forward alone on already preprocessed tensors (same batch size);
* the baseline the project's report used: the same preprocessing, then Keras
  ``model.predict`` one image at a time (TensorFlow is imported only here).

And the peak RSS of a child process running ``dermscreen analyze`` on a
10,000-file folder (symlinks), measured before TensorFlow is imported. Not a test: figures vary with the machine.

    .venv/bin/python bench/batch.py [--model FILE] [--run DIR] [--whole FOLDER ...]
        [--repeats N] [--big N] [--skip-rss] [--skip-engine] [--skip-whole]
    .venv/bin/python bench/batch.py --model A.onnx --compare-model B.onnx [--whole FOLDER]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.stages import format_split, stage_split  # noqa: E402
from desktop_app.core.base.paths import default_model_path  # noqa: E402
from desktop_app.core.imaging.preprocess import PreprocessConfig, preprocess_file  # noqa: E402
from desktop_app.core.inference.engine import Engine, inference_threads  # noqa: E402
from desktop_app.core.model.model_file import LoadedModel, load_model  # noqa: E402

DATA = Path(os.environ.get("DERMSCREEN_SHARED", REPO.parent / "shared")) / "data"
N_CORES = psutil.cpu_count(logical=True) or 1


def link_files(sources: list[Path], n: int, folder: Path) -> list[Path]:
    """``n`` symlinks in ``folder`` cycling through ``sources`` (distinct names)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        src = sources[i % len(sources)]
        dst = folder / f"{i:05d}_{src.name}"
        dst.symlink_to(src)
        out.append(dst)
    return out


def _cpu_s() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def bench_engine(
    model: LoadedModel, files: list[Path], batch_size: int
) -> tuple[float, float, float, int]:
    """images/s, CPU utilisation (0-1 of all cores), CPU ms per image, error rows."""
    engine = Engine(model, batch_size=batch_size)
    engine.analyze_all(files[:4])  # warm-up: ORT allocations, thread start
    cpu0, t0 = _cpu_s(), time.perf_counter()
    results = engine.analyze_all(files)
    wall = time.perf_counter() - t0
    used = _cpu_s() - cpu0
    errors = sum(not r.ok for r in results)
    return len(files) / wall, used / wall / N_CORES, 1000 * used / len(files), errors


def bench_forward(model: LoadedModel, tensors: np.ndarray, batch_size: int) -> tuple[float, float]:
    """images/s and CPU ms per image of ONNX Runtime alone on preprocessed tensors."""
    model.run(tensors[:batch_size])  # warm-up
    cpu0, t0 = _cpu_s(), time.perf_counter()
    for i in range(0, len(tensors), batch_size):
        model.run(tensors[i : i + batch_size])
    wall = time.perf_counter() - t0
    return len(tensors) / wall, 1000 * (_cpu_s() - cpu0) / len(tensors)


def keras_baseline_model(run_dir: Path) -> tuple[Any, str]:
    """The trained Keras CAE of ``run_dir``, else an untrained one of the same architecture."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        from training.run import load_keras_model

        return load_keras_model(run_dir), f"trained Keras model from {run_dir}"
    except (FileNotFoundError, OSError, ValueError) as exc:
        from training.model import build_cae

        return build_cae(), f"UNTRAINED build_cae() (no trained model in {run_dir}: {exc})"


def bench_baseline(keras_model: Any, files: list[Path], cfg: PreprocessConfig) -> tuple[float, float]:
    """What the report did: preprocess one image, ``model.predict`` it, next image.

    Returns images/s and CPU ms per image.
    """
    keras_model.predict(preprocess_file(files[0], cfg)[None], verbose=0)  # warm-up
    cpu0, t0 = _cpu_s(), time.perf_counter()
    for f in files:
        keras_model.predict(preprocess_file(f, cfg)[None], verbose=0)
    wall = time.perf_counter() - t0
    return len(files) / wall, 1000 * (_cpu_s() - cpu0) / len(files)


def _vm_hwm(pid: int) -> int:
    """The process's own peak RSS (VmHWM, bytes) from /proc; 0 where unavailable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure_process(cmd: list[str], cwd: Path = REPO) -> tuple[float, float, float, int, str]:
    """Run ``cmd`` as a child; (wall s, CPU s, peak RSS MB, exit code, last stdout line).

    CPU is the child's user + system time from RUSAGE_CHILDREN (exact once it
    is reaped). The peak is the child's VmHWM (Linux) or polled RSS, sampled
    every 50 ms; ru_maxrss of RUSAGE_CHILDREN is not used: after fork/vfork it
    also counts the parent's pages before exec, i.e. this benchmark's memory.
    """
    peak = 0
    stop = threading.Event()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    ps = psutil.Process(child.pid)

    def poll() -> None:
        nonlocal peak
        while not stop.is_set():
            with contextlib.suppress(psutil.Error):
                peak = max(peak, ps.memory_info().rss, _vm_hwm(child.pid))
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    out, err = child.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    poller.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if child.returncode != 0:
        print(err.decode(errors="replace")[-2000:], file=sys.stderr)
    lines = out.decode(errors="replace").strip().splitlines()
    return wall, cpu, peak / 2**20, child.returncode, (lines[-1] if lines else "")


def peak_rss_of_cli(model_path: Path, folder: Path, out: Path) -> tuple[float, float, int]:
    """Run ``dermscreen analyze folder`` in a child; (peak RSS MB, wall s, exit code)."""
    cmd = [sys.executable, "-m", "desktop_app.cli", "analyze", str(folder), "--out", str(out),
           "--model", str(model_path)]
    wall, _, peak, code, _ = measure_process(cmd)
    return peak, wall, code


def count_images(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def whole_process(folder: Path, model: LoadedModel, run_dir: Path | None, repeats: int,
                  tmp: Path, before: tuple[Path, Path] | None = None) -> str:
    """Paired, alternated whole-process runs of DermScreen and the method; a printable report.

    ``before`` (a checkout of an earlier commit, the model it shipped) adds that
    version's ``dermscreen analyze`` to every round, so before and after are paired too.
    """
    n = count_images(folder)
    ours_cmd = [sys.executable, "-m", "desktop_app.cli", "analyze", str(folder), "--recursive",
                "--model", str(model.path)]
    old: list[tuple[float, float, float, int]] = []
    base_cmd = [sys.executable, str(REPO / "bench" / "method_baseline.py"), str(folder),
                "--threshold", repr(model.metadata.threshold)]
    if run_dir is not None and (run_dir / "model.keras").exists():
        base_cmd += ["--run", str(run_dir)]
    ours, base = [], []
    note = ""
    for i in range(repeats):
        ours.append(measure_process([*ours_cmd, "--out", str(tmp / f"ours-{i}")])[:4])
        if before is not None:
            checkout, old_model = before
            old.append(measure_process(
                [sys.executable, "-m", "desktop_app.cli", "analyze", str(folder), "--recursive",
                 "--model", str(old_model), "--out", str(tmp / f"before-{i}")], cwd=checkout)[:4])
        b = measure_process([*base_cmd, "--out", str(tmp / f"base-{i}.csv")])
        base.append(b[:4])
        note = b[4]
    if any(r[3] != 0 for r in ours + old + base):
        return (f"{folder}: a run failed (exit codes {[r[3] for r in ours]} / "
                f"{[r[3] for r in old]} / {[r[3] for r in base]})")

    def med(runs: list[tuple[float, float, float, int]], k: int) -> float:
        return statistics.median(r[k] for r in runs)

    o_wall, b_wall = med(ours, 0), med(base, 0)
    before_line = ""
    if old:
        w = med(old, 0)
        before_line = (
            f"  before ({before[0].name}) {w:7.1f} s  {n / w:6.1f} img/s  {med(old, 1):7.1f} CPU-s  "
            f"peak RSS {med(old, 2):5.0f} MiB  speed-up {b_wall / w:.1f}x wall; "
            f"now {w / o_wall:.2f}x faster\n"
        )
    return (
        f"{folder} ({n} images), whole process, median of {repeats} paired runs:\n"
        f"  dermscreen analyze {o_wall:7.1f} s  {n / o_wall:6.1f} img/s  {med(ours, 1):7.1f} CPU-s  "
        f"peak RSS {med(ours, 2):5.0f} MiB\n"
        + before_line +
        f"  method pipeline    {b_wall:7.1f} s  {n / b_wall:6.1f} img/s  {med(base, 1):7.1f} CPU-s  "
        f"peak RSS {med(base, 2):5.0f} MiB\n"
        f"  speed-up {b_wall / o_wall:.1f}x wall, {med(base, 1) / med(ours, 1):.1f}x CPU"
        f"  (baseline: {note})"
    )


def paired_models(folder: Path, model: Path, other: Path, repeats: int, tmp: Path) -> str:
    """``dermscreen analyze --recursive`` with ``model`` and with ``other``, alternated in
    each round (same checkout, same folder): the throughput ratio model/other (issue 27:
    the combined model must keep at least 70% of the CAE's)."""
    n = count_images(folder)
    runs: dict[str, list[tuple[float, float, float, int]]] = {"model": [], "other": []}
    for i in range(repeats):
        for key, path in (("model", model), ("other", other)):
            cmd = [sys.executable, "-m", "desktop_app.cli", "analyze", str(folder), "--recursive",
                   "--model", str(path), "--out", str(tmp / f"{key}-{i}")]
            runs[key].append(measure_process(cmd)[:4])
    if any(r[3] != 0 for rs in runs.values() for r in rs):
        return f"{folder}: a run failed ({ {k: [r[3] for r in v] for k, v in runs.items()} })"

    def med(key: str, k: int) -> float:
        return statistics.median(r[k] for r in runs[key])

    lines = [f"{folder} ({n} images), whole process, median of {repeats} paired runs:"]
    for key, path in (("model", model), ("other", other)):
        w = med(key, 0)
        lines.append(f"  {path.name:32s} {w:7.1f} s  {n / w:6.1f} img/s  {med(key, 1):7.1f} CPU-s  "
                     f"peak RSS {med(key, 2):5.0f} MiB")
    lines.append(f"  throughput {model.name} / {other.name}: {med('other', 0) / med('model', 0):.2f} "
                 f"(CPU-s ratio {med('other', 1) / med('model', 1):.2f})")
    return "\n".join(lines)


def candidates_table(folder: Path, models: list[Path], run_dir: Path | None, repeats: int,
                     tmp: Path) -> str:
    """Whole-process ``dermscreen analyze`` of each candidate model and the method's own
    per-image pipeline, alternated in each round on the same folder (issue 34): img/s,
    CPU-ms per image and each candidate's speed against the method (floor for the default: 2x)."""
    n = count_images(folder)
    base_cmd = [sys.executable, str(REPO / "bench" / "method_baseline.py"), str(folder)]
    if run_dir is not None and (run_dir / "model.keras").exists():
        base_cmd += ["--run", str(run_dir)]
    # Candidates are named by file, or by folder/file when two files share a name.
    names = [m.name for m in models]
    label = {m: m.name if names.count(m.name) == 1 else f"{m.parent.name}/{m.name}" for m in models}
    runs: dict[str, list[tuple[float, float, float, int]]] = {label[m]: [] for m in models}
    runs["method pipeline"] = []
    note = ""
    for i in range(repeats):
        for k, m in enumerate(models):
            cmd = [sys.executable, "-m", "desktop_app.cli", "analyze", str(folder), "--recursive",
                   "--model", str(m), "--out", str(tmp / f"{k}-{m.stem}-{i}")]
            runs[label[m]].append(measure_process(cmd)[:4])
            print(f"  round {i + 1}: {label[m]} {runs[label[m]][-1][0]:.1f} s", flush=True)
        b = measure_process([*base_cmd, "--out", str(tmp / f"base-{i}.csv")])
        runs["method pipeline"].append(b[:4])
        note = b[4]
        print(f"  round {i + 1}: method pipeline {b[0]:.1f} s", flush=True)
    failed = {k: [r[3] for r in v] for k, v in runs.items() if any(r[3] != 0 for r in v)}
    if failed:
        return f"{folder}: a run failed (exit codes {failed})"

    def med(key: str, k: int) -> float:
        return statistics.median(r[k] for r in runs[key])

    base_wall = med("method pipeline", 0)
    lines = [f"{folder} ({n} images), whole process, median of {repeats} alternated runs:",
             "| Candidate | wall s | img/s | CPU-ms / image | peak RSS MiB | vs method (wall) |",
             "|---|---|---|---|---|---|"]
    for key in runs:
        w = med(key, 0)
        lines.append(f"| {key} | {w:.1f} | {n / w:.1f} | {1000 * med(key, 1) / n:.1f} | "
                     f"{med(key, 2):.0f} | {base_wall / w:.2f}x |")
    lines.append(f"(method pipeline: {note})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="ONNX model (default: desktop_app.core.base.paths.default_model_path())")
    parser.add_argument("--run", type=Path, default=REPO / "runs" / "reference",
                        help="training run for the Keras baseline (default: runs/reference)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--intra-op-threads", type=int, default=None,
                        help="ONNX Runtime threads for the engine (default: inference_threads())")
    parser.add_argument("--fullres-count", type=int, default=200)
    parser.add_argument("--big", type=int, default=10_000, help="files in the RSS run")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--whole", type=Path, action="append", default=None, metavar="FOLDER",
                        help="folders for the whole-process comparison (default: isic9/Train "
                             "and uda1-fullres)")
    parser.add_argument("--repeats", type=int, default=2, help="paired whole-process runs")
    parser.add_argument("--skip-whole", action="store_true")
    parser.add_argument("--before", type=Path, nargs=2, default=None, metavar=("CHECKOUT", "MODEL"),
                        help="also run an earlier version's analyze (a checkout, e.g. a git "
                             "worktree, and its model file) in every round of the comparison")
    parser.add_argument("--compare-model", type=Path, default=None, metavar="MODEL",
                        help="only the paired whole-process run of --model against MODEL on "
                             "the --whole folders (default isic9/Train), then stop")
    parser.add_argument("--candidates", type=Path, nargs="+", default=None, metavar="MODEL",
                        help="only the whole-process table of these models beside the method's "
                             "pipeline on the --whole folders (default isic9/Train), then stop")
    parser.add_argument("--skip-engine", action="store_true",
                        help="skip the in-process engine / forward / baseline sets")
    args = parser.parse_args(argv)

    if args.candidates:
        with tempfile.TemporaryDirectory(prefix="dermscreen-bench-") as tmp_name:
            for folder in args.whole or [DATA / "isic9" / "Train"]:
                print(candidates_table(folder, args.candidates, args.run, args.repeats,
                                       Path(tmp_name)), flush=True)
        print(f"machine load average {os.getloadavg()[0]:.1f} on {N_CORES} cores")
        return 0
    model_path = args.model or default_model_path()
    if not model_path.exists():
        print(f"model not found: {model_path}; pass --model FILE", file=sys.stderr)
        return 2
    # The engine's model is loaded the way `dermscreen analyze` loads it; the
    # forward-alone figure uses ONNX Runtime's default (all-core) thread pool,
    # its fastest setting when nothing else runs.
    threads = args.intra_op_threads or inference_threads()
    model = load_model(model_path, intra_op_threads=threads)
    forward_model = load_model(model_path)
    cfg = model.metadata.preprocess
    print(f"model: {model_path} ({model.display_name}, sha {model.short_sha}, "
          f"{model.provider_label}); {N_CORES} cores; engine batch {args.batch_size}, "
          f"{Engine(model).workers} preprocessing threads, {threads} ONNX Runtime thread(s)")

    if args.compare_model is not None:
        with tempfile.TemporaryDirectory(prefix="dermscreen-bench-") as tmp_name:
            for folder in args.whole or [DATA / "isic9" / "Train"]:
                print(paired_models(folder, model_path, args.compare_model, args.repeats,
                                    Path(tmp_name)), flush=True)
        print(f"machine load average {os.getloadavg()[0]:.1f} on {N_CORES} cores")
        return 0
    isic = sorted((DATA / "isic9" / "Test").glob("*/*.jpg"))
    fullres_src = sorted((DATA / "uda1-fullres").glob("*.jpg"))
    with tempfile.TemporaryDirectory(prefix="dermscreen-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_whole:
            for folder in args.whole or [DATA / "isic9" / "Train", DATA / "uda1-fullres"]:
                print(whole_process(folder, model, args.run, args.repeats, tmp,
                                    None if args.before is None else tuple(args.before)), flush=True)
        for name, files in (("isic9 Test", isic), ("uda1-fullres", fullres_src)):
            per_image, masks = stage_split(load_model(model_path, intra_op_threads=threads), files)
            print(f"CPU ms per image by stage, {name} ({len(files)} files, one stage at a time):\n"
                  f"{format_split(per_image, masks)}", flush=True)
        if args.skip_engine:
            return 0
        sets = {
            "(a) isic9 Test": isic,
            f"(b) uda1-fullres x{args.fullres_count}": link_files(
                fullres_src, args.fullres_count, tmp / "fullres"),
        }
        if not args.skip_rss:
            # First, while this process is small (no TensorFlow yet).
            pool = sorted((DATA / "isic9").glob("*/*/*.jpg"))
            big = tmp / "big folder"
            link_files(pool, args.big, big)
            peak, wall, code = peak_rss_of_cli(model_path, big, tmp / "big-out")
            print(f"dermscreen analyze on {args.big} files (child process): exit {code}, "
                  f"{wall:.0f} s ({args.big / wall:.1f} img/s), peak RSS {peak:.0f} MB", flush=True)

        keras_model = None
        if not args.skip_baseline:
            keras_model, which = keras_baseline_model(args.run)
            print(f"baseline: {which}, predict() per image after preprocess_file()", flush=True)

        # Engine, forward pass and baseline back to back per set, so a shared
        # machine's changing load affects the three alike.
        for name, files in sets.items():
            rate, util, cpu_ms, errors = bench_engine(model, files, args.batch_size)
            tensors = np.stack([preprocess_file(f, cfg) for f in files])
            fwd, fwd_ms = bench_forward(forward_model, tensors, args.batch_size)
            del tensors
            print(f"{name}: {len(files)} files ({errors} errors)\n"
                  f"  engine        {rate:7.1f} img/s  {cpu_ms:6.1f} CPU ms/img  "
                  f"CPU utilisation {100 * util:5.1f}% of {N_CORES} cores\n"
                  f"  forward alone {fwd:7.1f} img/s  {fwd_ms:6.1f} CPU ms/img  "
                  f"engine/forward {rate / fwd:5.2f}", flush=True)
            if keras_model is not None:
                base, base_ms = bench_baseline(keras_model, files, cfg)
                print(f"  baseline      {base:7.1f} img/s  {base_ms:6.1f} CPU ms/img  "
                      f"engine/baseline {rate / base:5.1f}x", flush=True)
        print(f"machine load average {os.getloadavg()[0]:.1f} on {N_CORES} cores "
              "(figures on a shared machine are noisy; CPU ms/img is less load-sensitive)")

    return 0


if __name__ == "__main__":
    sys.exit(main())
