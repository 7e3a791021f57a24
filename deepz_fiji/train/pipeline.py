"""tf.data adapter for dataset folders written by ``deepz prepare`` (contract B).

Training pairs stream from the shard files — a few shards are read at once and interleaved,
then shuffled in a bounded buffer — so datasets larger than memory train fine. Per pair, in
this order: random crop to the training patch, random flip/rot90 (:func:`deepz_fiji.data.augment`,
k = 0…4, or 0…7 with ``TrainConfig.augment_group`` 8), random intensity factor on image and
target. Validation pairs are never augmented.

The stream yields ``(image, target, dz_um, weight)`` with image and target (B, P, P) float32 and
each pair's loss weight (``TrainConfig.sharpen_weight`` for pairs refocusing towards their
region's focal plane, else 1); the DPM
channel is built in the train step (:func:`network_input`), so the buffer holds no constant
planes. A model with physics inputs (``ModelConfig.physics_inputs``) gets them computed per pair
on the cropped, augmented, scaled input (:func:`deepz_fiji.evaluate.baselines.physics_channels`,
edges mirrored), and the image then is (B, P, P, 1 + k): the image, then its k physics channels.
The stream is deterministic for a given ``seed`` and ``start`` (the iteration a resumed
run continues from).
"""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from deepz_fiji.data import augment as augment_pair
from deepz_fiji.data.dataset import Dataset
from deepz_fiji.errors import DeepZError
from deepz_fiji.evaluate.baselines import physics_channels
from deepz_fiji.train.options import TrainConfig

log = logging.getLogger(__name__)


def training_patch(dataset: Dataset, options: TrainConfig, size_multiple: int) -> int:
    """The crop side used for training: ``options.patch`` or the shard patch, a size multiple."""
    shard_patch = int(dataset.manifest["patch"])
    patch = options.patch if options.patch is not None else shard_patch
    if patch > shard_patch:
        raise DeepZError(f"training patch {patch} px is larger than the dataset's {shard_patch} px "
                         f"patches; use --patch {shard_patch} or less")
    patch -= patch % size_multiple
    if patch < size_multiple:
        raise DeepZError(f"training patch must be at least {size_multiple} px for this network depth")
    return patch


def focal_planes(dataset: Dataset) -> dict[tuple[int, int], int]:
    """``{(fov index, region index): the region's focal plane}`` from the dataset's manifest."""
    out = {}
    for fov in dataset.manifest.get("fovs", []):
        columns = fov.get("region_columns", [])
        if "middle_plane" not in columns:
            raise DeepZError(f"dataset {dataset.path} records no focal plane per region (field {fov.get('name')}); "
                             "re-run deepz prepare, or train without --sharpen-weight")
        column = columns.index("middle_plane")
        for region, record in enumerate(fov.get("regions", [])):
            out[(int(fov["index"]), region)] = int(record[column])
    if not out:
        raise DeepZError(f"dataset {dataset.path} records no regions with focal planes; prepare it with "
                         "deepz prepare, or train without --sharpen-weight")
    return out


def pair_weights(fov: np.ndarray, region: np.ndarray, input_plane: np.ndarray, target_plane: np.ndarray,
                 focal: dict[tuple[int, int], int], sharpen_weight: float) -> np.ndarray:
    """``sharpen_weight`` where a pair's target is nearer its region's focal plane than its input, else 1."""
    middle = np.array([focal[(int(f), int(r))] for f, r in zip(fov, region, strict=True)])
    towards = np.abs(target_plane - middle) < np.abs(input_plane - middle)
    return np.where(towards, np.float32(sharpen_weight), np.float32(1.0)).astype(np.float32)


def with_physics(image: np.ndarray, dz_um: float, config) -> np.ndarray:
    """``image`` (P, P) stacked with its physics channels → (P, P, 1 + k); as it is without them."""
    channels = physics_channels(image, dz_um, config) if config is not None else []
    return np.stack([image, *channels], axis=-1).astype(np.float32) if channels else image


def _shard_examples(path: bytes, seed: int, patch: int, options: TrainConfig,
                    focal: dict[tuple[int, int], int] | None = None, config=None):
    """Yield (image, target, dz, weight) from one shard in random order, cropped and augmented."""
    rng = np.random.default_rng(int(seed))
    with np.load(path.decode() if isinstance(path, bytes) else path) as shard:
        inputs, targets, dz = shard["inputs"], shard["targets"], shard["dz_um"]
        weights = (np.ones(len(dz), np.float32) if focal is None else
                   pair_weights(shard["fov"], shard["region"], shard["input_plane"], shard["target_plane"], focal,
                                options.sharpen_weight))
    size = inputs.shape[-1]
    low, high = options.intensity_scale or (1.0, 1.0)
    for i in rng.permutation(len(dz)):
        y0, x0 = rng.integers(0, size - patch + 1, size=2)
        image = inputs[i, y0:y0 + patch, x0:x0 + patch]
        target = targets[i, y0:y0 + patch, x0:x0 + patch]
        if options.augment:
            k = int(rng.integers(options.augment_group))
            image, target = augment_pair(image, k), augment_pair(target, k)
        factor = np.float32(np.exp(rng.uniform(np.log(low), np.log(high)))) if high > low else np.float32(low)
        yield (with_physics((image * factor).astype(np.float32), float(dz[i]), config),
               (target * factor).astype(np.float32), np.float32(dz[i]), weights[i])


