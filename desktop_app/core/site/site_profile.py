"""Site profiles: an operating point set on a site's own benign images (Qt-free).

A profile holds the scores one model (keyed by its file's SHA-256) gave a
folder of images the site knows to be benign, and the threshold chosen on
them: the local benign quantile for a target specificity (``quantile``), or
the seed's mean + alpha sd on the local scores (``alpha``). What to expect
there: the specificity from the local images with a 95% Wilson interval, and
the sensitivity *estimated* from the model's validation cancers at the same
benign quantile (no cancer from the site was used, so it is labelled so).

Profiles are private JSON files (0600) in ``<user data>/site_profiles``; they
can be exported, imported and removed. A file from outside is data: its
threshold is re-derived from its own scores and stored rule (a profile whose
threshold does not follow from them is refused), scores must be non-negative
and bounded, and the image statistics it accepts as usual at the site
(``accepted_flags``) must be supported by its own calibration images
(``flag_counts``). A profile replaced by an import or a new calibration of the
same name is kept under ``site_profiles/replaced/``. A profile works only with
the model it was made with: another model, or a retrained one, needs its own
calibration.

Over 500 lines on purpose: the profile, its validation when imported (a hostile file: every
field bounded, the threshold re-derived from the scores, accepted flags backed by counts) and
the private store that writes and reads it are one contract that changes together.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import stat
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.base.files import (
    FileWriteError,
    utc_now_iso,
    write_bytes_atomic,
    write_error_cause,
    write_text_atomic,
)
from desktop_app.core.base.paths import user_data_dir
from desktop_app.core.inference.drift import IMAGE_SHARE_ALARM, KNOWN_STAT_NAMES
from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.model.metadata_checks import STAT_NAMES
from desktop_app.core.model.operating_points import wilson
from desktop_app.core.model.score_stats import DEFAULT_ALPHA, QUANTILE_LEVELS

PROFILE_FORMAT = 1
MIN_IMAGES = 30  # fewer: the quantile's interval is wider than the point is worth
WARN_IMAGES = 100
MAX_IMAGES = 100_000
MAX_PROFILE_BYTES = 8 * 1024 * 1024
MAX_NAME_CHARS = 80
RULES = ("quantile", "alpha")
DEFAULT_SPECIFICITY = 0.5
# Scores are reconstruction errors or probabilities (every shipped model's lie under 10); a
# score far above this is a forged or corrupt file, not a site's benign image.
MAX_SCORE = 1e6
# The mean + alpha sd rule: the seed's alpha is 1.3; beyond these the "point" flags almost
# everything (negative) or nothing, whatever the scores say.
ALPHA_RANGE = (-3.0, 10.0)
REPLACED_DIR = "replaced"
_SHA = re.compile(r"^[0-9a-f]{64}$")
SENSITIVITY_CAVEAT = "not measured at this site; validate with dermscreen evaluate"


class ProfileError(ValueError):
    """A profile that cannot be made, read or used; the message says why in words."""


def profiles_dir() -> Path:
    return user_data_dir() / "site_profiles"


@dataclass(frozen=True)
class SiteProfile:
    """The benign scores of one site under one model, and the point chosen on them."""

    name: str
    model_sha256: str
    model_name: str
    model_version: str
    scores: tuple[float, ...]  # sorted
    rule: str
    target_specificity: float | None
    alpha: float | None
    threshold: float
    created_at: str
    created_by: str
    image_sha256: tuple[str, ...] = ()
    signed_off_by: str = ""
    imported: bool = False
    quantiles: dict[str, float] = field(default_factory=dict)
    # Image statistics out of the training range in at least a quarter of the site's own
    # calibration images: usual at this site, so they raise no batch alarm with this profile.
    accepted_flags: tuple[str, ...] = ()
    format: int = PROFILE_FORMAT
    # For each statistic: how many of the calibration images were out of the training range
    # on it; what supports ``accepted_flags`` (each at least IMAGE_SHARE_ALARM of the images).
    flag_counts: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.scores)

    @property
    def date(self) -> str:
        return self.created_at[:10]

    def specificity(self, threshold: float | None = None) -> float:
        """Share of the site's benign images at or below ``threshold`` (default: the profile's)."""
        t = self.threshold if threshold is None else threshold
        return float(np.mean(np.asarray(self.scores) <= t))

    def specificity_ci(self, threshold: float | None = None) -> tuple[float, float]:
        return wilson(self.specificity(threshold), self.n)

    def label(self) -> str:
        """'SITE (n 120, 2026-12-03)' as every report names it."""
        tag = ", imported" if self.imported else ""
        return f"{self.name} (n {self.n}, {self.date}{tag})"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["scores"] = list(self.scores)
        out["image_sha256"] = list(self.image_sha256)
        out["accepted_flags"] = list(self.accepted_flags)
        out["n"] = self.n
        return out

    @classmethod
    def from_dict(cls, data: Any) -> SiteProfile:
        """A profile from its JSON object, every field checked (ProfileError names the first bad one)."""
        if not isinstance(data, dict):
            raise ProfileError("not a site profile (expected a JSON object)")
        if data.get("format") != PROFILE_FORMAT:
            raise ProfileError(f"unknown site profile format {data.get('format')!r}")
        name = clean_name(_typed(data, "name", str))
        sha = _typed(data, "model_sha256", str).lower()
        if not _SHA.match(sha):
            raise ProfileError("model_sha256 is not a SHA-256")
        scores = data.get("scores")
        if not isinstance(scores, list) or not MIN_IMAGES <= len(scores) <= MAX_IMAGES:
            raise ProfileError(f"scores: expected a list of {MIN_IMAGES} to {MAX_IMAGES} numbers")
        values = tuple(_number(s, "scores", 0.0, MAX_SCORE) for s in scores)
        if list(values) != sorted(values):
            raise ProfileError("scores are not sorted")
        if "n" in data and data["n"] != len(values):
            raise ProfileError("n does not match the number of scores")
        rule = _typed(data, "rule", str)
        if rule not in RULES:
            raise ProfileError(f"rule must be one of {', '.join(RULES)}")
        spec = data.get("target_specificity")
        spec = None if spec is None else _number(spec, "target_specificity", 0.0, 1.0)
        if spec is not None and not 0 < spec < 1:
            raise ProfileError("target_specificity must lie between 0 and 1")
        alpha = data.get("alpha")
        alpha = None if alpha is None else _number(alpha, "alpha", *ALPHA_RANGE)
        threshold = _derived_threshold(values, rule, spec, alpha,
                                       _number(data.get("threshold"), "threshold", 0.0, MAX_SCORE))
        flags = data.get("accepted_flags", [])
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags) \
                or not set(flags) <= set(KNOWN_STAT_NAMES):
            raise ProfileError("accepted_flags: expected image statistic names")
        if "flag_counts" not in data:  # nothing to support them: the per-image alarm stays on
            flags = []
        # Statistics no longer checked (size, aspect: issue 30) silence nothing: dropped.
        flags = [f for f in flags if f in STAT_NAMES]
        counts = _flag_counts(data.get("flag_counts", {}), len(values))
        unsupported = [f for f in flags if counts.get(f, 0) < IMAGE_SHARE_ALARM * len(values)]
        if unsupported:
            raise ProfileError(
                f"accepted_flags lists {', '.join(sorted(unsupported))}, which its own "
                f"calibration images do not support (out of range in "
                f"{', '.join(f'{counts.get(f, 0)}' for f in sorted(unsupported))} of "
                f"{len(values)}; at least {IMAGE_SHARE_ALARM:.0%} needed)")
        shas = data.get("image_sha256", [])
        if not isinstance(shas, list) or len(shas) > MAX_IMAGES or not all(
                isinstance(s, str) and _SHA.match(s) for s in shas):
            raise ProfileError("image_sha256: expected a list of SHA-256 strings")
        return cls(
            name=name, model_sha256=sha,
            model_name=_typed(data, "model_name", str)[:MAX_NAME_CHARS],
            model_version=_typed(data, "model_version", str)[:MAX_NAME_CHARS],
            scores=values, rule=rule, target_specificity=spec, alpha=alpha,
            threshold=threshold,
            created_at=_typed(data, "created_at", str)[:40],
            created_by=clean_name(data.get("created_by", "") or "", allow_empty=True),
            image_sha256=tuple(shas),
            signed_off_by=clean_name(data.get("signed_off_by", "") or "", allow_empty=True),
            imported=bool(data.get("imported", False)),
            quantiles=quantiles_of(values), accepted_flags=tuple(sorted(set(flags))),
            flag_counts=counts,
        )


def _typed(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise ProfileError(f"{key}: expected {kind.__name__}")
    return value


def _number(value: Any, key: str, low: float = -math.inf, high: float = math.inf) -> float:
    """A JSON number within [low, high]; a huge integer (10**400) is refused, never converted."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileError(f"{key}: expected finite numbers")
    if isinstance(value, int) and not -(2**63) <= value <= 2**63:  # float() would overflow
        raise ProfileError(f"{key}: expected finite numbers from {low:g} to {high:g}, got an "
                           f"integer of {len(str(abs(value)))} digits")
    number = float(value)
    if not math.isfinite(number):
        raise ProfileError(f"{key}: expected finite numbers")
    if not low <= number <= high:
        raise ProfileError(f"{key}: expected numbers from {low:g} to {high:g}, got {number:g}")
    return number


