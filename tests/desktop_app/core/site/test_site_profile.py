"""Site profiles on real engine scores: the calibrated point, what it promises, the private store."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from desktop_app.core.evaluation.splits import DEV_EVAL, read_split
from desktop_app.core.inference.engine import Engine
from desktop_app.core.model.model_file import LoadedModel
from desktop_app.core.site.site_profile import (
    MIN_IMAGES,
    SENSITIVITY_CAVEAT,
    ProfileError,
    SiteProfile,
    calibrated_threshold,
    estimated_sensitivity,
    expectation,
    expectation_words,
    export_profile,
    find_profile,
    import_profile,
    list_profiles,
    make_profile,
    profiles_dir,
    read_profile_file,
    remove_profile,
    save_profile,
)
from tests.support.data import DATA


@pytest.fixture(scope="module")
def benign_scores(cae2: LoadedModel) -> tuple[list[float], list[str]]:
    """cae2's scores of 60 dev-eval nevi (never trained or tuned on), through the real engine."""
    nevi = [DATA / e.rel_path for e in read_split(DEV_EVAL) if e.cls == "nevus"][:60]
    results = Engine(cae2).analyze_all(nevi)
    assert all(r.ok for r in results)
    return [float(r.score) for r in results], [r.image_sha256 for r in results]


def _profile(cae2: LoadedModel, scores: list[float], shas: list[str], **kw: object) -> SiteProfile:
    return make_profile("Clinic A", scores, shas, model_sha256=cae2.sha256, meta=cae2.metadata,
                        created_by="dr test", **kw)  # type: ignore[arg-type]


def test_quantile_point_is_the_local_benign_quantile(cae2: LoadedModel,
                                                     benign_scores: tuple[list[float], list[str]]
                                                     ) -> None:
    scores, shas = benign_scores
    profile = _profile(cae2, scores, shas, specificity=0.5)
    assert profile.n == 60 and profile.model_sha256 == cae2.sha256
    # Exactly half of the 60 local scores lie at or below it: the 30th smallest score.
    assert profile.threshold == sorted(scores)[29]
    assert profile.specificity() == pytest.approx(0.5)
    lo, hi = profile.specificity_ci()
    assert lo < 0.5 < hi and hi - lo > 0.2  # 60 images: a wide interval, and it says so
    strict = _profile(cae2, scores, shas, specificity=0.8)
    assert strict.threshold > profile.threshold and strict.specificity() >= 0.8


def test_alpha_rule_on_local_scores(cae2: LoadedModel,
                                    benign_scores: tuple[list[float], list[str]]) -> None:
    import numpy as np

    scores, shas = benign_scores
    profile = _profile(cae2, scores, shas, rule="alpha", alpha=1.3)
    assert profile.threshold == pytest.approx(np.mean(scores) + 1.3 * np.std(scores, ddof=1))
    assert profile.target_specificity is None and profile.alpha == 1.3
    with pytest.raises(ProfileError, match="rule"):
        calibrated_threshold(scores, "median")


def test_refuses_too_few_images(cae2: LoadedModel,
                                benign_scores: tuple[list[float], list[str]]) -> None:
    scores, shas = benign_scores
    with pytest.raises(ProfileError, match=f"at least {MIN_IMAGES}"):
        _profile(cae2, scores[:MIN_IMAGES - 1], shas[:MIN_IMAGES - 1])


