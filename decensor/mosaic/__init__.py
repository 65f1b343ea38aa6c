"""Mosaics: their grid, finding them on a page, and restoring them.

A mosaic hides detail but keeps each block's average colour.

* :mod:`.grid`: the grid (block size and offset) measured from the pixels,
  block means, and laying a mosaic (for tests and training data);
* :mod:`.detection` (with :mod:`.votes`, :mod:`.evidence`, :mod:`.bands` and
  the thresholds in :mod:`.settings`): finding mosaics on a page with no
  marks, ``decensor mosaic --auto``;
* :mod:`.restoration`: the mosaic pipeline, a first guess that keeps every
  block's mean and the mosaic model's correction of it.
"""

from .detection import find_mosaic
from .grid import Grid, block_means, estimate_grid, grid_at, pixelate, upsample_block_means
from .restoration import (MosaicGuess, MosaicRestoration, block_mean_correction, block_mean_guide,
                          keep_block_means, sure_blocks)
from .settings import DEFAULT_DETECTION, DetectionSettings
from .votes import candidate_grids

__all__ = [
    "DEFAULT_DETECTION", "DetectionSettings", "Grid", "MosaicGuess", "MosaicRestoration", "block_mean_correction",
    "block_mean_guide", "block_means", "candidate_grids", "estimate_grid", "find_mosaic", "grid_at",
    "keep_block_means", "pixelate", "sure_blocks", "upsample_block_means",
]