def _derived_threshold(values: tuple[float, ...], rule: str, spec: float | None,
                       alpha: float | None, stored: float) -> float:
    """The threshold that ``rule`` gives on ``values``; ProfileError when ``stored`` differs
    (a hand-edited threshold would flag nothing, or everything, whatever the scores say)."""
    if rule == "quantile" and spec is None:
        raise ProfileError("rule quantile needs target_specificity")
    if rule == "alpha" and alpha is None:
        raise ProfileError("rule alpha needs alpha")
    derived = calibrated_threshold(list(values), rule, specificity=spec or DEFAULT_SPECIFICITY,
                                   alpha=DEFAULT_ALPHA if alpha is None else alpha)
    if not math.isclose(stored, derived, rel_tol=1e-9, abs_tol=1e-12):
        how = (f"the {spec:g} quantile" if rule == "quantile" else f"mean + {alpha:g} sd")
        raise ProfileError(f"threshold {stored:g} does not follow from its own scores and rule "
                           f"({how} of its {len(values)} scores is {derived:g})")
    return derived


def _flag_counts(raw: Any, n: int) -> dict[str, int]:
    """``flag_counts``: per statistic, how many of the ``n`` calibration images were out of range."""
    if not isinstance(raw, dict) or not set(raw) <= set(STAT_NAMES) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= n for v in raw.values()):
        raise ProfileError(f"flag_counts: expected image statistic names with counts from 0 to {n}")
    return {k: int(v) for k, v in sorted(raw.items())}


