"""Restoring a mosaic: what `decensor mosaic` does with one mosaic region.

1. Grid: the block size and offset, measured from the pixels unless given
   (:func:`decensor.mosaic.grid.estimate_grid`); without a grid the region
   is filled like a bar.
2. First guess (:meth:`MosaicRestoration.first_guess`): patch synthesis
   steered at every scale to copy patches whose block means match the
   mosaic's (:func:`block_mean_guide`), a grey page kept grey, then every
   block shifted smoothly towards the mosaic's mean, then as a whole for
   what is left, so it ends at that mean (:func:`keep_block_means`).
3. Network stage (optional): the mosaic model corrects that guess, seeing
   the bicubic block means and the block size too (:class:`MosaicGuess`);
   its result is shifted to the block means again, except in the blocks the
   first guess is sure of (:func:`sure_blocks`).

Every pixel outside the region is returned unchanged.
"""

import numpy as np
from scipy import ndimage

from .. import images
from ..bar import BarFill
from ..correction import NO_CORRECTION, load_correction
from ..guess import Guess
from ..inpaint import DEFAULT_BATCH, DEFAULT_MARGIN, DEFAULT_TILE
from ..patchfill import DEFAULT_SETTINGS, fill_patches
from ..regions import Box, mask_box
from .grid import (Grid, bicubic_blocks, block_means, estimate_grid, grid_at, upsample_block_means,
                   whole_blocks)

MODEL = "mosaic"
GUESS_KIND = "mosaic"


def block_mean_correction(filled, mosaic, grid, hole, passes=8):
    """Shift ``filled`` so that every mosaic block inside ``hole`` keeps the mosaic's mean colour.

    The per-block difference between the mosaic's mean and the fill's mean is
    spread smoothly (bicubic) over the blocks, so the fill keeps its detail
    while its local averages match what the mosaic still shows.
    A smooth correction does not hit each mean exactly, so it is repeated a
    few times on what is left (each pass removes most of the remainder), and
    what still remains (blocks whose pixels clip) is shifted block by block.
    Only whole blocks are corrected, and only near the hole
    (:func:`blocks_around`): no shift from farther can reach it.
    """
    corrected = np.asarray(filled, np.float32).copy()
    box = blocks_around(hole, grid)
    if box is None:
        return corrected
    target, _ = block_means(np.asarray(mosaic)[box], grid_at(grid.size))
    inside = np.asarray(hole)[box][..., None]
    view = corrected[box]  # (corrected in place)
    # Smooth passes, then what they leave (a block whose pixels clip at 0 or 255, a fill far off
    # the means) shifted block by block: the remainder is a grey level or two.
    for enlarge in (bicubic_blocks,) * passes + (_whole_blocks,) * EXACT_PASSES:
        current, _ = block_means(view, grid_at(grid.size))
        np.copyto(view, np.clip(view + enlarge(target - current, grid.size), 0, 255), where=inside)
    return corrected


# Whole-block shifts after the smooth ones: two bring clipped blocks within a grey level.
EXACT_PASSES = 2


def _whole_blocks(means, size):
    """Each block's value over all of its pixels."""
    return np.repeat(np.repeat(means, size, axis=0), size, axis=1)


# Blocks around the hole's that its correction reads: PIL's bicubic enlargement weighs two blocks each way.
REACH = 2


def blocks_around(hole, grid, reach=REACH):
    """Slices of the whole blocks of ``grid`` that ``hole`` touches, with ``reach`` blocks around them
    (as far as whole blocks go); None where the hole touches no whole block."""
    size = grid.size
    cropped, (top, left, rows, cols) = whole_blocks(np.asarray(hole), grid)
    if rows <= 0 or cols <= 0:
        return None
    touched = cropped.reshape(rows, size, cols, size).any(axis=(1, 3))
    touched_box = mask_box(touched)
    if touched_box is None:
        return None
    near = touched_box.expanded(reach, (rows, cols))  # (in blocks)
    return (slice(top + near.top * size, top + near.bottom * size),
            slice(left + near.left * size, left + near.right * size))


def keep_block_means(filled, mosaic, grid, hole):
    """``mosaic`` (uint8) with its ``hole`` taken from ``filled``, corrected to the block means."""
    corrected = block_mean_correction(filled, mosaic, grid, hole)
    result = np.asarray(mosaic).copy()
    result[hole] = np.round(corrected[hole]).astype(result.dtype)
    return result


