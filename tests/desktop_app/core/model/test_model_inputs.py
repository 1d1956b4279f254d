"""A model with a second named input (issue 34): metadata, signature, run by name, the engine
filling every input from one decode, and one-input models unchanged. Real ONNX Runtime on
hand-built contract graphs and real images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.base.errors import ModelShapeError
from desktop_app.core.imaging.preprocess import (
    PreprocessConfig,
    decode_for_model,
    preprocess_array,
    preprocess_file,
)
from desktop_app.core.inference.engine import Engine
from desktop_app.core.model.metadata import PREFIX, MetadataError, ModelMetadata
from desktop_app.core.model.model_file import load_model
from tests.desktop_app.core.contract_model import reference_props, save_contract_model

HR = PreprocessConfig(size=96, hair_removal=False, hair_work_max_side=96,
                      resize_interpolation="linear", crop_field_of_view=True)


def _props(inputs: object) -> dict[str, str]:
    props = dict(reference_props())
    props[PREFIX + "inputs"] = json.dumps(inputs)
    return props


@pytest.fixture
def two_input_model(tmp_path: Path):
    path = save_contract_model(tmp_path / "two.onnx", _props({"image_hr": HR.to_dict()}),
                               extra_inputs={"image_hr": HR.size})
    return load_model(path, prefer_gpu=False)


def test_metadata_declares_and_round_trips_the_second_input(two_input_model) -> None:
    meta = two_input_model.metadata
    assert meta.extra_inputs == {"image_hr": HR}
    assert list(meta.input_configs()) == ["image", "image_hr"]
    assert ModelMetadata.from_props(meta.to_props()).extra_inputs == {"image_hr": HR}


def test_a_one_input_model_writes_no_inputs_key() -> None:
    meta = ModelMetadata.from_props(reference_props())
    assert meta.extra_inputs == {}
    assert PREFIX + "inputs" not in meta.to_props()
    assert list(meta.input_configs()) == ["image"]


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        (["image_hr"], "JSON object"),
        ({"image": HR.to_dict()}, "not a valid extra input name"),
        ({"image hr": HR.to_dict()}, "not a valid extra input name"),
        ({f"in{i}": HR.to_dict() for i in range(5)}, "at most 4"),
        ({"image_hr": "254"}, "must be a JSON object"),
        ({"image_hr": {**HR.to_dict(), "size": 4096}}, "size must be"),
        ({"image_hr": {**HR.to_dict(), "crop_field_of_view": "yes"}}, "crop_field_of_view"),
        ({"image_hr": {**HR.to_dict(), "unknown_step": 1}}, "unknown preprocessing"),
    ],
    ids=["list", "image", "space", "too-many", "string", "huge", "crop-type", "unknown-key"],
)
def test_bad_inputs_metadata_is_refused(inputs: object, match: str) -> None:
    with pytest.raises(MetadataError, match=match):
        ModelMetadata.from_props(_props(inputs))


def test_graph_and_metadata_must_declare_the_same_inputs(tmp_path: Path) -> None:
    # Declared but not in the graph.
    path = save_contract_model(tmp_path / "a.onnx", _props({"image_hr": HR.to_dict()}))
    with pytest.raises(ModelShapeError, match="declares inputs"):
        load_model(path, prefer_gpu=False)
    # In the graph but not declared.
    path = save_contract_model(tmp_path / "b.onnx", reference_props(),
                               extra_inputs={"image_hr": HR.size})
    with pytest.raises(ModelShapeError, match="one input named 'image'"):
        load_model(path, prefer_gpu=False)
    # Declared at another side than the graph's.
    path = save_contract_model(tmp_path / "c.onnx", _props({"image_hr": HR.to_dict()}),
                               extra_inputs={"image_hr": 64})
    with pytest.raises(ModelShapeError, match=r"'image_hr'.*expected \[N, 96, 96, 3\]"):
        load_model(path, prefer_gpu=False)


def test_run_fills_inputs_by_name_and_refuses_a_wrong_feed(two_input_model) -> None:
    image = np.full((2, 128, 128, 3), 0.5, np.float32)
    hr = np.stack([np.full((96, 96, 3), 0.25, np.float32), np.full((96, 96, 3), 0.75, np.float32)])
    out = two_input_model.run({"image": image, "image_hr": hr}, ("score", "probability"))
    assert out["probability"].tolist() == [0.25, 0.75]
    assert out["score"].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="takes inputs"):
        two_input_model.run(image)
    with pytest.raises(ValueError, match="different numbers of images"):
        two_input_model.run({"image": image, "image_hr": hr[:1]})
    with pytest.raises(ValueError, match="'image_hr' must have shape"):
        two_input_model.run({"image": image, "image_hr": image})


def test_engine_fills_every_input_from_one_decode(two_input_model, isic9_test_files,
                                                  fullres_files) -> None:
    files = [*isic9_test_files[:3], fullres_files[0]]
    results = Engine(two_input_model, workers=2, batch_size=2).analyze_all(files)
    assert [r.error for r in results] == [""] * len(files)
    for path, result in zip(files, results, strict=True):
        rgb = decode_for_model(path, two_input_model.metadata.preprocess)
        # probability = mean of image_hr: the hr preprocessing of the same decode reached it.
        want = float(preprocess_array(rgb, HR).mean())
        assert result.probability == pytest.approx(want, abs=2e-5)  # float32 sums
        assert result.score == 0.0
    case = Engine(two_input_model).explain(files[0])
    assert case.probability == pytest.approx(results[0].probability, abs=1e-6)
    assert case.model_input.shape == (128, 128, 3)


def test_a_one_input_model_still_runs_through_the_engine(tmp_path: Path, isic9_test_files) -> None:
    model = load_model(save_contract_model(tmp_path / "one.onnx", reference_props()),
                       prefer_gpu=False)
    results = Engine(model, workers=2, batch_size=2).analyze_all(isic9_test_files[:3])
    assert [r.error for r in results] == ["", "", ""]
    assert all(r.probability is None for r in results)
    out = model.run(np.stack([preprocess_file(p, model.metadata.preprocess)
                              for p in isic9_test_files[:3]]), ("score",))
    assert [r.score for r in results] == pytest.approx(out["score"].tolist(), abs=1e-7)
    assert Engine(model).explain(isic9_test_files[0]).probability is None