def accepted_words(profile: SiteProfile) -> str:
    """'size (31 of 32 images), aspect ratio (32 of 32)' or 'none', for lists and messages."""
    from desktop_app.core.inference.drift import STAT_WORDS

    if not profile.accepted_flags:
        return "none"
    return ", ".join(f"{STAT_WORDS.get(f, f)} ({profile.flag_counts.get(f, 0)} of {profile.n} "
                     "images)" for f in profile.accepted_flags)


def clean_name(text: str, *, allow_empty: bool = False) -> str:
    """A site or person's name as stored: printable, one line, at most 80 characters."""
    kept = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    kept = kept[:MAX_NAME_CHARS]
    if not kept and not allow_empty:
        raise ProfileError("a site profile needs a name")
    return kept


def quantiles_of(scores: tuple[float, ...] | list[float]) -> dict[str, float]:
    arr = np.asarray(scores, dtype=np.float64)
    return {f"q{round(q * 100):02d}": float(np.quantile(arr, q)) for q in QUANTILE_LEVELS}


def calibrated_threshold(scores: list[float] | np.ndarray, rule: str = "quantile", *,
                         specificity: float = DEFAULT_SPECIFICITY,
                         alpha: float = DEFAULT_ALPHA) -> float:
    """The threshold on a site's benign scores: the smallest score at or below which at least
    ``specificity`` of them lie (``quantile``), or mean + ``alpha`` sd (``alpha``)."""
    arr = np.asarray(scores, dtype=np.float64)
    if rule == "quantile":
        if not 0 < specificity < 1:
            raise ProfileError("the target specificity must lie between 0 and 1 (e.g. 0.5)")
        return float(np.quantile(arr, specificity, method="inverted_cdf"))
    if rule == "alpha":
        return float(arr.mean() + alpha * arr.std(ddof=1))
    raise ProfileError(f"rule must be one of {', '.join(RULES)}")


