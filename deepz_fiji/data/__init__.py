"""Training data from calibrated z-stacks (numpy/scipy/scikit-image only; SPEC §4).

- :mod:`.normalize` — the one EDF/triangle-threshold normalisation every caller uses.
- :mod:`.preprocess` — the :class:`Preprocessor` protocol; :func:`stack_register` (StackReg),
  :func:`extended_depth_of_field` (EDF) and :func:`stitch_grid` (Grid/Collection stitching).
- :mod:`.regions`, :mod:`.pairs` — signal mask, greedy region cover, input/target planes.
- :mod:`.prepare`, :mod:`.dataset` — :func:`prepare_dataset`, :func:`read_dataset`, :func:`augment`.
- Deep-Z+ (wide-field → confocal): :mod:`.crossmodal` (:func:`prepare_crossmodal_dataset`),
  :mod:`.coregister`, :mod:`.focus` (axial zero point), :mod:`.registration` (2D transforms).
"""

from deepz_fiji.data.crossmodal import prepare_crossmodal_dataset
from deepz_fiji.data.dataset import AUGMENTATION_FACTOR, Dataset, augment, read_dataset
from deepz_fiji.data.edf import extended_depth_of_field, focus_height_map
from deepz_fiji.data.focus import axial_zero_point, focus_curve
from deepz_fiji.data.normalize import (
    NormParams,
    background_fill,
    background_mask,
    denormalize,
    estimate_normalization,
    normalize,
)
from deepz_fiji.data.pairs import kept_planes, middle_plane, sample_pairs
from deepz_fiji.data.prepare import prepare_dataset, split_fovs
from deepz_fiji.data.preprocess import Preprocessor, PythonPreprocessor, stack_register
from deepz_fiji.data.regions import cover_mask, signal_mask
from deepz_fiji.data.stacks import find_stacks, load_stack, pair_stack_files
from deepz_fiji.data.stitch import stitch_grid

__all__ = [
    "AUGMENTATION_FACTOR",
    "Dataset",
    "NormParams",
    "Preprocessor",
    "PythonPreprocessor",
    "augment",
    "axial_zero_point",
    "background_fill",
    "background_mask",
    "cover_mask",
    "denormalize",
    "estimate_normalization",
    "extended_depth_of_field",
    "find_stacks",
    "focus_curve",
    "focus_height_map",
    "kept_planes",
    "load_stack",
    "middle_plane",
    "normalize",
    "pair_stack_files",
    "prepare_crossmodal_dataset",
    "prepare_dataset",
    "read_dataset",
    "sample_pairs",
    "signal_mask",
    "split_fovs",
    "stack_register",
    "stitch_grid",
]