def training_stream(dataset: Dataset, options: TrainConfig, patch: int, *, start: int = 0,
                    config=None) -> tf.data.Dataset:
    """Endless batches ``(image (B,P,P[,1+k]), target (B,P,P), dz_um (B,), weight (B,))`` of augmented
    training pairs; ``config``: the model's, whose physics inputs join the image."""
    paths = [str(p) for p in dataset.shards("train")]
    if not paths or dataset.count("train") == 0:
        raise DeepZError(f"dataset {dataset.path} has no training pairs; re-run deepz prepare with more stacks")
    seed = np.random.SeedSequence([options.seed, start]).generate_state(1)[0]

    def visits():
        rng = np.random.default_rng(seed)
        while True:
            for i in rng.permutation(len(paths)):
                yield paths[i], int(rng.integers(2**62))

    k = len(getattr(config, "physics_inputs", []) or [])
    image_shape = (patch, patch, 1 + k) if k else (patch, patch)
    pair_spec = (tf.TensorSpec(image_shape, tf.float32), tf.TensorSpec((patch, patch), tf.float32),
                 tf.TensorSpec((), tf.float32), tf.TensorSpec((), tf.float32))
    focal = focal_planes(dataset) if options.sharpen_weight != 1.0 else None

    def read(path, visit_seed):
        return tf.data.Dataset.from_generator(
            lambda p, s: _shard_examples(p, s, patch, options, focal, config), args=(path, visit_seed),
            output_signature=pair_spec)

    ds = tf.data.Dataset.from_generator(
        visits, output_signature=(tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.int64)))
    ds = ds.interleave(read, cycle_length=min(options.cycle_length, len(paths)), block_length=1)
    ds = ds.shuffle(options.shuffle_buffer, seed=int(seed % 2**31))
    return ds.batch(options.batch, drop_remainder=True).prefetch(2)


def validation_arrays(dataset: Dataset, options: TrainConfig, size_multiple: int, config=None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(images, targets, dz_um)`` of the validation split, centre-cropped to a size multiple
    (with ``config``'s physics channels after the image, as in :func:`training_stream`).

    At most ``options.val_samples`` pairs, chosen once with a fixed seed so every validation
    of a run sees the same pairs.
    """
    if not dataset.shards("val") or dataset.count("val") == 0:
        raise DeepZError(f"dataset {dataset.path} has no validation pairs, which training needs to pick the "
                         "best model; re-run deepz prepare with more z-stacks")
    arrays = dataset.load_split("val")
    images, targets, dz = arrays["inputs"], arrays["targets"], arrays["dz_um"]
    if options.val_samples is not None and options.val_samples < len(dz):
        keep = np.sort(np.random.default_rng(options.seed).choice(len(dz), options.val_samples, replace=False))
        images, targets, dz = images[keep], targets[keep], dz[keep]
    size = images.shape[-1] - images.shape[-1] % size_multiple
    if size < size_multiple:
        raise DeepZError(f"validation patches ({images.shape[-1]} px) are smaller than the network's "
                         f"size multiple {size_multiple}")
    y0 = (images.shape[-2] - size) // 2
    x0 = (images.shape[-1] - size) // 2
    crop = (slice(None), slice(y0, y0 + size), slice(x0, x0 + size))
    images = np.ascontiguousarray(images[crop], np.float32)
    if getattr(config, "physics_inputs", None):
        images = np.stack([with_physics(image, float(d), config) for image, d in zip(images, dz, strict=True)])
    return images, np.ascontiguousarray(targets[crop], np.float32), dz.astype(np.float32)


def network_input(image: tf.Tensor, dz_um: tf.Tensor, dpm_scale_um: float) -> tf.Tensor:
    """Stack (B,H,W) images with their uniform DPM channel ``dz_um / dpm_scale_um`` → (B,H,W,2);
    (B,H,W,1+k) images with physics channels → (B,H,W,2+k), the DPM second."""
    if image.shape.rank == 4:
        dpm = tf.ones_like(image[..., :1]) * tf.reshape(dz_um / dpm_scale_um, [-1, 1, 1, 1])
        return tf.concat([image[..., :1], dpm, image[..., 1:]], axis=-1)
    dpm = tf.ones_like(image) * tf.reshape(dz_um / dpm_scale_um, [-1, 1, 1])
    return tf.stack([image, dpm], axis=-1)

