"""The peer's dermoscopy-trained Xception (PyPI ``sklesion`` 0.2.2, MIT), read from an unzipped wheel.

``sklesion`` is never a dependency: ``pip download sklesion==0.2.2 --no-deps`` and unzip it; its
folder is ``$SKLESION_DIR`` (default ``/work/cache/sklesion/sklesion``). Its ``model.keras``
takes ``[image 254x254x3 in 0..255, meta 10]``; ``normalization`` -> ``xception`` (global
pooling, 2,048 features) -> a dense head over HAM10000's seven classes. It learned from all of
HAM10000: every HAM image is in-sample for it and for anything built on its backbone.

One pass per image (:func:`cached_peer_pass`) gives both the frozen pooled features (for our
head) and the full peer model's probabilities with age, sex and site set to unknown (the
peer's row in the suite), cached per file content and preprocessing as one atomic ``.npy``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from desktop_app.core.imaging.preprocess import PreprocessConfig, decode_for_model, preprocess_array
from training.cache import cache_root, save_atomic

PACKAGE = "sklesion"
VERSION = "0.2.2"
LICENCE = "MIT"
WHEEL_SHA256 = "a4ef0ebc99c6b0a7e1e55b1a0c3ba418f0d6d6cfdffd18a7dd414460a0f671b0"
SIDE = 254
N_FEATURES = 2048
# model_props.pkl's i_cl_map; akiec, bcc and mel are malignant in the project's mapping.
PEER_CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
PEER_MALIGNANT = ("akiec", "bcc", "mel")
# sex one-hot (female, male, unknown), site one-hot (arm, head-or-neck, leg-or-genital, trunk,
# unknown), age / 90 with age filled by the training mean 51.9, then age-missing = 1.
UNKNOWN_META = np.array([0, 0, 1, 0, 0, 0, 0, 1, 51.90180032733224 / 90.0, 1], np.float32)

# HAM10000's image ids: every one is in the peer's training data (ham-extra is HAM10000 too).
HAM_FIRST_ID, HAM_LAST_ID = 24306, 34320


def peer_trained_on(path: str | Path) -> bool:
    """True for an image the peer (and its backbone) learned from: ham-extra, or an ISIC id in
    HAM10000's range (isic9 holds some)."""
    p = Path(path)
    if "ham-extra" in p.parts:
        return True
    stem = p.stem
    if stem.startswith("ISIC_") and stem[5:].isdigit():
        return HAM_FIRST_ID <= int(stem[5:]) <= HAM_LAST_ID
    return False


# The classifier's input: field of view cropped, no hair removal, resized to the backbone's
# native side (bilinear, as the peer was trained); Shades of Gray is the other variant.
def hr_config(colour_constancy: str = "none", side: int = SIDE) -> PreprocessConfig:
    """The high-resolution classifier input's preprocessing (issue 34) at ``side`` (the
    peer's native 254, or smaller: the backbone's cost grows with the side squared)."""
    return PreprocessConfig(size=side, hair_removal=False, hair_work_max_side=side,
                            resize_interpolation="linear", crop_field_of_view=True,
                            colour_constancy=colour_constancy)


def sklesion_dir() -> Path:
    return Path(os.environ.get("SKLESION_DIR", "/work/cache/sklesion/sklesion"))


def load_peer(folder: Path | None = None):
    """The peer's Keras model (``compile=False``), its custom layer registered first."""
    import keras

    folder = folder or sklesion_dir()
    if not (folder / "model.keras").is_file():
        msg = (f"{folder}/model.keras not found: pip download {PACKAGE}=={VERSION} --no-deps "
               "and unzip it, then set SKLESION_DIR to its sklesion folder")
        raise FileNotFoundError(msg)
    sys.path.insert(0, str(folder))
    try:
        import prob_to_label  # noqa: F401  (registers the custom layer)
    finally:
        sys.path.remove(str(folder))
    return keras.models.load_model(folder / "model.keras", compile=False)


def _single(out):
    """The nested ``xception`` model returns its one output wrapped in a list."""
    return out[0] if isinstance(out, list | tuple) else out


def xception_at(peer, side: int = SIDE):
    """The peer's nested ``xception`` (Keras applications' Xception, average pooling) at
    ``side``: at 254 the peer's own model; otherwise the same architecture built for ``side``
    with the peer's weights copied layer by layer (its input is declared 254 only)."""
    import keras

    nested = peer.get_layer("xception")
    if side == SIDE:
        return nested
    twin = keras.applications.Xception(include_top=False, weights=None,
                                       input_shape=(side, side, 3), pooling="avg")
    def shapes(model) -> list:
        return [(type(la).__name__, [w.shape for w in la.get_weights()]) for la in model.layers]

    if shapes(twin)[1:] != shapes(nested)[1:]:
        msg = "the peer's xception is not keras.applications.Xception(pooling='avg')"
        raise ValueError(msg)
    for mine, theirs in zip(twin.layers[1:], nested.layers[1:], strict=True):
        mine.set_weights(theirs.get_weights())
    return twin


