"""PyInstaller entry point for the DermScreen bundle.

``dermscreen [ARGS]`` runs :func:`desktop_app.cli.main` (GUI by default, ``analyze``...);
``dermscreen check-gpu [--model FILE]`` runs ``installers/check_gpu.py``, so a site can
see which ONNX Runtime provider the bundled model really runs on.
"""

from __future__ import annotations

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["check-gpu"]:
        import check_gpu

        return check_gpu.main(args[1:])
    from desktop_app.cli import main as app_main

    return app_main(args)


if __name__ == "__main__":
    # Frozen Windows builds re-execute the program for child processes.
    multiprocessing.freeze_support()
    raise SystemExit(main())