def make_profile(name: str, scores: list[float], image_sha256: list[str], *, model_sha256: str,
                 meta: ModelMetadata, rule: str = "quantile",
                 specificity: float = DEFAULT_SPECIFICITY, alpha: float = DEFAULT_ALPHA,
                 created_by: str = "", accepted_flags: tuple[str, ...] = (),
                 flag_counts: dict[str, int] | None = None) -> SiteProfile:
    """A new profile from the scores of a site's benign images (at least :data:`MIN_IMAGES`).

    ``flag_counts``: per image statistic, how many of these images were out of the training
    range on it; each of ``accepted_flags`` must be out in at least IMAGE_SHARE_ALARM of them.
    """
    values = sorted(float(s) for s in scores if math.isfinite(s))
    if len(values) < MIN_IMAGES:
        raise ProfileError(f"{len(values)} benign images scored; at least {MIN_IMAGES} are needed "
                           "for a site profile (100 or more for a useful interval)")
    if len(values) > MAX_IMAGES:
        raise ProfileError(f"at most {MAX_IMAGES} images per profile")
    if rule == "alpha" and not ALPHA_RANGE[0] <= alpha <= ALPHA_RANGE[1]:
        raise ProfileError(f"alpha must lie from {ALPHA_RANGE[0]:g} to {ALPHA_RANGE[1]:g} "
                           f"(the seed's is {DEFAULT_ALPHA:g}), got {alpha:g}")
    counts = {k: min(int(v), len(values)) for k, v in sorted((flag_counts or {}).items())}
    accepted = tuple(sorted(f for f in set(accepted_flags)
                            if counts.get(f, 0) >= IMAGE_SHARE_ALARM * len(values)))
    return SiteProfile(
        name=clean_name(name), model_sha256=model_sha256.lower(), model_name=meta.model_name,
        model_version=meta.model_version, scores=tuple(values), rule=rule,
        target_specificity=specificity if rule == "quantile" else None,
        alpha=alpha if rule == "alpha" else None,
        threshold=calibrated_threshold(values, rule, specificity=specificity, alpha=alpha),
        created_at=utc_now_iso(), created_by=clean_name(created_by, allow_empty=True),
        image_sha256=tuple(sorted(set(image_sha256))), quantiles=quantiles_of(values),
        accepted_flags=accepted, flag_counts=counts,
    )


# ----- what to expect at a profile's point --------------------------------------------------


@dataclass(frozen=True)
class SiteExpectation:
    """Specificity measured on the site's benign images; sensitivity estimated elsewhere."""

    specificity: float
    specificity_ci: tuple[float, float]
    n: int
    sensitivity_estimate: float | None
    sensitivity_source: str  # "validation cancers", "test cancers" or ""


def _interp(xs: list[float], ys: list[float], x: float) -> float:
    order = np.argsort(xs)
    return float(np.interp(x, np.asarray(xs)[order], np.asarray(ys)[order]))


def estimated_sensitivity(meta: ModelMetadata, benign_quantile: float) -> tuple[float | None, str]:
    """Sensitivity on the model's own cancers at the threshold that sits at ``benign_quantile``
    of its benign validation scores: from the stored points' validation sensitivity where that
    threshold lies among them, else their test sensitivity; (None, "") when neither is stored."""
    ref = np.asarray(meta.benign_stats.scores, dtype=np.float64)
    if ref.size < 2:
        return None, ""
    t_val = float(np.quantile(ref, min(1.0, max(0.0, benign_quantile))))
    for key, source in (("val_sensitivity", "validation cancers"),
                        ("test_sensitivity", "test cancers")):
        pts = [(float(p["threshold"]), float(p[key])) for p in meta.operating_points
               if isinstance(p.get(key), int | float) and isinstance(p.get("threshold"), int | float)
               and math.isfinite(p[key]) and math.isfinite(p["threshold"])]
        if len(pts) >= 2 and min(t for t, _ in pts) <= t_val <= max(t for t, _ in pts):
            return _interp([t for t, _ in pts], [v for _, v in pts], t_val), source
    pts = [(float(p["threshold"]), float(p["test_sensitivity"])) for p in meta.operating_points
           if isinstance(p.get("test_sensitivity"), int | float)]
    if pts:  # outside every stored point: the nearest one's figure
        _, v = min(pts, key=lambda tv: abs(tv[0] - t_val))
        return v, "test cancers, nearest stored point"
    return None, ""