def sure_blocks(filled, mosaic, grid, hole, tolerance=1.0):
    """Hole pixels of the blocks that the first guess restored without needing the mosaic's help.

    A block is sure when the guided fill already had the block's mean colour
    before the shift to it (it found a patch that the mosaic confirms, such
    as an edge continued from outside), or when the block and its eight
    neighbours hold one colour (flat art: the mosaic hides nothing). There
    the first guess is usually exact, and a mosaic model's correction can
    only add texture: on the benchmark, crops restored at the 8-bit cap fell
    to 40-50 dB.
    """
    wanted, (top, left) = block_means(mosaic, grid)
    rows, cols = wanted.shape[:2]
    sure = np.zeros(np.asarray(hole).shape, bool)
    if rows == 0 or cols == 0:
        return sure
    had, _ = block_means(filled, grid)
    matched = np.abs(had - wanted).max(axis=-1) <= tolerance
    neighbourhood = (3, 3, 1)  # the 3x3 blocks, each channel apart
    spread = (ndimage.maximum_filter(wanted, size=neighbourhood, mode="nearest")
              - ndimage.minimum_filter(wanted, size=neighbourhood, mode="nearest")).max(axis=-1)
    size = grid.size
    blocks = matched | (spread <= tolerance)
    sure[top : top + rows * size, left : left + cols * size] = np.kron(blocks, np.ones((size, size), bool))
    return sure & hole