def two_output_model(peer, side: int = SIDE):
    """[image 0..255 at ``side``, meta] -> (pooled backbone features, peer probabilities).

    The peer's graph re-wired layer by layer (its nested ``xception`` cannot expose its
    output in the outer graph): image -> normalization -> xception -> dropout -> dense ->
    BN; meta -> dense_1 -> BN -> dense_2 -> BN; concatenate -> dropout -> dense_3 -> BN ->
    dense_4 (softmax over the seven classes). Dropout is inactive at inference.
    """
    import keras

    get = peer.get_layer
    image = keras.Input((side, side, 3), name="image")
    meta = keras.Input((10,), name="meta")
    feats = _single(xception_at(peer, side)(get("normalization")(image)))
    a = get("batch_normalization_4")(get("dense")(get("dropout")(feats)))
    b = get("batch_normalization_6")(get("dense_2")(get("batch_normalization_5")(get("dense_1")(meta))))
    x = get("dropout_1")(get("concatenate")([a, b]))
    probs = get("dense_4")(get("batch_normalization_7")(get("dense_3")(x)))
    return keras.Model([image, meta], [feats, probs], name="peer_two_outputs")


def backbone_model(peer, side: int = SIDE):
    """image in [0, 1] at ``side`` -> pooled 2,048 features (the peer's normalization +
    xception; convolutions and global pooling take any side the peer's 254 down to 71)."""
    import keras

    image = keras.Input((side, side, 3), name="image_hr")
    x = keras.layers.Rescaling(255.0, name="to_0_255")(image)
    x = peer.get_layer("normalization")(x)
    feats = _single(xception_at(peer, side)(x))
    return keras.Model(image, feats, name="xception_features")