def expectation(profile: SiteProfile, meta: ModelMetadata,
                threshold: float | None = None) -> SiteExpectation:
    """What to expect at ``threshold`` (default: the profile's own point) with this profile."""
    spec = profile.specificity(threshold)
    sens, source = estimated_sensitivity(meta, spec)
    return SiteExpectation(spec, profile.specificity_ci(threshold), profile.n, sens, source)


def expectation_words(profile: SiteProfile, meta: ModelMetadata,
                      threshold: float | None = None) -> tuple[str, str, str]:
    """(site line, benign sentence, cancer sentence) for panels and reports: one figure for
    benign lesions (measured at the site) and one for cancers (estimated), never two for one."""
    exp = expectation(profile, meta, threshold)
    lo, hi = exp.specificity_ci
    site = f"Site profile {profile.label()}"
    if profile.created_by:
        site += f", calibrated by {profile.created_by}"
    if profile.signed_off_by:
        site += f", signed off by {profile.signed_off_by}"
    flagged = 1.0 - exp.specificity
    spec = (f"Flags about {_of_100(flagged)} of 100 benign lesions of this site (95% CI "
            f"{_of_100(1.0 - hi)} to {_of_100(1.0 - lo)}; measured on {exp.n} benign images of "
            "this site).")
    if exp.sensitivity_estimate is None:
        sens = f"Cancers flagged: unknown, the model stores no cancer figures ({SENSITIVITY_CAVEAT})."
    else:
        sens = (f"Flags about {_of_100(exp.sensitivity_estimate)} of 100 cancers: ESTIMATED from "
                f"the model's {exp.sensitivity_source} at the same benign quantile, "
                f"{SENSITIVITY_CAVEAT}. It is only as good as the detector is at this site.")
    return site, spec, sens


def _of_100(share: float) -> str:
    return str(round(100 * min(1.0, max(0.0, share))))


# ----- the private profile store ------------------------------------------------------------


def _file_name(name: str, model_sha256: str) -> str:
    """``<ascii slug>-<name hash>-<model>.json``: the hash of the whole name keeps names that
    differ only outside ASCII (東京, 大阪) or after the slug's 40 characters apart."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:40] or "site"
    tag = hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{tag}-{model_sha256[:12]}.json"


def _private_folder(folder: Path) -> Path:
    """Create ``folder`` (0700) if needed; never follow a link there when tightening its mode.

    The folder is opened with O_NOFOLLOW and changed through that descriptor, so a symbolic
    link planted at the store's path is refused instead of making its target 0700.
    Raises :class:`FileWriteError` (read-only disk, no permission, a link).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not hasattr(os, "fchmod"):  # Windows: the user's profile folder is private already
            return folder
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
                     | getattr(os, "O_NOFOLLOW", 0))
    except FileExistsError:
        raise FileWriteError(folder, "a file with that name exists (not a folder)") from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and folder.is_symlink():
            raise FileWriteError(folder, "the site profile folder is a symbolic link; refused "
                                 "(it must be a private folder of its own)") from None
        raise FileWriteError(folder, write_error_cause(exc)) from None
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != 0o700:
            os.fchmod(fd, 0o700)
    except OSError as exc:
        raise FileWriteError(folder, write_error_cause(exc)) from None
    finally:
        os.close(fd)
    return folder


def _same_profile_files(folder: Path, profile: SiteProfile) -> list[tuple[Path, SiteProfile]]:
    return [(path, p) for path, p in list_profiles(folder, profile.model_sha256)
            if p.name == profile.name]