def block_mean_guide(mosaic, grid, hole, passes=2, coarse_every=3):
    """A guide for :func:`decensor.patchfill.fill_patches`: patch synthesis that keeps the block means.

    For a window of the page it returns ``project(estimate, factor, vote,
    last)``: the estimate (at 1/factor scale) is enlarged to the page's
    scale, shifted to the mosaic's block means as :func:`block_mean_correction`
    does, and the shift is averaged back down. So every level of the
    synthesis copies patches that agree with what the mosaic still shows,
    instead of filling the region from its surroundings alone. At 1/4 scale
    and coarser only every ``coarse_every``-th vote and each level's start
    and last vote are guided: the votes between copy freely (better fills
    on validation, a quarter less time; ``benchmarks/TUNING.md``).
    """
    mosaic = np.asarray(mosaic)

    def for_window(window):
        rows, cols = window
        local_grid = Grid(grid.size, (grid.offset_y - rows.start) % grid.size,
                          (grid.offset_x - cols.start) % grid.size)
        local_mosaic = mosaic[window].astype(np.float32)
        local_hole = hole[window]
        height, width = local_hole.shape
        near = blocks_around(local_hole, local_grid)  # (the shift is zero elsewhere)

        def project(estimate, factor, vote, last):
            if near is None or (factor >= 4 and not last and vote % coarse_every):
                return estimate
            # The coarse pixels over the blocks near the hole, enlarged to the page's scale.
            first_row, first_col = near[0].start // factor, near[1].start // factor
            part = estimate[first_row : -(-near[0].stop // factor), first_col : -(-near[1].stop // factor)]
            top, left = first_row * factor, first_col * factor
            bottom = min(max(top + part.shape[0] * factor, near[0].stop), height)
            right = min(max(left + part.shape[1] * factor, near[1].stop), width)
            full = np.repeat(np.repeat(part, factor, axis=0), factor, axis=1)[: bottom - top, : right - left]
            # (An odd-sized window's last row or column has no coarse pixel of its own.)
            full = np.pad(full, ((0, bottom - top - full.shape[0]), (0, right - left - full.shape[1]), (0, 0)),
                          mode="edge")
            here = (slice(top, bottom), slice(left, right))
            part_grid = Grid(grid.size, (local_grid.offset_y - top) % grid.size,
                             (local_grid.offset_x - left) % grid.size)
            channels = estimate.shape[-1]
            shift = block_mean_correction(full, local_mosaic[here][..., :channels], part_grid, local_hole[here],
                                          passes=passes) - full
            shift[~local_hole[here]] = 0.0
            # Averaged back down to the level's scale.
            kept = (part.shape[0] * factor, part.shape[1] * factor)
            shift = np.pad(shift, ((0, max(0, kept[0] - shift.shape[0])), (0, max(0, kept[1] - shift.shape[1])), (0, 0)))
            shift = shift[: kept[0], : kept[1]].reshape(part.shape[0], factor, part.shape[1], factor, channels)
            projected = np.array(estimate, np.float32)
            projected[first_row : first_row + part.shape[0], first_col : first_col + part.shape[1]] += shift.mean(axis=(1, 3))
            return projected

        return project

    return for_window


class MosaicGuess(Guess):
    """The mosaic restoration's first guess, and what the mosaic still tells, tile by tile.

    Guess input channels: the first guess (``page``, uint8 like the page),
    the mosaic with its region replaced by bicubic block means (0..1), and
    the block size / 32 inside the region. ``sure`` marks the hole pixels
    whose first guess the tool keeps whatever the network says.
    """

    channels = 7
    evidence_channels = 4

    def __init__(self, page, mosaic, hole, grid, sure):
        super().__init__(page)
        self.mosaic = mosaic
        self.hole = hole
        self.grid = grid
        self.sure = sure
        self.means, self.origin = block_means(mosaic, grid)

    def tile(self, box):
        return np.concatenate([super().tile(box), self.evidence(box)], axis=-1)

    def evidence(self, box):
        """The last four channels of the guess input over ``box``."""
        size = self.grid.size
        tile = np.zeros((box.height, box.width, self.evidence_channels), np.float32)
        inside = box.clipped(self.hole.shape)
        if inside.height <= 0 or inside.width <= 0:
            return tile
        rgb = self.mosaic[inside.slices].astype(np.float32) / 255.0
        hole = self.hole[inside.slices]
        # Bicubic means over the tile, from the blocks around it (2 blocks of margin).
        top, left = self.origin
        rows, cols = self.means.shape[:2]
        first_row = max(0, (inside.top - top) // size - 2)
        last_row = min(rows, (inside.bottom - top) // size + 3)
        first_col = max(0, (inside.left - left) // size - 2)
        last_col = min(cols, (inside.right - left) // size + 3)
        if last_row > first_row and last_col > first_col:
            part = self.means[first_row:last_row, first_col:last_col]
            part_origin = (top + first_row * size, left + first_col * size)
            span = Box(part_origin[0], part_origin[1], part_origin[0] + part.shape[0] * size,
                       part_origin[1] + part.shape[1] * size)
            smooth, covered = upsample_block_means(part, grid_at(size), (0, 0), (span.height, span.width))
            common = Box(max(span.top, inside.top), max(span.left, inside.left),
                         min(span.bottom, inside.bottom), min(span.right, inside.right))
            if common.height > 0 and common.width > 0:
                source = smooth[common.top - span.top : common.bottom - span.top,
                                common.left - span.left : common.right - span.left] / 255.0
                target = (slice(common.top - inside.top, common.bottom - inside.top),
                          slice(common.left - inside.left, common.right - inside.left))
                region = hole[target]
                rgb[target][region] = source[region]
        placed = (slice(inside.top - box.top, inside.bottom - box.top),
                  slice(inside.left - box.left, inside.right - box.left))
        tile[placed][..., :3] = np.clip(rgb, 0.0, 1.0)
        tile[placed][..., 3] = hole * (size / 32.0)
        return tile


class MosaicRestoration:
    """Restores mosaic regions of 8-bit RGB pages, keeping every block's mean colour."""

    def __init__(self, correction=NO_CORRECTION, synthesis=DEFAULT_SETTINGS, without_grid=None):
        """``without_grid``: the :class:`decensor.bar.BarFill` for regions whose grid cannot be
        measured, or a function that loads it when one is first needed (default: patch synthesis alone)."""
        self.correction = correction
        self.synthesis = synthesis
        self._without_grid = without_grid or BarFill(synthesis=synthesis)

    @property
    def without_grid(self):
        if callable(self._without_grid):
            self._without_grid = self._without_grid()
        return self._without_grid

    @classmethod
    def load(cls, models_dir=None, synthesis=DEFAULT_SETTINGS, tile=DEFAULT_TILE, margin=DEFAULT_MARGIN,
             batch_size=DEFAULT_BATCH):
        """The pipeline with the shipped mosaic model; the bar model, for regions without a grid, is
        loaded when one is first met (most pages have none: it saves a quarter second per command)."""
        tiling = dict(tile=tile, margin=margin, batch_size=batch_size)
        return cls(load_correction(MODEL, GUESS_KIND, models_dir, **tiling), synthesis,
                   lambda: BarFill.load(models_dir, synthesis, **tiling))

    @property
    def card(self):
        return self.correction.card

    def first_guess(self, mosaic, hole, grid):
        """Guided patch synthesis, every block shifted to its mean (a :class:`MosaicGuess`)."""
        guided = fill_patches(mosaic, hole, guide=block_mean_guide(mosaic, grid, hole), settings=self.synthesis)
        filled = images.keep_grey(mosaic, guided, hole)
        return MosaicGuess(keep_block_means(filled, mosaic, grid, hole), mosaic, hole, grid,
                           sure_blocks(filled, mosaic, grid, hole))

    def finish(self, guess, corrected):
        """A corrected fill as the tool writes it: block means kept, the sure blocks' first guess kept."""
        shifted = keep_block_means(corrected, guess.mosaic, guess.grid, guess.hole)
        return np.where(guess.sure[..., None], guess.page, shifted)

    def restore(self, mosaic, hole, grid=None, progress=None):
        """(``mosaic`` with ``hole`` restored, the grid used or None when none could be measured)."""
        grid = grid or estimate_grid(mosaic, hole)
        if grid is None:
            return self.without_grid.fill(mosaic, hole, progress), None
        guess = self.first_guess(mosaic, hole, grid)
        if not self.correction.runs_network:
            return guess.page, grid
        corrected = images.keep_grey(mosaic, self.correction.apply(mosaic, hole, guess, progress), hole)
        return self.finish(guess, corrected), grid
