"""Where mosaics may be: grids voted for by flat boxes, the page's flattest offsets, banded phases.

Box statistics for every position come from summed-area tables, so a vote
costs a few passes over the page per block size. Numpy in, numpy out.
"""

from dataclasses import dataclass

import numpy as np

from ..regions import Box
from .grid import MAX_BLOCK, MIN_BLOCK, Grid, step_profile
from .settings import DEFAULT_DETECTION


@dataclass(frozen=True)
class Candidate:
    """A grid worth checking: its votes and the part of the page that voted."""

    votes: int
    box: object  # regions.Box


def candidate_grids(gray, settings=DEFAULT_DETECTION, sizes=range(MIN_BLOCK, MAX_BLOCK + 1)):
    """Grids worth checking, as {grid: Candidate}.

    For a block size ``s``, a box of s x s pixels placed exactly on a mosaic
    block is flat, while the same box moved half a block right or down
    straddles two blocks and is not. Boxes that pass both tests are counted by
    their position modulo ``s`` in every window: a mosaic piles its count
    onto one phase (its grid offset); flat paper passes nowhere, screentone
    and gradients are never flat, and the corners of flat shapes scatter over
    all phases. Box statistics for every position come from summed-area tables,
    so this costs a few passes over the page per block size.
    """
    return scan_candidates(gray, box_tables(gray), settings, sizes)[0]