def store_profile(profile: SiteProfile, folder: Path | None = None
                  ) -> tuple[Path, list[tuple[Path, SiteProfile]]]:
    """Write the profile (0600, atomically) into the private folder; a stored profile of the
    same name for the same model is first copied to ``replaced/`` (recoverable: copy it back
    or import it). Returns (the new file, [(kept copy, the profile it held)])."""
    folder = _private_folder(Path(folder or profiles_dir()))
    target = folder / _file_name(profile.name, profile.model_sha256)
    kept: list[tuple[Path, SiteProfile]] = []
    old = _same_profile_files(folder, profile)
    if old:
        spare = _private_folder(folder / REPLACED_DIR)
        stamp = utc_now_iso().replace(":", "").replace("+0000", "Z")
        for path, previous in old:
            copy = spare / f"{path.stem}.{stamp}.json"
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise FileWriteError(folder, f"cannot keep {path.name}: "
                                     f"{write_error_cause(exc)}") from None
            kept.append((write_bytes_atomic(copy, data, private=True), previous))
    written = write_text_atomic(target, json.dumps(profile.to_dict(), indent=1), private=True)
    for path, _ in old:  # a file under an older naming scheme: its copy is kept above
        if path != written:
            try:
                path.unlink()
            except OSError as exc:
                raise FileWriteError(folder, f"{path.name}: {write_error_cause(exc)}") from None
    return written, kept


def save_profile(profile: SiteProfile, folder: Path | None = None) -> Path:
    """Write the profile (0600, atomically) into the private folder; replaces one of the same
    name for the same model (a copy of that one is kept, see :func:`store_profile`)."""
    return store_profile(profile, folder)[0]


