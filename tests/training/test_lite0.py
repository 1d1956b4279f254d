"""The Keras port of EfficientNet-Lite0 is right: ImageNet classes of natural photos, and the
same features as the torch reference where torch is installed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from training.lite0 import build_lite0, weights_path

# ImageNet-1k class indices (the standard synset order).
EGYPTIAN_CAT, TIGER_CAT, TABBY = 285, 282, 281
ESPRESSO, CUP = 967, 968


def _square_224(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    crop = img[y:y + s, x:x + s]
    return cv2.resize(crop, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    from skimage import data

    return np.stack([_square_224(data.chelsea()), _square_224(data.coffee())])


@pytest.fixture(scope="module")
def model():
    return build_lite0(224, taps=(4, 10), classifier=True)


def test_imagenet_top5_of_two_natural_photos(model, photos: np.ndarray) -> None:
    logits = np.asarray(model(photos, training=False)["logits"])
    cat_top5 = list(np.argsort(-logits[0])[:5])
    coffee_top5 = list(np.argsort(-logits[1])[:5])
    assert cat_top5[0] in (EGYPTIAN_CAT, TIGER_CAT, TABBY)
    assert {EGYPTIAN_CAT, TIGER_CAT, TABBY} <= set(cat_top5)
    assert coffee_top5[0] == ESPRESSO and CUP in coffee_top5


def test_untrained_port_does_not_know_cats(photos: np.ndarray) -> None:
    """The check above can fail: with random weights the cat is not found."""
    logits = np.asarray(build_lite0(224, classifier=True, weights=None)(photos)["logits"])
    assert not {EGYPTIAN_CAT, TIGER_CAT, TABBY} & set(np.argsort(-logits[0])[:3])


def test_features_match_the_torch_reference(model, photos: np.ndarray) -> None:
    torch = pytest.importorskip("torch")
    lite = pytest.importorskip("efficientnet_lite_pytorch")
    ref = lite.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights_path()))
    ref.eval()
    x = torch.from_numpy((photos.transpose(0, 3, 1, 2) - 0.5) / 0.5)
    with torch.no_grad():
        want = ref.extract_features(x).numpy().transpose(0, 2, 3, 1)
        want_logits = ref(x).numpy()
    got = model(photos, training=False)
    np.testing.assert_allclose(np.asarray(got["head"]), want, atol=2e-3)
    np.testing.assert_allclose(np.asarray(got["logits"]), want_logits, atol=2e-3)