def test_sensitivity_is_an_estimate_from_validation_cancers(
        cae2: LoadedModel, benign_scores: tuple[list[float], list[str]]) -> None:
    scores, shas = benign_scores
    profile = _profile(cae2, scores, shas)
    sens, source = estimated_sensitivity(cae2.metadata, 0.5)
    assert sens is not None and 0.5 < sens < 1 and "cancers" in source
    # At a higher benign quantile the model's cancers are flagged less often.
    higher, _ = estimated_sensitivity(cae2.metadata, 0.9)
    assert higher is not None and higher < sens
    exp = expectation(profile, cae2.metadata)
    assert exp.sensitivity_estimate == pytest.approx(
        estimated_sensitivity(cae2.metadata, profile.specificity())[0])
    site, spec, sens_words = expectation_words(profile, cae2.metadata)
    assert "Clinic A" in site and "n 60" in site
    assert "60 benign images of this site" in spec and "95% CI" in spec
    assert "ESTIMATED" in sens_words and SENSITIVITY_CAVEAT in sens_words


def test_store_is_private_and_keyed_by_model(cae2: LoadedModel,
                                             benign_scores: tuple[list[float], list[str]]) -> None:
    scores, shas = benign_scores
    profile = _profile(cae2, scores, shas)
    path = save_profile(profile)
    assert path.parent == profiles_dir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(profiles_dir().stat().st_mode) == 0o700
    again = read_profile_file(path)
    assert again.scores == profile.scores and again.threshold == profile.threshold
    assert set(again.image_sha256) == set(shas)
    assert [p.name for _, p in list_profiles(model_sha256=cae2.sha256)] == ["Clinic A"]
    assert list_profiles(model_sha256="0" * 64) == []
    assert find_profile("Clinic A", cae2.sha256) == again
    with pytest.raises(ProfileError, match="new model needs a new calibration"):
        find_profile("Clinic A", "ab" * 32)
    assert remove_profile("Clinic A", cae2.sha256) == 1
    assert list_profiles() == []


def test_export_import_round_trip_signed_off(tmp_path: Path, cae2: LoadedModel,
                                             benign_scores: tuple[list[float], list[str]]) -> None:
    scores, shas = benign_scores
    out = export_profile(_profile(cae2, scores, shas), tmp_path / "clinic-a.json",
                         signed_off_by="Dr Lead")
    imported = import_profile(out)
    assert imported.imported and imported.signed_off_by == "Dr Lead"
    stored = find_profile("Clinic A", cae2.sha256)
    assert stored.imported and "imported" in stored.label()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["scores"].__setitem__(3, float("nan")), "finite"),
    (lambda d: d["scores"].__setitem__(3, "0.1"), "finite"),
    (lambda d: d.__setitem__("scores", d["scores"][::-1]), "sorted"),
    (lambda d: d.__setitem__("scores", d["scores"][:10]), "list of"),
    (lambda d: d.__setitem__("model_sha256", "not-a-sha"), "SHA-256"),
    (lambda d: d.__setitem__("threshold", float("inf")), "finite"),
    (lambda d: d.__setitem__("rule", "magic"), "rule"),
    (lambda d: d.__setitem__("name", 7), "name"),
    (lambda d: d.__setitem__("image_sha256", ["x"]), "image_sha256"),
    (lambda d: d.__setitem__("format", 99), "format"),
])
def test_import_validates(tmp_path: Path, cae2: LoadedModel,
                          benign_scores: tuple[list[float], list[str]],
                          change: object, message: str) -> None:
    scores, shas = benign_scores
    data = _profile(cae2, scores, shas).to_dict()
    change(data)  # type: ignore[operator]
    bad = tmp_path / "bad.json"
    # allow_nan: the file a careless tool writes ("NaN", "Infinity") is refused on import.
    bad.write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
    with pytest.raises(ProfileError, match=message):
        import_profile(bad)
    assert list_profiles() == []


def test_import_refuses_oversized_and_garbage(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as fh:
        fh.truncate(9 * 1024 * 1024)
    with pytest.raises(ProfileError, match=r"over the .* site profile limit"):
        import_profile(huge)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(ProfileError, match="not a regular file"):  # never opened, never hangs
        import_profile(fifo)
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\xff\xfe{not json")
    with pytest.raises(ProfileError, match="cannot read"):
        import_profile(garbage)
    assert list_profiles() == []
