"""Paths to the real data in ../shared and helpers that make bad or odd image files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("DERMSCREEN_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
ISIC9 = DATA / "isic9"
FULLRES = DATA / "uda1-fullres"
MANIFEST = DATA / "manifest.csv"


@pytest.fixture(scope="session")
def isic9_dir() -> Path:
    if not ISIC9.is_dir():
        pytest.fail(f"real data missing: {ISIC9} (../shared must sit beside the repo)")
    return ISIC9


@pytest.fixture(scope="session")
def fullres_files() -> list[Path]:
    files = sorted(FULLRES.glob("*.jpg"))
    if not files:
        pytest.fail(f"real data missing: {FULLRES}")
    return files


@pytest.fixture(scope="session")
def isic9_sample_dir(isic9_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The isic9 layout with a few real images per class (symlinks): for code paths that
    train and evaluate end to end, where the whole set would only cost time (the 968
    Train malignant images alone take a minute to score per run)."""
    root = tmp_path_factory.mktemp("isic9-sample")
    for split, per_class in (("Train", 8), ("Test", 3)):
        for cls in sorted(p for p in (isic9_dir / split).iterdir() if p.is_dir()):
            target = root / split / cls.name
            target.mkdir(parents=True)
            for image in sorted(cls.glob("*.jpg"))[:per_class]:
                (target / image.name).symlink_to(image)
    return root


@pytest.fixture(scope="session")
def isic9_test_files(isic9_dir: Path) -> list[Path]:
    return sorted(isic9_dir.glob("Test/*/*.jpg"))


@pytest.fixture(autouse=True)
def isolated_user_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own user folder (models, logs, settings) and no model override."""
    home = tmp_path_factory.mktemp("dermscreen-home")
    monkeypatch.setenv("DERMSCREEN_HOME", str(home))
    monkeypatch.delenv("DERMSCREEN_MODEL", raising=False)
    return home


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` RGB pixels but holds no pixel data."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def make_bad_files(folder: Path) -> dict[str, Path]:
    """Write one file per bad-input case into ``folder``; returns case -> path."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    good = next(iter(sorted(ISIC9.glob("Test/melanoma/*.jpg"))))
    data = good.read_bytes()
    cases: dict[str, Path] = {}
    cases["empty"] = folder / "empty.jpg"
    cases["empty"].write_bytes(b"")
    cases["truncated"] = folder / "truncated.jpg"
    cases["truncated"].write_bytes(data[: len(data) // 2])
    cases["text"] = folder / "notes.jpg"
    cases["text"].write_text("this is not an image\n", encoding="utf-8")
    cases["unsupported"] = folder / "lesion.gif"
    Image.new("RGB", (32, 32), (120, 80, 60)).save(cases["unsupported"], format="GIF")
    # A 60000 x 60000 PNG header with almost no data: refused before decoding.
    cases["bomb"] = folder / "bomb.png"
    cases["bomb"].write_bytes(png_header_only(60000, 60000))
    cases["unreadable"] = folder / "folder.jpg"
    cases["unreadable"].mkdir(exist_ok=True)
    return cases
