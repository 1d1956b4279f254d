"""Checks behind :func:`desktop_app.core.model.metadata.validate_metadata` that look inside
the JSON values: bounded parsing, and the numbers and shapes that decide.

A model file is data from outside. Its JSON values are parsed only when their
nesting is shallow (a ``[[[[...`` value of a million brackets would exhaust
Python's recursion limit); every number the app decides with (operating-point thresholds and
sensitivities, the screening point, the borderline edge, the test-set counts
behind the stated intervals) must be finite and in range, and every structure
of the expected type, or the model is refused with a named reason. Unknown keys
are left alone: a newer exporter may add fields this app does not read.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from desktop_app.core.wording.text_safety import strip_control

# Nesting of any metadata JSON value: the real ones are at most 6 deep.
MAX_JSON_DEPTH = 32
# All dermscreen.* values together (the real ones: ~40,000 characters).
MAX_TOTAL_PROP_CHARS = 8_000_000
# Operating points a model may store (the real ones: 11).
MAX_OPERATING_POINTS = 1_000
# Keys of an operating point that hold a proportion in [0, 1].
PROPORTION_KEYS = ("val_sensitivity", "val_specificity", "test_sensitivity", "test_specificity")
# Strings removed before the brackets are counted (a "[" inside a string is not nesting).
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


class JsonShapeError(ValueError):
    """A metadata JSON value is too deeply nested or not JSON."""


def json_depth(raw: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in ``raw`` (strings ignored), without parsing."""
    bare = _JSON_STRING.sub('""', raw).encode("utf-8", "replace")
    if not bare:
        return 0
    codes = np.frombuffer(bare, dtype=np.uint8)
    step = (np.isin(codes, (ord("["), ord("{"))).astype(np.int64)
            - np.isin(codes, (ord("]"), ord("}"))).astype(np.int64))
    return int(np.cumsum(step).max(initial=0))


def bounded_json(raw: str) -> Any:
    """``json.loads(raw)`` when its nesting is at most :data:`MAX_JSON_DEPTH`; raises
    :class:`JsonShapeError` (too deep, not JSON, absurd numbers). ``NaN`` and
    ``Infinity`` parse; the checks then name the field that holds one."""
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        msg = f"is nested {depth} levels deep; at most {MAX_JSON_DEPTH}"
        raise JsonShapeError(msg)
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        msg = f"is not valid JSON ({exc})"
        raise JsonShapeError(msg) from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit integer, a missed nesting
        msg = f"cannot be read ({type(exc).__name__}: {str(exc)[:100]})"
        raise JsonShapeError(msg) from None


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer of 400 digits: as good as infinite
        return math.inf if value > 0 else -math.inf


def _positive_finite(value: Any) -> bool:
    number = _number(value)
    return number is not None and math.isfinite(number) and number > 0


def operating_point_problems(points: Any) -> list[str]:
    """What is wrong with the ``operating_points`` list (empty when nothing is)."""
    if not isinstance(points, list):
        return ["operating_points must be a JSON list"]
    if len(points) > MAX_OPERATING_POINTS:
        return [f"{len(points):,} operating points stored; at most {MAX_OPERATING_POINTS:,}"]
    problems: list[str] = []
    for i, point in enumerate(points):
        where = f"operating point {i}"
        if not isinstance(point, dict):
            problems.append(f"{where} must be a JSON object, got {type(point).__name__}")
            continue
        if not _positive_finite(point.get("threshold")):
            problems.append(f"{where}: threshold must be a finite number above 0, "
                            f"got {str(point.get('threshold'))[:40]!r}")
        for key in PROPORTION_KEYS:
            if point.get(key) is None:
                continue
            number = _number(point[key])
            if number is None or not 0.0 <= number <= 1.0:
                problems.append(f"{where}: {key} must be a proportion from 0 to 1, "
                                f"got {str(point[key])[:40]!r}")
        alpha = point.get("alpha")
        if alpha is not None and not (_number(alpha) is not None and math.isfinite(alpha)):
            problems.append(f"{where}: alpha must be a finite number, got {str(alpha)[:40]!r}")
        for key in ("label", "role"):
            if point.get(key) is not None and not isinstance(point[key], str):
                problems.append(f"{where}: {key} must be text")
    return problems