def _key(cfg: PreprocessConfig) -> str:
    blob = json.dumps({"pre": cfg.digest(), "peer": f"{PACKAGE}-{VERSION}", "version": 1},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_folder(cfg: PreprocessConfig) -> Path:
    return cache_root() / "xception" / _key(cfg)


def peer_onnx(folder: Path | None = None, side: int = SIDE) -> Path:
    """The peer's two-output graph at ``side`` converted once by tf2onnx (cached beside the
    features): ONNX Runtime runs it about twice as fast as Keras here (max difference 1.2e-6)."""
    suffix = "" if side == SIDE else f"-{side}"
    target = cache_root() / "xception" / f"peer-two-{PACKAGE}-{VERSION}{suffix}.onnx"
    if not target.exists():
        import tensorflow as tf
        import tf2onnx

        spec = [tf.TensorSpec([None, side, side, 3], tf.float32, name="image"),
                tf.TensorSpec([None, 10], tf.float32, name="meta")]
        proto, _ = tf2onnx.convert.from_keras(two_output_model(load_peer(folder), side),
                                              input_signature=spec, opset=17)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(proto.SerializeToString())
        os.replace(tmp, target)
    return target


def cached_peer_pass(paths: Sequence[Path], shas: Sequence[str], cfg: PreprocessConfig,
                     batch: int = 16, say: Callable[[str], None] | None = None,
                     threads: int = 2) -> None:
    """Fill the cache: per file, [2,048 pooled features, 7 peer probabilities] float32.

    ONNX Runtime scores one batch while a worker preprocesses the next."""
    from concurrent.futures import ThreadPoolExecutor

    import onnxruntime as ort

    folder = cache_folder(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    todo = [i for i, sha in enumerate(shas) if not (folder / f"{sha}.npy").exists()]
    if say:
        say(f"{len(paths)} images, {len(todo)} to compute in {folder}")
    if not todo:
        return
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(str(peer_onnx(side=cfg.size)), opts,
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]  # features first, then probabilities

    def tensors(idx: list[int]) -> np.ndarray:
        return np.stack([preprocess_array(decode_for_model(paths[i], cfg), cfg)
                         for i in idx]) * np.float32(255.0)

    # Another worker (e.g. one walking the list backwards) may have done some meanwhile.
    def still_todo(idx: list[int]) -> list[int]:
        return [i for i in idx if not (folder / f"{shas[i]}.npy").exists()]

    chunks = [todo[k:k + batch] for k in range(0, len(todo), batch)]
    t0, done = time.monotonic(), 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        nxt = pool.submit(lambda: (chunks[0], tensors(chunks[0])))
        for n in range(len(chunks)):
            idx, x = nxt.result()
            if n + 1 < len(chunks):
                ahead = still_todo(chunks[n + 1])
                nxt = pool.submit(lambda a=ahead: (a, tensors(a) if a else None))
            if not idx:
                continue
            meta = np.repeat(UNKNOWN_META[None], len(idx), axis=0)
            out = dict(zip(names, session.run(None, {"image": x, "meta": meta}), strict=True))
            feats, probs = out[names[0]], out[names[1]]
            for i, f, p in zip(idx, feats, probs, strict=True):
                save_atomic(folder / f"{shas[i]}.npy", np.concatenate([f, p]).astype(np.float32))
            done += len(idx)
            if say:
                say(f"{done}/{len(todo)} images, {done / (time.monotonic() - t0):.2f} img/s")


def load_cached(shas: Sequence[str], cfg: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """(features [N, 2048], peer probabilities [N, 7]) from the cache (all must be there)."""
    folder = cache_folder(cfg)
    rows = np.stack([np.load(folder / f"{sha}.npy") for sha in shas])
    return rows[:, :N_FEATURES], rows[:, N_FEATURES:]


def peer_malignant(probs: np.ndarray) -> np.ndarray:
    """The peer's malignant probability: the sum of its malignant classes."""
    idx = [PEER_CLASSES.index(c) for c in PEER_MALIGNANT]
    return probs[:, idx].sum(axis=1)


# Cache order: what the choice needs first (validation, the training core), the evaluation
# sets (the peer's row), then the rest of training and the other committed splits.
CORE = "supervised-train-core"
CACHE_ORDER = ("supervised-validation", CORE, "isic9-test", "ham-extra-eval", "isic2017-eval",
               "uda1-external", "supervised-train", "isic9-validation",
               "ham-extra-validation", "ham-extra-train", "ham-extra-dev-eval")
# supervised-train holds 5,514 images in six (site, label) cells of very different sizes
# (3,020 ham-extra nevi, 66 ham-extra melanomas); the site-balanced head gives every cell the
# same total weight anyway. The 6 GFLOP-an-image features are computed in a seeded
# round-robin over the cells, so any prefix of that order is a cell-balanced training set:
# the head trains on the first ``core_size`` images (every cell's images until it runs out),
# a size set by the compute a shared 2-core machine allows, never by results.
CORE_SEED = 34


def core_order(samples: Sequence) -> list:
    """``supervised-train`` in a seeded round-robin over its (site, label) cells."""
    from training.supervised import site_of

    rng = np.random.default_rng(CORE_SEED)
    cells: dict[tuple[str, bool], list] = {}
    for s in samples:
        cells.setdefault((site_of(s), s.is_malignant), []).append(s)
    queues = [list(rng.permutation(len(v))) for v in cells.values()]
    members = list(cells.values())
    out: list = []
    while any(queues):
        for q, m in zip(queues, members, strict=True):
            if q:
                out.append(m[q.pop(0)])
    return out


def core_training(samples: Sequence, size: int | None = None) -> list:
    """The first ``size`` images of :func:`core_order` (all when None)."""
    order = core_order(samples)
    return order if size is None else order[:size]


def split_or_core(name: str, data: Path) -> list:
    """The committed split's samples; :data:`CORE` is :func:`core_training` of supervised-train."""
    from desktop_app.core.evaluation.splits import SUPERVISED_TRAIN, split_samples

    if name == CORE:
        return core_training(split_samples(SUPERVISED_TRAIN, data))
    return split_samples(name, data)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training.xception --data DIR [--sog]``: fill the one-pass cache, resumable."""
    import argparse

    from desktop_app.core.imaging.imageio import file_sha256

    p = argparse.ArgumentParser(prog="python -m training.xception", description=main.__doc__)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--colour-constancy", default="none", choices=("none", "shades_of_gray"))
    p.add_argument("--side", type=int, default=SIDE, help="the classifier input's side")
    p.add_argument("--splits", nargs="+", default=list(CACHE_ORDER))
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    p.add_argument("--shard", default="0/1", metavar="K/N",
                   help="take every N-th file from the K-th (several workers, no overlap)")
    p.add_argument("--reverse", action="store_true",
                   help="walk each split backwards (a second worker beside a forward one)")
    args = p.parse_args(argv)

    def say(msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S', time.gmtime())} {msg}", flush=True)

    cfg = hr_config(args.colour_constancy, args.side)
    say(f"preprocessing {cfg.to_json()}")
    seen: set[str] = set()
    t0 = time.monotonic()
    for name in args.splits:
        samples = split_or_core(name, args.data)
        paths, shas = [], []
        for s in samples:
            sha = file_sha256(s.path)
            if sha not in seen:
                seen.add(sha)
                paths.append(s.path)
                shas.append(sha)
        k, n = (int(v) for v in args.shard.split("/"))
        paths, shas = paths[k::n], shas[k::n]
        if args.reverse:
            paths, shas = paths[::-1], shas[::-1]
        say(f"split {name}: {len(samples)} listed, {len(paths)} new files")
        cached_peer_pass(paths, shas, cfg, args.batch, say, args.threads)
    say(f"done: {len(seen)} distinct files in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