def scan_candidates(gray, tables, settings=DEFAULT_DETECTION, sizes=range(MIN_BLOCK, MAX_BLOCK + 1)):
    """From one pass of box statistics: ({grid: Candidate}, {(axis, size, phase): votes} for
    banded mosaics, {size: (the page's flattest grid of that size, its boxes that pass the vote's test)})."""
    height, width = np.shape(gray)
    table, squares = tables
    window = settings.window
    found, bands, flattest = {}, {}, {}
    for size in sizes:
        if 2 * size > min(height, width):
            break
        std = box_std(table, squares, size).astype(np.float32)
        half = size // 2
        rows, cols = std.shape[0] - half, std.shape[1] - half
        on_block = std[:rows, :cols]
        straddling = np.minimum(std[:rows, half:], std[half:, :cols])
        passes = _passes_vote(on_block, straddling, settings)
        grid = flattest_grid(std, size, settings)
        if grid is not None:
            flattest[size] = (grid, int(passes[grid.offset_y :: size, grid.offset_x :: size].sum()))
        for top in range(0, max(rows - window, 0) + 1, window // 2):
            for left in range(0, max(cols - window, 0) + 1, window // 2):
                part = passes[top : top + window, left : left + window]
                tall, wide = (part.shape[0] // size) * size, (part.shape[1] // size) * size
                if not tall or not wide:
                    continue
                per_phase = part[:tall, :wide].reshape(tall // size, size, wide // size, size).sum(axis=(0, 2))
                best = _standout(per_phase, settings.min_votes, settings)
                if best is None:
                    continue
                phase_y, phase_x = np.unravel_index(int(per_phase.argmax()), per_phase.shape)
                grid = Grid(size, int(top + phase_y) % size, int(left + phase_x) % size)
                box = Box(top, left, min(height, top + window + size), min(width, left + window + size))
                if grid in found:
                    found[grid] = Candidate(found[grid].votes + best, found[grid].box.union(box))
                else:
                    found[grid] = Candidate(best, box)
        # (Boxes are square: the transposed page's box statistics are the transpose.)
        for axis, plane in (("rows", std), ("columns", std.T)):
            for phase, votes in _band_votes(plane, size, settings).items():
                bands[axis, size, phase] = bands.get((axis, size, phase), 0) + votes
    return found, bands, flattest


def _passes_vote(on_block, straddling, settings):
    """Boxes that are flat where the box half a block away straddles a step."""
    return (((on_block <= settings.flat_std) & (straddling >= settings.straddle_min)
             & (straddling >= settings.straddle_ratio * on_block + 1))
            | ((on_block <= settings.lossless_flat) & (straddling >= settings.lossless_straddle)))


def _band_votes(std, size, settings):
    """{phase: votes} of row lines where flat bands of ``size`` rows stack.

    A box on a band is flat, so is the box half a block along it, while the
    boxes half a block up and down straddle a step. Counted per phase of the
    box's top row in every window of rows, as for grids.
    """
    half = size // 2
    rows, cols = std.shape[0] - 2 * half, std.shape[1] - half
    if rows <= 0 or cols <= 0:
        return {}
    on_band = std[half : half + rows, :cols]
    straddling = np.minimum(std[:rows, :cols], std[2 * half : 2 * half + rows, :cols])
    passes = _passes_vote(on_band, straddling, settings) & (std[half : half + rows, half : half + cols]
                                                           <= settings.flat_std)
    window = settings.window
    votes = {}
    for top in range(0, max(rows - window, 0) + 1, window // 2):
        part = passes[top : top + window]
        tall = (part.shape[0] // size) * size
        if not tall:
            continue
        per_phase = part[:tall].reshape(tall // size, size, -1).sum(axis=(0, 2))
        best = _standout(per_phase, settings.min_votes * size, settings)
        if best is None:
            continue
        phase = int(top + half + per_phase.argmax()) % size
        votes[phase] = votes.get(phase, 0) + best
    return votes


def _standout(per_phase, min_votes, settings):
    """The top phase's count when it has ``min_votes`` and stands far above the others' mean, else None."""
    best = int(per_phase.max())
    rest = (per_phase.sum() - best) / (per_phase.size - 1)
    return None if best < min_votes or best < settings.standout * rest + 1 else best


def box_tables(gray):
    """Summed-area tables of grey and grey squared: any box's mean and spread in four lookups."""
    gray = np.asarray(gray, np.float64)
    return _summed_area(gray), _summed_area(gray * gray)


def _summed_area(values):
    table = np.zeros((values.shape[0] + 1, values.shape[1] + 1), np.float64)
    table[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    return table


def box_std(table, squares, size):
    """Standard deviation of every size x size box, indexed by its top-left pixel."""
    def box_sum(t):
        return t[size:, size:] - t[:-size, size:] - t[size:, :-size] + t[:-size, :-size]

    count = size * size
    mean = box_sum(table) / count
    return np.sqrt(np.maximum(box_sum(squares) / count - mean * mean, 0.0))


def flattest_grid(std, size, settings, top=0, left=0):
    """The grid whose boxes in the box-spread map ``std`` (its first box at ``top, left``) are flattest."""
    capped = np.minimum(std, 2 * settings.flat_std)
    rows, cols = (capped.shape[0] // size) * size, (capped.shape[1] // size) * size
    if not rows or not cols:
        return None
    per_phase = capped[:rows, :cols].reshape(rows // size, size, cols // size, size).mean(axis=(0, 2))
    phase_y, phase_x = np.unravel_index(int(per_phase.argmin()), per_phase.shape)
    return Grid(size, int(phase_y + top) % size, int(phase_x + left) % size)


def settle_offsets(tables, area, size, settings):
    """The grid of ``size`` whose blocks inside ``area`` are flattest.

    A box of a block's size placed exactly on mosaic blocks holds one colour;
    moved by any amount it straddles two. Spreads are capped, so that busy art
    weighs the same at every offset and the flattest offset is the mosaic's.
    This finds the offsets where box votes cannot: a mosaic whose blocks step
    one way only is flat at every offset along the other.
    """
    table, squares = (t[area.top : area.bottom + 1, area.left : area.right + 1] for t in tables)
    return flattest_grid(box_std(table, squares, size), size, settings, area.top, area.left)


def line_steps(gray):
    """Mean step across each row line and each column line of ``gray`` (see :func:`.grid.step_profile`)."""
    region = np.ones(gray.shape, bool)
    return [total / np.maximum(count, 1) for total, count in (step_profile(gray, region, axis) for axis in (0, 1))]


def refine_offsets(line_steps, grid, area):
    """``grid`` with each offset moved by at most a pixel to where the lines inside ``area`` carry the most step.

    Box votes under JPEG can land a pixel off a mosaic's grid, and the block
    test on the wrong grid then fails everywhere; the steps at the mosaic's
    lines say where they are. ``line_steps`` are :func:`line_steps` of the
    area. (A line at offset o is the step between pixels o - 1 and o.) Ties
    keep the voted offset.
    """
    offsets = []
    for line, offset, start in zip(line_steps, (grid.offset_y, grid.offset_x), (area.top, area.left)):
        folded = np.array([line[phase :: grid.size].mean() for phase in range(grid.size)])
        tried = [(offset + shift) % grid.size for shift in (0, -1, 1)]
        offsets.append(max(tried, key=lambda o: folded[(o - start - 1) % grid.size]))
    return Grid(grid.size, *offsets)