def read_profile_file(path: str | Path) -> SiteProfile:
    """Read and validate one profile file: a regular file (never a FIFO or device), bounded in
    size before it is parsed."""
    from desktop_app.core.base.errors import ImageError
    from desktop_app.core.imaging.imageio import read_file

    path = Path(path)
    try:
        blob = read_file(path, max_bytes=MAX_PROFILE_BYTES)
    except ImageError as exc:
        reason = str(getattr(exc, "reason", exc)).replace("file size limit", "site profile limit")
        raise ProfileError(f"{path.name}: cannot read a site profile ({reason})") from None
    try:
        data = json.loads(blob.data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProfileError(f"{path.name}: cannot read a site profile ({exc})") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise ProfileError(f"{path.name}: cannot read a site profile (a number in it is too "
                           f"long: {str(exc)[:80]})") from None
    try:
        return SiteProfile.from_dict(data)
    except ProfileError as exc:
        raise ProfileError(f"{path.name}: {exc}") from None


def list_profiles(folder: Path | None = None, model_sha256: str | None = None
                  ) -> list[tuple[Path, SiteProfile]]:
    """Stored profiles (optionally only those of one model), by name; unreadable files skipped."""
    folder = Path(folder or profiles_dir())
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            profile = read_profile_file(path)
        except ProfileError:
            continue
        if model_sha256 is None or profile.model_sha256 == model_sha256.lower():
            found.append((path, profile))
    return sorted(found, key=lambda pp: (pp[1].name.lower(), pp[1].model_sha256))


def unreadable_profiles(folder: Path | None = None) -> list[str]:
    """Why each ``*.json`` file in the store that :func:`list_profiles` skips was skipped."""
    folder = Path(folder or profiles_dir())
    reasons = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            read_profile_file(path)
        except ProfileError as exc:
            reasons.append(str(exc))
    return reasons


def find_profile(name: str, model_sha256: str, folder: Path | None = None) -> SiteProfile:
    """The profile called ``name`` for this model; ProfileError says when it is another model's."""
    matches = [p for _, p in list_profiles(folder) if p.name == clean_name(name)]
    for profile in matches:
        if profile.model_sha256 == model_sha256.lower():
            return profile
    if matches:
        other = matches[0]
        raise ProfileError(
            f"site profile {other.name!r} was made with model {other.model_name} "
            f"{other.model_version} ({other.model_sha256[:12]}), not this one "
            f"({model_sha256[:12]}): a new model needs a new calibration (dermscreen calibrate)")
    raise ProfileError(f"no site profile named {name!r} (dermscreen profiles list)")


def remove_profile(name: str, model_sha256: str | None = None, folder: Path | None = None) -> int:
    """Delete the stored profiles called ``name`` (of one model, or all); how many were removed.
    Raises :class:`FileWriteError` when the store cannot be changed."""
    removed = 0
    for path, profile in list_profiles(folder, model_sha256):
        if profile.name == clean_name(name):
            try:
                path.unlink()
            except OSError as exc:
                raise FileWriteError(path.parent, f"{path.name}: {write_error_cause(exc)}") \
                    from None
            removed += 1
    return removed


def export_profile(profile: SiteProfile, target: str | Path, *, signed_off_by: str = "") -> Path:
    """Write the profile to ``target`` for another workstation (optionally signed off by name).

    A regular file is replaced atomically. A target that is not one (``/dev/stdout``, a
    terminal, a pipe with a reader) or a symbolic link is written through directly, never
    renamed over; a pipe without a reader or a folder is refused (FileWriteError).
    """
    if signed_off_by:
        profile = replace(profile, signed_off_by=clean_name(signed_off_by))
    target = Path(target)
    text = json.dumps(profile.to_dict(), indent=1) + "\n"
    try:
        link = target.is_symlink()
        st = os.stat(target) if os.path.lexists(target) else None
    except OSError as exc:
        raise FileWriteError(target.parent, f"{target.name}: {write_error_cause(exc)}") from None
    if st is None or (stat.S_ISREG(st.st_mode) and not link):
        return write_text_atomic(target, text, private=True)
    if stat.S_ISDIR(st.st_mode):
        raise FileWriteError(target.parent, f"{target.name}: a folder is in the way")
    _write_through(target, text.encode("utf-8"), truncate=stat.S_ISREG(st.st_mode))
    return target


def _write_through(target: Path, data: bytes, *, truncate: bool) -> None:
    """Write ``data`` through an existing non-regular file or link; never blocks on a FIFO."""
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(target, flags | (os.O_TRUNC if truncate else 0))
    except OSError as exc:
        reason = ("a named pipe with no reader" if exc.errno == errno.ENXIO
                  else write_error_cause(exc))
        raise FileWriteError(target.parent, f"{target.name}: {reason}") from None
    try:
        os.set_blocking(fd, True)  # a pipe's reader may be slower than us
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        with contextlib.suppress(OSError):  # terminals and pipes cannot be synced
            os.fsync(fd)
    except OSError as exc:
        raise FileWriteError(target.parent, f"{target.name}: {write_error_cause(exc)}") from None
    finally:
        os.close(fd)


class ProfileExistsError(ProfileError):
    """An import would replace a stored profile of the same name and model."""

    def __init__(self, stored: SiteProfile) -> None:
        self.stored = stored
        kind = "imported profile" if stored.imported else "this site's own calibration"
        super().__init__(
            f"a site profile named {stored.name!r} is already stored for this model "
            f"({kind}, {stored.label()}); not replaced. Import it under another name or "
            "replace it with --replace (the stored one is then kept under replaced/)")


def import_profile(source: str | Path, folder: Path | None = None, *,
                   replace_existing: bool = False) -> SiteProfile:
    """Validate a profile file and store it, marked imported. A stored profile of the same name
    and model is replaced only with ``replace_existing`` (and then kept under ``replaced/``);
    otherwise :class:`ProfileExistsError`."""
    return import_profile_keeping(source, folder, replace_existing=replace_existing)[0]


def import_profile_keeping(source: str | Path, folder: Path | None = None, *,
                           replace_existing: bool = False
                           ) -> tuple[SiteProfile, list[tuple[Path, SiteProfile]]]:
    """:func:`import_profile`, also returning the copies kept of what it replaced."""
    profile = replace(read_profile_file(source), imported=True)
    same = _same_profile_files(Path(folder or profiles_dir()), profile)
    if same and not replace_existing:
        raise ProfileExistsError(same[0][1])
    _, kept = store_profile(profile, folder)
    return profile, kept
