"""Adversarial inputs built at test time, run through the real CLI in a child process.

Every case runs ``python -m desktop_app.cli analyze ...`` under a timeout (a
hang fails the test instead of stalling CI) and checks what a user would meet:
the exit code, the results.csv rows, and that neither the CSV nor the terminal
received a formula or a raw escape. Models are the shipped reference model, or
the contract graph (tests/desktop_app/core/contract_model.py) carrying the
reference model's metadata with one hostile change.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop_app.core.base.paths import sidecar_path
from desktop_app.core.model.metadata import PREFIX
from tests.desktop_app.core.contract_model import (
    REFERENCE_MODEL,
    reference_props,
    save_contract_model,
)
from tests.support.data import png_header_only

REPO = Path(__file__).resolve().parents[2]
# A hang guard, not a timing assertion: a healthy run takes a few seconds.
CLI_TIMEOUT_S = 180
EXIT_MODEL = 3


def run_cli(args: list[str | Path], home: Path, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[bytes]:
    environ = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen",
               "DERMSCREEN_HOME": str(home), **(env or {})}
    environ.pop("DERMSCREEN_MODEL", None) if not env or "DERMSCREEN_MODEL" not in env else None
    return subprocess.run([sys.executable, "-m", "desktop_app.cli", *map(str, args)],
                          cwd=REPO, capture_output=True, timeout=CLI_TIMEOUT_S, env=environ,
                          check=False)


def csv_rows(out: Path) -> tuple[str, list[dict[str, str]]]:
    """The raw text of results.csv (CRLF kept) and its rows read as a spreadsheet would."""
    raw = (out / "results.csv").read_bytes().decode("utf-8-sig")
    return raw, list(csv.DictReader(io.StringIO(raw, newline="")))


def assert_no_raw_escapes(proc: subprocess.CompletedProcess[bytes], raw_csv: str = "") -> None:
    for stream in (proc.stdout, proc.stderr):
        assert b"\x1b" not in stream and b"\x9b" not in stream, stream[-2000:]
    assert "\x1b" not in raw_csv and "\x9b" not in raw_csv


def _save(path: Path, rgb: np.ndarray) -> Path:
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture
def hostile_folder(tmp_path: Path, isic9_test_files: list[Path]) -> dict[str, str]:
    """A clinic folder of good photographs mixed with every hostile file; name -> expected code."""
    folder = tmp_path / "clinic"
    folder.mkdir()
    rng = np.random.default_rng(5)
    expected: dict[str, str] = {}
    for i, src in enumerate(isic9_test_files[:2]):
        shutil.copy(src, folder / f"good{i}.jpg")
        expected[f"good{i}.jpg"] = ""
    os.mkfifo(folder / "x.jpg")  # a read would wait forever for a writer
    (folder / "z.jpg").symlink_to("/dev/zero")  # a read would never end
    (folder / "d.jpg").mkdir()  # a folder, not a file: no row without --recursive
    expected |= {"x.jpg": "unreadable", "z.jpg": "unreadable", "s.jpg": "unreadable"}
    _save(folder / "tall.jpg", rng.integers(0, 255, (20000, 128, 3), dtype=np.uint8))
    _save(folder / "one.png", np.full((1, 1, 3), 77, np.uint8))
    _save(folder / "blank.jpg", np.full((480, 640, 3), 255, np.uint8))
    (folder / "bomb.png").write_bytes(png_header_only(20000, 20000))  # 400 MP in 70 bytes
    gradient = (np.arange(2000, dtype=np.uint32) * 30).astype(np.uint16)
    noisy = gradient[:, None] + rng.integers(0, 2000, (2000, 2000), dtype=np.uint16)
    _save(folder / "gray16.png", noisy.astype(np.uint16))
    expected |= {"tall.jpg": "extreme_aspect", "one.png": "too_small", "blank.jpg": "blank_image",
                 "bomb.png": "too_large", "gray16.png": ""}
    for name in ('=HYPERLINK("evil.example";"x").jpg', "+SUM(1;2).jpg", "-2+3.jpg", "@cmd.jpg",
                 "\x1b[31mred\x1b[0m.jpg", "new\nline.jpg", "\u202egpj.exe.jpg"):
        shutil.copy(isic9_test_files[2], folder / name)
        expected[name] = ""
    return expected


def test_hostile_files_never_hang_and_every_file_gets_a_row(
    hostile_folder: dict[str, str], tmp_path: Path
) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "clinic" / "s.jpg"))
    try:
        proc = run_cli(["analyze", tmp_path / "clinic", "--out", tmp_path / "out",
                        "--model", REFERENCE_MODEL, "--workers", "2"], tmp_path / "home")
    finally:
        sock.close()
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    raw, rows = csv_rows(tmp_path / "out")
    assert_no_raw_escapes(proc, raw)
    assert len(rows) == len(hostile_folder)
    got = {}
    for row in rows:
        name = row["file_name"].removeprefix("'").replace("\ufffd", "?")
        got[name] = row
    for name, code in hostile_folder.items():
        shown = name.replace("\x1b", "?").replace("\n", "?").replace("\u202e", "?")
        row = got[shown]
        assert row["error_code"] == code, (name, row["error"])
        assert row["status"] == ("error" if code else "ok")
        if code:
            assert row["error"] and row["score"] == "" and row["triage"] == "error"
        else:
            assert row["triage"] in ("flagged", "borderline", "not flagged")
            assert float(row["score"]) >= 0
        # A spreadsheet never sees a formula: file names starting = + - @ carry an apostrophe.
        for column in ("path", "file_name"):
            assert row[column][:1] not in ("=", "+", "-", "@"), row[column]
    assert "d.jpg" not in got  # the folder named d.jpg got no spurious error row
    assert got["=HYPERLINK(\"evil.example\";\"x\").jpg"]["file_name"].startswith("'=")
    assert "not a regular file (a named pipe)" in got["x.jpg"]["error"]
    assert "character device" in got["z.jpg"]["error"] and "socket" in got["s.jpg"]["error"]
    assert "aspect ratio" in got["tall.jpg"]["error"]
    assert "megapixel" in got["bomb.png"]["error"]
    assert {row["model_verified"] for row in rows} == {"yes"}


def _hostile_model(tmp_path: Path, name: str, key: str, value: object,
                   field: str | None = None, sidecar: bool = True) -> Path:
    props = reference_props()
    if field is None:
        props[PREFIX + key] = str(value)
    else:
        data = json.loads(props[PREFIX + key])
        data[field] = value
        props[PREFIX + key] = json.dumps(data)
    return save_contract_model(tmp_path / "models" / f"{name}.onnx", props, sidecar=sidecar)


@pytest.mark.parametrize(
    ("case", "key", "field", "value", "reason"),
    [
        ("threshold-nan", "threshold", None, "nan", "threshold must be a finite number above 0"),
        ("threshold-neg", "threshold", None, "-1", "threshold must be a finite number above 0"),
        ("sd-zero", "benign_stats", "sd", 0.0, "benign sd must be a finite number above 0"),
        ("hair-ref-0", "preprocess", "hair_ref_side", 0, "hair_ref_side must be a whole number"),
        ("name-2mb", "model_name", None, "N" * 2_000_000, "at most 1,000,000"),
        # Issue 24: every number that decides, every structure, bounded JSON.
        ("screening-neg", "extra", "screening_threshold", -0.5,
         "extra.screening_threshold must be a finite number above 0"),
        ("screening-text", "extra", "screening_threshold", "0.07",
         "extra.screening_threshold must be a finite number above 0"),
        ("points-not-objects", "operating_points", None, "[1, 2]",
         "operating point 0 must be a JSON object"),
        ("points-object", "operating_points", None, '{"threshold": 0.1}',
         "operating_points must be a JSON list"),
        ("point-sens-2", "operating_points", None,
         '[{"threshold": 0.1, "val_sensitivity": 2.0, "role": "screening"}]',
         "operating point 0: val_sensitivity must be a proportion from 0 to 1"),
        ("band-edge-neg", "operating_points", None, '[{"threshold": -1, "role": "borderline"}]',
         "operating point 0: threshold must be a finite number above 0"),
        ("point-nan", "operating_points", None, '[{"threshold": NaN}]',
         "operating point 0: threshold must be a finite number above 0"),
        ("confusion-neg", "evaluation", None, '{"at_alphas": [{"confusion": {"tp": -5}}]}',
         "evaluation.at_alphas[0].confusion.tp must be a count"),
        ("mean-neg", "benign_stats", "mean", -3.0, "benign mean must be finite and not negative"),
        ("weights-neg", "loss_weights", "mse", -1.0, "loss weights must all be finite and not"),
        ("json-deep", "extra", None, "[" * 200_000 + "]" * 200_000,
         "metadata dermscreen.extra is nested 200000 levels deep; at most 32"),
        ("json-huge-int", "operating_points", None, '[{"threshold": 1' + "0" * 5000 + "}]",
         "metadata dermscreen.operating_points cannot be read"),
    ],
)
def test_hostile_models_are_refused_by_the_cli(
    case: str, key: str, field: str | None, value: object, reason: str, tmp_path: Path,
    isic9_test_files: list[Path],
) -> None:
    model = _hostile_model(tmp_path, case, key, value, field)
    args = ["analyze", isic9_test_files[0], "--out", tmp_path / "out"]
    # The same loader behind --model and DERMSCREEN_MODEL: the env route for one case.
    env = {"DERMSCREEN_MODEL": str(model)} if case == "threshold-nan" else None
    proc = run_cli(args if env else [*args, "--model", model], tmp_path / "home", env)
    assert proc.returncode == EXIT_MODEL, proc.stdout.decode(errors="replace")
    err = proc.stderr.decode(errors="replace")
    assert reason in err and model.name in err
    assert len(err) < 5000  # a 2 MB name is not echoed back
    assert not (tmp_path / "out" / "results.csv").exists()
    assert_no_raw_escapes(proc)


def test_a_model_cannot_switch_the_bomb_limit_off(tmp_path: Path, isic9_test_files: list[Path]
                                                  ) -> None:
    model = _hostile_model(tmp_path, "loose", "preprocess", 10**15, "max_pixels")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(20000, 20000))  # 400 MP declared in a few bytes
    proc = run_cli(["analyze", bomb, isic9_test_files[0], "--out", tmp_path / "out",
                    "--model", model], tmp_path / "home")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    _, rows = csv_rows(tmp_path / "out")
    assert rows[0]["error_code"] == "too_large" and "100 megapixel limit" in rows[0]["error"]
    assert rows[1]["status"] == "ok"


def test_unverified_and_tampered_models(tmp_path: Path, isic9_test_files: list[Path]) -> None:
    bare = _hostile_model(tmp_path, "bare", "model_version", "1.0.0", sidecar=False)
    proc = run_cli(["analyze", isic9_test_files[0], "--out", tmp_path / "out", "--model", bare,
                    "--pdf"], tmp_path / "home")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    _, rows = csv_rows(tmp_path / "out")
    assert rows[0]["status"] == "ok" and rows[0]["model_verified"] == "no"
    assert "warning: Unverified model: no bare.onnx.sha256 file" in proc.stderr.decode(errors="replace")
    assert "UNVERIFIED MODEL" in proc.stdout.decode(errors="replace")
    summary = subprocess.run(["pdftotext", "-layout", str(tmp_path / "out" / "summary.pdf"), "-"],
                             capture_output=True, check=True, text=True).stdout
    assert "UNVERIFIED MODEL" in summary
    # One byte changed after the sidecar was written: refused, and said why.
    signed = _hostile_model(tmp_path, "signed", "model_version", "1.0.0")
    data = bytearray(signed.read_bytes())
    data[len(data) // 2] ^= 0x01
    signed.write_bytes(bytes(data))
    assert sidecar_path(signed).exists()
    proc = run_cli(["analyze", isic9_test_files[0], "--out", tmp_path / "out2", "--model", signed],
                   tmp_path / "home")
    assert proc.returncode == EXIT_MODEL
    assert "does not match" in proc.stderr.decode(errors="replace")


def test_a_model_name_with_escapes_and_a_formula(tmp_path: Path, isic9_test_files: list[Path]
                                                 ) -> None:
    model = _hostile_model(tmp_path, "ansi", "model_name",
                           "=HYPERLINK(\"evil\")\x1b]0;pwned\x07\x1b[2J\r\nCAE")
    proc = run_cli(["analyze", isic9_test_files[0], "--out", tmp_path / "out", "--model", model],
                   tmp_path / "home")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    raw, rows = csv_rows(tmp_path / "out")
    assert_no_raw_escapes(proc, raw)
    assert rows[0]["model_name"] == "'=HYPERLINK(\"evil\")]0;pwned[2JCAE"
    assert raw.count("\r\n") == 2  # header and one row: the CR LF in the name forged nothing