# A combined model's parts (issue 27): extra["components"][key]["label"], shown to users.
COMPONENT_KEYS = ("anomaly", "classifier")
COMPONENT_LABEL_LIMIT = 200


def component_problems(components: Any) -> list[str]:
    """``extra.components``: known keys, each an object with a short text label."""
    if not isinstance(components, dict):
        return ["extra.components must be a JSON object"]
    problems = []
    for key, value in components.items():
        if key not in COMPONENT_KEYS:
            problems.append(f"extra.components has an unknown key {str(key)[:40]!r}")
        elif not (isinstance(value, dict) and isinstance(value.get("label"), str)
                  and 0 < len(strip_control(value["label"]).strip()) <= COMPONENT_LABEL_LIMIT):
            problems.append(f"extra.components.{key} needs a short text label")
    return problems


# The per-image statistics whose validation ranges travel in the model (extra.image_ranges);
# the drift check (core.inference.drift) computes them, this contract checks their ranges.
# Measured on the model's own input after preprocessing (not the original's size or aspect:
# every image is squashed to the square input, as the training images were).
STAT_NAMES: tuple[str, ...] = ("mean_r", "mean_g", "mean_b", "sharpness", "vignette_share")


def image_ranges_problems(ranges: Any) -> list[str]:
    """``extra.image_ranges`` (the per-image drift check's reference): every statistic the app
    checks, each a finite ``p005 <= p995``, and ``n`` a count. A model whose ranges are broken
    is refused, never run as if it had none."""
    where = "extra.image_ranges"
    if not isinstance(ranges, dict) or not isinstance(ranges.get("stats"), dict):
        return [f"{where} must be a JSON object with a 'stats' object"]
    problems: list[str] = []
    n = ranges.get("n", 0)
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 10**9:
        problems.append(f"{where}.n must be a count (a whole number from 0), got {str(n)[:40]!r}")
    if not isinstance(ranges.get("source", ""), str):
        problems.append(f"{where}.source must be text")
    for name in STAT_NAMES:
        entry = ranges["stats"].get(name)
        if not isinstance(entry, dict):
            problems.append(f"{where}.stats.{name} is missing")
            continue
        low, high = _number(entry.get("p005")), _number(entry.get("p995"))
        if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)) \
                or low > high:
            problems.append(f"{where}.stats.{name} must hold finite numbers p005 <= p995, got "
                            f"{str(entry.get('p005'))[:20]!r} and {str(entry.get('p995'))[:20]!r}")
    return problems


def extra_problems(extra: Any) -> list[str]:
    """The decisive fields of ``extra``: an explicit screening threshold, a combined model's
    component labels, the image ranges of the per-image drift check."""
    if not isinstance(extra, dict):
        return ["extra must be a JSON object"]
    problems = []
    if "screening_threshold" in extra and not _positive_finite(extra["screening_threshold"]):
        problems.append("extra.screening_threshold must be a finite number above 0 (the score "
                        f"is a reconstruction error), got {str(extra['screening_threshold'])[:40]!r}")
    if "components" in extra:
        problems += component_problems(extra["components"])
    if "image_ranges" in extra:
        problems += image_ranges_problems(extra["image_ranges"])
    return problems


def evaluation_problems(evaluation: Any) -> list[str]:
    """The decisive fields of ``evaluation``: the test-set confusion counts behind the
    95% intervals the app states."""
    if not isinstance(evaluation, dict):
        return ["evaluation must be a JSON object"]
    rows = evaluation.get("at_alphas", [])
    if not isinstance(rows, list):
        return ["evaluation.at_alphas must be a JSON list"]
    problems: list[str] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.append(f"evaluation.at_alphas[{i}] must be a JSON object")
            continue
        confusion = row.get("confusion")
        if confusion is None:
            continue
        if not isinstance(confusion, dict):
            problems.append(f"evaluation.at_alphas[{i}].confusion must be a JSON object")
            continue
        for key in ("tp", "fn", "tn", "fp"):
            value = confusion.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 0 <= value <= 10**9):
                problems.append(f"evaluation.at_alphas[{i}].confusion.{key} must be a count "
                                f"(a whole number from 0), got {str(value)[:40]!r}")
    return problems

