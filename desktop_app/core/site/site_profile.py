"""Site profiles: an operating point set on a site's own benign images (Qt-free).

A profile holds the scores one model (keyed by its file's SHA-256) gave a
folder of images the site knows to be benign, and the threshold chosen on
them: the local benign quantile for a target specificity (``quantile``), or
the seed's mean + alpha sd on the local scores (``alpha``). What to expect
there: the specificity from the local images with a 95% Wilson interval, and
the sensitivity *estimated* from the model's validation cancers at the same
benign quantile (no cancer from the site was used, so it is labelled so).

Profiles are private JSON files (0600) in ``<user data>/site_profiles``; they
can be exported, imported (validated: types, finite numbers, bounded size) and
removed. A profile works only with the model it was made with: another model,
or a retrained one, needs its own calibration.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.base.files import utc_now_iso, write_text_atomic
from desktop_app.core.base.paths import user_data_dir
from desktop_app.core.inference.drift import KNOWN_STAT_NAMES
from desktop_app.core.model.metadata import ModelMetadata
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
        values = tuple(_number(s, "scores") for s in scores)
        if list(values) != sorted(values):
            raise ProfileError("scores are not sorted")
        if "n" in data and data["n"] != len(values):
            raise ProfileError("n does not match the number of scores")
        rule = _typed(data, "rule", str)
        if rule not in RULES:
            raise ProfileError(f"rule must be one of {', '.join(RULES)}")
        spec = data.get("target_specificity")
        spec = None if spec is None else _number(spec, "target_specificity")
        if spec is not None and not 0 < spec < 1:
            raise ProfileError("target_specificity must lie between 0 and 1")
        alpha = data.get("alpha")
        alpha = None if alpha is None else _number(alpha, "alpha")
        flags = data.get("accepted_flags", [])
        if not isinstance(flags, list) or not set(flags) <= set(KNOWN_STAT_NAMES):
            raise ProfileError("accepted_flags: expected image statistic names")
        shas = data.get("image_sha256", [])
        if not isinstance(shas, list) or len(shas) > MAX_IMAGES or not all(
                isinstance(s, str) and _SHA.match(s) for s in shas):
            raise ProfileError("image_sha256: expected a list of SHA-256 strings")
        return cls(
            name=name, model_sha256=sha,
            model_name=_typed(data, "model_name", str)[:MAX_NAME_CHARS],
            model_version=_typed(data, "model_version", str)[:MAX_NAME_CHARS],
            scores=values, rule=rule, target_specificity=spec, alpha=alpha,
            threshold=_number(data.get("threshold"), "threshold"),
            created_at=_typed(data, "created_at", str)[:40],
            created_by=clean_name(data.get("created_by", "") or "", allow_empty=True),
            image_sha256=tuple(shas),
            signed_off_by=clean_name(data.get("signed_off_by", "") or "", allow_empty=True),
            imported=bool(data.get("imported", False)),
            quantiles=quantiles_of(values), accepted_flags=tuple(flags),
        )


def _typed(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise ProfileError(f"{key}: expected {kind.__name__}")
    return value


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProfileError(f"{key}: expected finite numbers")
    return float(value)


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
                 created_by: str = "", accepted_flags: tuple[str, ...] = ()) -> SiteProfile:
    """A new profile from the scores of a site's benign images (at least :data:`MIN_IMAGES`)."""
    values = sorted(float(s) for s in scores if math.isfinite(s))
    if len(values) < MIN_IMAGES:
        raise ProfileError(f"{len(values)} benign images scored; at least {MIN_IMAGES} are needed "
                           "for a site profile (100 or more for a useful interval)")
    if len(values) > MAX_IMAGES:
        raise ProfileError(f"at most {MAX_IMAGES} images per profile")
    return SiteProfile(
        name=clean_name(name), model_sha256=model_sha256.lower(), model_name=meta.model_name,
        model_version=meta.model_version, scores=tuple(values), rule=rule,
        target_specificity=specificity if rule == "quantile" else None,
        alpha=alpha if rule == "alpha" else None,
        threshold=calibrated_threshold(values, rule, specificity=specificity, alpha=alpha),
        created_at=utc_now_iso(), created_by=clean_name(created_by, allow_empty=True),
        image_sha256=tuple(sorted(set(image_sha256))), quantiles=quantiles_of(values),
        accepted_flags=tuple(accepted_flags),
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
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:40] or "site"
    return f"{slug}-{model_sha256[:12]}.json"


def save_profile(profile: SiteProfile, folder: Path | None = None) -> Path:
    """Write the profile (0600, atomically) into the private folder; replaces one of the same
    name for the same model."""
    folder = Path(folder or profiles_dir())
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    target = folder / _file_name(profile.name, profile.model_sha256)
    return write_text_atomic(target, json.dumps(profile.to_dict(), indent=1), private=True)


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
    """Delete the stored profiles called ``name`` (of one model, or all); how many were removed."""
    removed = 0
    for path, profile in list_profiles(folder, model_sha256):
        if profile.name == clean_name(name):
            path.unlink()
            removed += 1
    return removed


def export_profile(profile: SiteProfile, target: str | Path, *, signed_off_by: str = "") -> Path:
    """Write the profile to ``target`` for another workstation (optionally signed off by name)."""
    if signed_off_by:
        profile = replace(profile, signed_off_by=clean_name(signed_off_by))
    return write_text_atomic(Path(target), json.dumps(profile.to_dict(), indent=1), private=True)


def import_profile(source: str | Path, folder: Path | None = None) -> SiteProfile:
    """Validate a profile file and store it, marked imported."""
    profile = replace(read_profile_file(source), imported=True)
    save_profile(profile, folder)
    return profile
