"""Mosaic regions: finding them, their block size and grid, and what they still tell.

A mosaic hides detail but keeps each block's average colour. The functions
here find the grid (block size and offset) from the pixels themselves, find
mosaic regions on a page without any paint (``--auto``), and compute the
block means that the restoration must keep. All numpy in, numpy out.

Detection rule (``find_mosaic``): candidate grids come from boxes that are
flat exactly on a block and not half a block away (``candidate_grids``); on
each candidate grid, neighbouring blocks that are both flat inside (standard
deviation below ``flat_std``, tolerant of JPEG noise) with a clear step right
on the grid line between them (>= ``min_step`` grey levels and >=
``min_contrast`` times the steps inside the blocks) form a stepping pair;
a block in two or more such pairs is evidence (a flat block of the art next
to a mosaic's edge steps only towards the mosaic). A firm region needs
``min_blocks`` evidence blocks and steps both ways; once one proves the
grid, the found blocks grow into neighbouring flat patches whose edges step
on grid lines (``_grow``), and pieces on that grid anywhere on the page need
far less evidence. Blocks already found on another grid are no evidence for
a grid (a 24 px mosaic has flat 18 px boxes too). Votes can land off a
mosaic's offsets (JPEG; blocks that differ one way only), so each candidate
is also tried at the offsets where block-sized boxes are flattest
(``_settle_offsets``); a block size no window voted for at all (a mosaic of
a dozen large blocks) is tried at the page's flattest offsets. Flat colour
has flat blocks but no steps, screentone has no flat blocks, a smooth
gradient steps inside blocks as much as across lines, and JPEG's own 8x8
blocking steps only faintly.

A mosaic over shading that changes one way only (a gradient) has no steps
along the shading's contour lines: it is a stack of flat bands, each one
block high, stepping one way. Such a mosaic cannot prove a grid both ways,
so it is found by its own rule (``_banded_regions``): at least ``MIN_BANDS``
bands, each flat along its length, stepping by at least ``min_step`` one
way like a staircase, over at least ``MIN_BAND_BLOCKS`` blocks' length. The
other axis's grid offset comes from where the bands end. Thick lines, flags
and stripes of alternating colours are not staircases.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .inpaint import PagePrior

MIN_BLOCK = 4
# JPEG ringing allowed in a mosaic's rim blocks when growing a region: a share
# of the step to the neighbouring block's mean (a rim against a contrasting
# edge), and of the busiest neighbour's own spread (a rim against hatching or
# tone of about the same grey, whose ringing leaks into the block). RIM_LEAK,
# on 200 training-split pages: JPEG recall 0.954 -> 0.958, precision 0.971
# either way; 0.05 and 0.08 found no more.
RIM_RINGING = 0.12
RIM_LEAK = 0.03
MAX_BLOCK = 48
# Banded mosaics (over one-way shading). On 200 training-split pages, JPEG:
# recall 0.958 -> 0.965 at unchanged precision (0.971), no clean page fires.
MIN_BANDS = 4
MIN_BAND_BLOCKS = 4
# Grey levels a band's column means may wander along it (JPEG noise), and
# the spread allowed down a column inside a band.
BAND_ALONG_STD = 2.5
BAND_NOISE = 1.5
_FOUR_NEIGHBOURS = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], bool)


@dataclass(frozen=True)
class Grid:
    """Mosaic grid: square blocks of ``size`` px, lines at ``offset + k * size``."""

    size: int
    offset_y: int
    offset_x: int


def _as_float_gray(rgb):
    rgb = np.asarray(rgb)
    if rgb.ndim == 3:
        return rgb.astype(np.float32).mean(axis=-1)
    return rgb.astype(np.float32)


NOISE_STEP = 4.0


def _step_profile(gray, region, axis):
    """Mean step between neighbours across ``axis``, per line position, inside ``region``.

    Steps below NOISE_STEP grey levels (JPEG ringing inside a block) count as none.
    """
    steps = np.abs(np.diff(gray, axis=axis))
    inside_steps = steps[region[:, 1:] & region[:, :-1]] if axis == 1 else steps[region[1:, :] & region[:-1, :]]
    # Noise floor: JPEG ringing is a fraction of the real steps around it.
    strong = inside_steps[inside_steps >= NOISE_STEP]
    floor = max(NOISE_STEP, 0.25 * float(np.percentile(strong, 90))) if len(strong) else NOISE_STEP
    steps = np.where(steps >= floor, steps, 0.0)
    inside = region[:, 1:] & region[:, :-1] if axis == 1 else region[1:, :] & region[:-1, :]
    total = (steps * inside).sum(axis=1 - axis)
    count = inside.sum(axis=1 - axis)
    return total, count


def _best_offsets(total, count, sizes):
    """For each size: {size: (score, offset)} of the offset whose lines carry the most step.

    The score is the step on grid lines minus the step everywhere else: a
    mosaic's steps all fall on its lines, so the true size keeps all of it;
    a multiple of the size misses some lines and is charged for them.
    """
    profile = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    energy = profile.sum()
    results = {}
    for size in sizes:
        if size * 2 > len(profile) + 1:
            continue
        # Step between p and p+1 lies on a line when (p + 1 - offset) % size == 0.
        per_phase = np.array([profile[phase::size].sum() for phase in range(size)])
        phase = int(per_phase.argmax())
        on = per_phase[phase]
        lines = len(profile[phase::size])
        on_mean = on / max(lines, 1)
        off_mean = (energy - on) / max(len(profile) - lines, 1)
        results[size] = (on - (energy - on), (phase + 1) % size, on_mean, off_mean)
    return results


def estimate_grid(image, region=None, sizes=range(MIN_BLOCK, MAX_BLOCK + 1)):
    """The mosaic grid inside ``region`` (default: the whole image), or None if there is none.

    Steps between neighbouring pixels inside a mosaic fall only on grid lines.
    The size whose lines carry (nearly) all the step wins; of sizes that tie
    (a half or a third of the block also has a line at every block edge) the
    largest is taken.
    """
    gray = _as_float_gray(image)
    region = np.ones(gray.shape, bool) if region is None else np.asarray(region, bool)
    columns = _best_offsets(*_step_profile(gray, region, axis=1), sizes)
    rows = _best_offsets(*_step_profile(gray, region, axis=0), sizes)
    scores = {
        size: columns[size][0] + rows[size][0]
        for size in columns
        if size in rows
        # The lines must stand out from the rest on both axes.
        and columns[size][2] > 3 * columns[size][3] and rows[size][2] > 3 * rows[size][3]
    }
    if not scores:
        return None
    best = max(scores.values())
    size = max(size for size, score in scores.items() if score >= best - 0.1 * abs(best))
    size = _coarsest_explaining(gray, region, size, columns, rows, sizes)
    return Grid(size, rows[size][1], columns[size][1])


def _coarsest_explaining(gray, region, size, columns, rows, sizes):
    """Move from ``size`` to a multiple whose lines carry the step while the
    in-between lines of ``size`` stay quiet (JPEG noise can make a half-size
    grid look as good as the true one)."""
    profiles = [
        np.where(count > 0, total / np.maximum(count, 1), 0.0)
        for total, count in (_step_profile(gray, region, axis=1), _step_profile(gray, region, axis=0))
    ]
    offsets = [columns, rows]
    chosen = size
    for multiple in range(size * 2, max(sizes) + 1, size):
        if multiple not in columns or multiple not in rows:
            break
        ok = True
        for profile, by_size in zip(profiles, offsets):
            phase = (by_size[multiple][1] - 1) % multiple
            if (phase - (by_size[size][1] - 1)) % size:
                ok = False  # the multiple's lines are not on the finer grid
                break
            coarse = profile[phase::multiple]
            fine_lines = np.zeros(len(profile), bool)
            fine_lines[(by_size[size][1] - 1) % size :: size] = True
            fine_lines[phase::multiple] = False
            between = profile[fine_lines]
            if len(coarse) == 0 or len(between) == 0 or between.mean() > 0.1 * coarse.mean():
                ok = False
                break
        if ok:
            chosen = multiple
    return chosen


def _lies_on(fine, coarse):
    """Whether every line of the ``coarse`` grid is also a line of ``fine``."""
    return (coarse.size % fine.size == 0 and coarse.offset_y % fine.size == fine.offset_y
            and coarse.offset_x % fine.size == fine.offset_x)


def _line_steps(gray):
    """Mean step across each row line and each column line of ``gray`` (see :func:`_step_profile`)."""
    region = np.ones(gray.shape, bool)
    return [total / np.maximum(count, 1) for total, count in (_step_profile(gray, region, axis) for axis in (0, 1))]


def _refine_offsets(line_steps, grid, area):
    """``grid`` with each offset moved by at most a pixel to where the lines inside ``area`` carry the most step.

    Box votes under JPEG can land a pixel off a mosaic's grid, and the block
    test on the wrong grid then fails everywhere; the steps at the mosaic's
    lines say where they are. ``line_steps`` are :func:`_line_steps` of the
    area. (A line at offset o is the step between pixels o - 1 and o.) Ties
    keep the voted offset.
    """
    offsets = []
    for line, offset, start in zip(line_steps, (grid.offset_y, grid.offset_x), (area.top, area.left)):
        folded = np.array([line[phase :: grid.size].mean() for phase in range(grid.size)])
        tried = [(offset + shift) % grid.size for shift in (0, -1, 1)]
        offsets.append(max(tried, key=lambda o: folded[(o - start - 1) % grid.size]))
    return Grid(grid.size, *offsets)


def _settle_offsets(tables, area, size, flat_std):
    """The grid of ``size`` whose blocks inside ``area`` are flattest.

    A box of a block's size placed exactly on mosaic blocks holds one colour;
    moved by any amount it straddles two. Spreads are capped, so that busy art
    weighs the same at every offset and the flattest offset is the mosaic's.
    This finds the offsets where box votes cannot: a mosaic whose blocks step
    one way only is flat at every offset along the other.
    """
    table, squares = (t[area.top : area.bottom + 1, area.left : area.right + 1] for t in tables)
    return _flattest(_box_std(table, squares, size), size, flat_std, area.top, area.left)


def _flattest(std, size, flat_std, top=0, left=0):
    """The grid whose boxes in the box-spread map ``std`` (its first box at ``top, left``) are flattest."""
    capped = np.minimum(std, 2 * flat_std)
    rows, cols = (capped.shape[0] // size) * size, (capped.shape[1] // size) * size
    if not rows or not cols:
        return None
    per_phase = capped[:rows, :cols].reshape(rows // size, size, cols // size, size).mean(axis=(0, 2))
    phase_y, phase_x = np.unravel_index(int(per_phase.argmin()), per_phase.shape)
    return Grid(size, int(phase_y + top) % size, int(phase_x + left) % size)


def _on_page(piece, area, shape):
    mask = np.zeros(shape, bool)
    mask[area.slices] = piece
    return mask


def _block_view(array, grid):
    """Crop ``array`` to whole grid blocks and view it as (rows, cols, size, size, ...)."""
    size = grid.size
    top, left = grid.offset_y % size, grid.offset_x % size
    height = (array.shape[0] - top) // size
    width = (array.shape[1] - left) // size
    cropped = array[top : top + height * size, left : left + width * size]
    shape = (height, size, width, size) + array.shape[2:]
    blocks = cropped.reshape(shape).swapaxes(1, 2)
    return blocks, (top, left, height, width)


def block_means(image, grid):
    """Mean colour of every whole grid block: (rows, cols, channels) float32, and the crop origin."""
    pixels = np.asarray(image, np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    blocks, (top, left, height, width) = _block_view(pixels, grid)
    return blocks.mean(axis=(2, 3)), (top, left)


def find_mosaic(
    image,
    flat_std=6.0,
    min_blocks=4,
    min_step=2.0,
    min_contrast=3.0,
    window=128,
):
    """Find mosaic regions on a page with no marks.

    Candidate grids come from :func:`candidate_grids` (a page may carry
    several mosaics of different block sizes and offsets); each is then
    checked block by block around the windows that voted for it, at the
    voted offsets and at the flattest ones (and once more a pixel off, where
    the lines step most, if neither finds anything). Block sizes without a
    vote are then tried at the page's flattest offsets, every grid so proven
    is checked across the whole page, and last come the banded candidates
    (see the module's docstring). Returns
    ``(mask, regions)``: a boolean pixel mask and a list of ``(grid, region
    mask)`` per accepted region.
    """
    from .regions import Box

    gray = _as_float_gray(np.asarray(image))
    tables = _box_tables(gray)
    found = np.zeros(gray.shape, bool)
    found_on = {}  # grid -> its pixels found so far
    regions = []
    # (Candidates' areas often cover the whole page: many share a check.)
    checked, settled, line_steps = {}, {}, {}

    def take(grid, mask):
        if (mask & found).sum() > 0.5 * mask.sum():
            return  # already found on a finer or coarser version of this grid
        mask &= ~found
        found[mask] = True
        found_on[grid] = found_on.get(grid, False) | mask
        regions.append((grid, mask))

    def pieces_on(grid, area):
        """Pieces on ``grid`` inside ``area``; a mosaic found on another grid is no evidence for it."""
        key = (grid, area, len(regions))
        if key not in checked:
            local = Grid(grid.size, (grid.offset_y - area.top) % grid.size, (grid.offset_x - area.left) % grid.size)
            explained = found[area.slices]
            if grid in found_on:
                explained = explained & ~found_on[grid][area.slices]
            pieces = _regions_on_grid(gray[area.slices], local, flat_std, min_blocks, min_step, min_contrast, explained)
            checked[key] = [(_on_page(piece, area, gray.shape), blocks) for piece, blocks in pieces]
        return [(piece.copy(), blocks) for piece, blocks in checked[key]]

    def on_found_lines(grid):
        """Whether ``grid``'s lines hold a coarser mosaic already found (its paper would pass too)."""
        return any(_lies_on(grid, taken) for taken in found_on)

    candidates, bands, flattest = _scan_candidates(gray, flat_std=flat_std, window=window, tables=tables)
    page = Box(0, 0, *gray.shape)
    settled.update(((size, page), grid) for size, (grid, _) in flattest.items())
    # Coarse grids first: a 16 px mosaic also passes as an 8 or 4 px one.
    for voted in sorted(candidates, key=lambda g: (-g.size, -candidates[g].votes)):
        area = candidates[voted].box.expanded(window + 4 * voted.size, gray.shape)
        # Votes can land off the grid (under JPEG, or on a mosaic whose blocks
        # differ one way only), so the offsets where the boxes are flattest
        # are tried too, and the grid that finds more blocks is kept.
        best_grid, best = voted, []
        if (voted.size, area) not in settled:
            settled[voted.size, area] = _settle_offsets(tables, area, voted.size, flat_std)
        for grid in dict.fromkeys(grid for grid in (voted, settled[voted.size, area]) if grid is not None):
            if grid == voted or not on_found_lines(grid):
                pieces = pieces_on(grid, area)
                if sum(blocks for _, blocks in pieces) > sum(blocks for _, blocks in best):
                    best_grid, best = grid, pieces
        if not best:
            # Votes under JPEG can land a pixel off the grid: try where the lines step most.
            if area not in line_steps:
                line_steps[area] = _line_steps(gray[area.slices])
            grid = _refine_offsets(line_steps[area], voted, area)
            if grid != voted and not on_found_lines(grid):
                best_grid, best = grid, pieces_on(grid, area)
        for piece, _ in best:
            take(best_grid, piece)
    # Sizes no window voted for (a mosaic of few large blocks): the page's flattest offsets.
    voted_sizes = {grid.size for grid in candidates}
    for size in range(MAX_BLOCK, MIN_BLOCK - 1, -1):
        grid, passing = flattest.get(size, (None, 0))
        # (Skipped, to save time, where fewer than min_blocks boxes pass the vote's test on that
        # grid: too few blocks to prove it. On 200 training pages this lost nothing.)
        if size not in voted_sizes and passing >= min_blocks and not on_found_lines(grid):
            for piece, _ in pieces_on(grid, page):
                take(grid, piece)
    # A grid proven somewhere holds across the page: its pieces elsewhere need
    # far less evidence (see _regions_on_grid), wherever the votes fell.
    for grid in list(found_on):
        for piece, _ in pieces_on(grid, page):
            take(grid, piece)
    # Then mosaics over one-way shading, which prove their grid one way only.
    for (axis, size, phase) in sorted(bands, key=lambda key: (-key[1], -bands[key])):
        transposed = axis == "columns"
        plane = gray.T if transposed else gray
        for mask, phase_along in _banded_regions(plane, size, phase, min_step, min_contrast):
            if transposed:
                take(Grid(size, phase_along, phase), mask.T)
            else:
                take(Grid(size, phase, phase_along), mask)
    return found, regions


@dataclass(frozen=True)
class Candidate:
    """A grid worth checking: its votes and the part of the page that voted."""

    votes: int
    box: object  # regions.Box


def candidate_grids(gray, sizes=range(MIN_BLOCK, MAX_BLOCK + 1), flat_std=6.0, window=128, min_count=3):
    """Grids worth checking, as {grid: Candidate}.

    For a block size ``s``, a box of s x s pixels placed exactly on a mosaic
    block is flat, while the same box moved half a block right or down
    straddles two blocks and is not. Boxes that pass both tests are counted by
    their position modulo ``s`` in every ``window``: a mosaic piles its count
    onto one phase (its grid offset); flat paper passes nowhere, screentone
    and gradients are never flat, and the corners of flat shapes scatter over
    all phases. Box statistics for every position come from summed-area tables,
    so this costs a few passes over the page per block size.
    """
    return _scan_candidates(gray, sizes, flat_std, window, min_count)[0]


def _scan_candidates(gray, sizes=range(MIN_BLOCK, MAX_BLOCK + 1), flat_std=6.0, window=128, min_count=3,
                     tables=None):
    """From one pass of box statistics: ({grid: Candidate}, {(axis, size, phase): votes} for
    banded mosaics, {size: (the page's flattest grid of that size, its boxes that pass the vote's test)})."""
    from .regions import Box

    height, width = np.shape(gray)
    table, squares = tables or _box_tables(gray)
    found, bands, flattest = {}, {}, {}
    for size in sizes:
        if 2 * size > min(height, width):
            break
        std = _box_std(table, squares, size).astype(np.float32)
        half = size // 2
        rows, cols = std.shape[0] - half, std.shape[1] - half
        on_block = std[:rows, :cols]
        straddling = np.minimum(std[:rows, half:], std[half:, :cols])
        passes = on_block <= flat_std
        passes &= straddling >= 2.0
        passes &= straddling >= 2 * on_block + 1
        grid = _flattest(std, size, flat_std)
        if grid is not None:
            flattest[size] = (grid, int(passes[grid.offset_y :: size, grid.offset_x :: size].sum()))
        for top in range(0, max(rows - window, 0) + 1, window // 2):
            for left in range(0, max(cols - window, 0) + 1, window // 2):
                part = passes[top : top + window, left : left + window]
                tall, wide = (part.shape[0] // size) * size, (part.shape[1] // size) * size
                if not tall or not wide:
                    continue
                per_phase = part[:tall, :wide].reshape(tall // size, size, wide // size, size).sum(axis=(0, 2))
                best = _standout(per_phase, min_count)
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
            for phase, votes in _band_votes(plane, size, flat_std, window, min_count).items():
                bands[axis, size, phase] = bands.get((axis, size, phase), 0) + votes
    return found, bands, flattest


def _band_votes(std, size, flat_std, window, min_count):
    """{phase: votes} of row lines where flat bands of ``size`` rows stack.

    A box on a band is flat, so is the box half a block along it, while the
    boxes half a block up and down straddle a step. Counted per phase of the
    box's top row in every ``window`` rows, as for grids.
    """
    half = size // 2
    rows, cols = std.shape[0] - 2 * half, std.shape[1] - half
    if rows <= 0 or cols <= 0:
        return {}
    on_band = std[half : half + rows, :cols]
    straddling = np.minimum(std[:rows, :cols], std[2 * half : 2 * half + rows, :cols])
    passes = ((on_band <= flat_std) & (std[half : half + rows, half : half + cols] <= flat_std)
              & (straddling >= 2.0) & (straddling >= 2 * on_band + 1))
    votes = {}
    for top in range(0, max(rows - window, 0) + 1, window // 2):
        part = passes[top : top + window]
        tall = (part.shape[0] // size) * size
        if not tall:
            continue
        per_phase = part[:tall].reshape(tall // size, size, -1).sum(axis=(0, 2))
        best = _standout(per_phase, min_count * size)
        if best is None:
            continue
        phase = int(top + half + per_phase.argmax()) % size
        votes[phase] = votes.get(phase, 0) + best
    return votes


def _standout(per_phase, min_votes):
    """The top phase's count when it has ``min_votes`` and stands far above the others' mean, else None."""
    best = int(per_phase.max())
    rest = (per_phase.sum() - best) / (per_phase.size - 1)
    return None if best < min_votes or best < 4 * rest + 1 else best


def _box_tables(gray):
    """Summed-area tables of grey and grey squared: any box's mean and spread in four lookups."""
    gray = np.asarray(gray, np.float64)
    return _summed_area(gray), _summed_area(gray * gray)


def _summed_area(values):
    table = np.zeros((values.shape[0] + 1, values.shape[1] + 1), np.float64)
    table[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    return table


def _box_std(table, squares, size):
    """Standard deviation of every size x size box, indexed by its top-left pixel."""
    def box_sum(t):
        return t[size:, size:] - t[:-size, size:] - t[size:, :-size] + t[:-size, :-size]

    count = size * size
    mean = box_sum(table) / count
    return np.sqrt(np.maximum(box_sum(squares) / count - mean * mean, 0.0))


def _regions_on_grid(gray, grid, flat_std, min_blocks, min_step, min_contrast, explained=None):
    """Mosaic regions on one grid, as [(pixel mask, block count)].

    Evidence is a pair of neighbouring blocks, both flat inside, with a real
    step right at the grid line between them: at least ``min_step`` grey
    levels, and ``min_contrast`` times the pixel steps inside the blocks (a
    smooth gradient steps as much inside a block as across a line). Regions
    are the evidence blocks, closed over small gaps (a mosaic over plain paper
    has flat blocks without steps) and filled.
    """
    size = grid.size
    # One block view of the page's grey serves every per-block measure below.
    blocks, (top, left, rows, cols) = _block_view(gray, grid)
    if rows < 2 or cols < 2:
        return []
    block_std = blocks.std(axis=(2, 3))
    flat = block_std <= flat_std
    # Blocks of a mosaic found on another grid are no evidence for this one (they may still be grown into).
    free = np.ones_like(flat) if explained is None else ~_block_view(explained, grid)[0].any(axis=(2, 3))
    inner = _inner_steps(blocks)
    across_h = np.abs(blocks[:, 1:, :, 0] - blocks[:, :-1, :, -1]).mean(axis=-1)
    across_v = np.abs(blocks[1:, :, 0, :] - blocks[:-1, :, -1, :]).mean(axis=-1)
    ok_h = (flat[:, 1:] & flat[:, :-1] & (across_h >= min_step)
            & (across_h >= min_contrast * (np.maximum(inner[:, 1:], inner[:, :-1]) + 0.25)))
    ok_v = (flat[1:, :] & flat[:-1, :] & (across_v >= min_step)
            & (across_v >= min_contrast * (np.maximum(inner[1:, :], inner[:-1, :]) + 0.25)))
    pairs = _onto_blocks(ok_h, ok_v, np.add, np.int8)
    # A mosaic block steps to most of its neighbours; a flat block of the art
    # next to a mosaic's edge steps only towards the mosaic and stays outside.
    evidence = (pairs >= 2) & free
    if evidence.sum() < min_blocks:
        return []  # (no region could be firm)
    # Neighbouring blocks of one colour, for growing a region into patches.
    means = blocks.mean(axis=(2, 3))
    mean_step_h = np.abs(np.diff(means, axis=1))
    mean_step_v = np.abs(np.diff(means, axis=0))
    same_h = flat[:, 1:] & flat[:, :-1] & (mean_step_h < 2.5)
    same_v = flat[1:, :] & flat[:-1, :] & (mean_step_v < 2.5)
    # Bridge gaps of up to two blocks (plain paper under the mosaic), then take
    # each group's bounding rectangle of flat blocks: mosaics are laid as
    # rectangles or painted shapes, and their plain-paper blocks show no steps.
    # Padded first: closing erodes from the array's edge and would drop the
    # blocks along the page border.
    padded = np.pad(evidence, 2)
    closed = ndimage.binary_closing(padded, structure=np.ones((5, 5), bool))[2:-2, 2:-2] | evidence
    labels, count = ndimage.label(closed, structure=np.ones((3, 3), bool))
    components = []
    for label, found in enumerate(ndimage.find_objects(labels), start=1):
        inside = labels == label
        strength = int((inside & evidence).sum())
        height = found[0].stop - found[0].start
        width = found[1].stop - found[1].start
        # A mosaic steps both ways; an edge of the art that happens to lie on
        # a grid line steps one way only.
        across = int((ok_h & inside[:, 1:] & inside[:, :-1]).sum())
        down = int((ok_v & inside[1:, :] & inside[:-1, :]).sum())
        firm = (strength >= min_blocks and height >= 2 and width >= 2
                and min(across, down) >= 3 and min(across, down) >= 0.25 * max(across, down))
        components.append((firm, strength, found))
    if not any(firm for firm, _, _ in components):
        return []
    # Once one region proves the grid, other pieces on exactly that grid (a
    # blob mosaic falls apart into several) need far less evidence: art
    # rarely lines up with a proven grid.
    member = np.zeros((rows, cols), bool)
    for firm, strength, found in components:
        if firm or strength >= 1:
            # Inside the region, a flat block with one real step to a flat
            # neighbour belongs too (plain paper under the mosaic steps nowhere).
            member[found] |= (evidence | (flat & free & (pairs >= 1)))[found]
    # JPEG rings inside a block next to a strong step or busy art (a mosaic's
    # rim): for growing, flat is judged against what its neighbours hold.
    neighbour_step = _onto_blocks(mean_step_h, mean_step_v, np.maximum, np.float32)
    # (The four neighbours only: a block's own spread is what is being judged.)
    neighbour_spread = ndimage.maximum_filter(block_std, footprint=_FOUR_NEIGHBOURS, mode="constant", cval=0.0)
    flat_for_rim = (flat | (block_std <= RIM_RINGING * neighbour_step)
                    | (block_std <= flat_std + RIM_LEAK * neighbour_spread))
    member = _grow(member, flat_for_rim, same_h, same_v, across_h, across_v)
    labels, count = ndimage.label(member)
    accepted = []
    for label in range(1, count + 1):
        piece = labels == label
        mask = np.zeros(gray.shape, bool)
        mask[top : top + rows * size, left : left + cols * size] = np.kron(piece, np.ones((size, size), bool))
        accepted.append((mask, int(piece.sum())))
    return accepted


def _banded_regions(gray, size, phase, min_step, min_contrast):
    """Mosaics of flat bands on the row lines ``phase + k * size``, as [(pixel mask, column phase)].

    Per pixel column (averaged over half a block along the band, against
    JPEG noise), a line is evidence when the bands on both sides are flat
    down the column and it steps by ``min_step`` and ``min_contrast`` times
    the steps inside them. A piece of evidence is kept as its longest
    staircase (see the module's docstring); its ends, snapped to a whole
    number of blocks, give the grid along the bands.
    """
    height, width = gray.shape
    count = (height - phase) // size
    if count < MIN_BANDS:
        return []
    bands = gray[phase : phase + count * size].reshape(count, size, width)

    def along(values):  # (an odd width: centred, so both ends of a band shift alike)
        return ndimage.uniform_filter1d(values, max(3, (size // 2) | 1), axis=-1, mode="nearest")

    spread = along(bands.std(axis=1))
    inner = along(np.abs(np.diff(bands, axis=1)).mean(axis=1))
    step = along(np.abs(bands[1:, 0] - bands[:-1, -1]))
    evidence = ((np.maximum(spread[1:], spread[:-1]) <= np.maximum(BAND_NOISE, 0.1 * step))
                & (step >= min_step) & (step >= min_contrast * (np.maximum(inner[1:], inner[:-1]) + 0.25)))
    labels, _ = ndimage.label(evidence)
    column_means = bands.mean(axis=1)
    regions = []
    for label, found in enumerate(ndimage.find_objects(labels), start=1):
        if found[0].stop - found[0].start + 1 < MIN_BANDS:
            continue
        lines = labels == label
        member = np.zeros((count, width), bool)  # a band takes the columns of the lines on its two sides
        member[:-1] |= lines
        member[1:] |= lines
        columns = np.flatnonzero(member.any(axis=0))
        left, right = columns[0], columns[-1] + 1
        if right - left < max(MIN_BAND_BLOCKS * size, 32):
            continue
        rows = np.flatnonzero(member.any(axis=1))  # consecutive: one piece of evidence
        means = np.array([column_means[b, member[b]].mean() for b in rows])
        level = np.array([column_means[b, member[b]].std() <= BAND_ALONG_STD for b in rows])
        stairs = _staircase(means, level, min_step)
        if stairs is None:
            continue
        first, last = rows[stairs[0]], rows[stairs[1]]

        def runs_on(band, beyond):
            """Whether an end band is only the edge of a flat area that goes on past it."""
            if not 0 <= beyond < count:
                return False
            values = column_means[beyond, member[band]]
            return values.std() <= BAND_ALONG_STD and abs(values.mean() - means[band - rows[0]]) < min_step

        while first <= last and runs_on(first, first - 1):
            first += 1
        while last >= first and runs_on(last, last + 1):
            last -= 1
        if last - first + 1 < MIN_BANDS:
            continue
        blocks = max(1, int(round((right - left) / size)))
        phase_along = int(round((left + right - blocks * size) / 2)) % size
        mask = np.zeros(gray.shape, bool)
        for b in range(first, last + 1):
            used = np.flatnonzero(member[b])
            start = max(0, _snap(used[0], phase_along, size))
            stop = min(width, _snap(used[-1] + 1, phase_along, size))
            mask[phase + b * size : phase + (b + 1) * size, start:stop] = True
        if mask.any():
            regions.append((mask, phase_along))
    return regions


def _staircase(means, level, min_step):
    """(first, last) of the longest run of level bands that step one way by >= min_step, or None."""
    best, start = None, None
    steps = np.diff(means)
    for i in range(len(means)):
        if not level[i]:
            start = None
            continue
        if start is None or abs(steps[i - 1]) < min_step:
            start = i
        elif i - 1 > start and np.sign(steps[i - 1]) != np.sign(steps[i - 2]):
            start = i - 1  # the staircase turns: a new one starts at the landing
        if i - start + 1 >= MIN_BANDS and (best is None or i - start > best[1] - best[0]):
            best = (start, i)
    return best


def _snap(position, phase, size):
    """The grid line nearest ``position`` on lines ``phase + k * size``."""
    return phase + int(round((position - phase) / size)) * size


def _onto_blocks(across, down, combine, dtype):
    """Per block, ``combine`` (np.add, np.maximum) of the values on its edges to its four neighbours.

    ``across`` holds the (rows, cols - 1) vertical edges, ``down`` the (rows - 1, cols) horizontal ones.
    """
    out = np.zeros((across.shape[0], down.shape[1]), dtype)
    for part, edges in ((out[:, 1:], across), (out[:, :-1], across), (out[1:, :], down), (out[:-1, :], down)):
        combine(part, edges, out=part)
    return out


def _grow(member, flat, same_h, same_v, across_h, across_v, min_step=1.5, rounds=16):
    """Extend a found region into the flat patches next to it whose edges fall on grid lines.

    A patch is a group of touching flat blocks of one colour: a single
    mosaic block, or several blocks of a mosaic over an even texture
    (hatching, a tone) that averaged to one grey. What gives a mosaic patch
    away is that everything around it steps exactly at the grid lines; flat
    art (paper, a filled shape) meets its lines anywhere, so its edges seldom
    pass. A patch bigger than the region it joins is never taken, so paper
    cannot flood in.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows, cols = member.shape
    index = np.arange(rows * cols).reshape(rows, cols)
    link_h = same_h & flat[:, 1:] & flat[:, :-1]
    link_v = same_v & flat[1:, :] & flat[:-1, :]
    starts = np.concatenate([index[:, :-1][link_h], index[:-1, :][link_v]])
    ends = np.concatenate([index[:, 1:][link_h], index[1:, :][link_v]])
    graph = coo_matrix((np.ones(len(starts)), (starts, ends)), shape=(rows * cols, rows * cols))
    _, patches = connected_components(graph, directed=False)
    patches = patches.reshape(rows, cols)
    member = member.copy()
    rejected = set()
    for _ in range(rounds):
        free = flat & ~member
        touching = np.zeros_like(member)
        touching[:, 1:] |= member[:, :-1]
        touching[:, :-1] |= member[:, 1:]
        touching[1:, :] |= member[:-1, :]
        touching[:-1, :] |= member[1:, :]
        added = False
        for label in np.unique(patches[touching & free]):
            if label in rejected:
                continue
            patch = (patches == label) & free
            if patch.sum() > member.sum():
                rejected.add(label)
                continue
            outside = ~patch & ~member
            steps = np.concatenate([
                across_h[patch[:, :-1] & outside[:, 1:]], across_h[patch[:, 1:] & outside[:, :-1]],
                across_v[patch[:-1, :] & outside[1:, :]], across_v[patch[1:, :] & outside[:-1, :]],
            ])
            if len(steps) and (steps >= min_step).mean() < 0.75:
                continue  # may pass later, once its neighbours have joined
            member |= patch
            added = True
        if not added:
            break
    return member


def _inner_steps(blocks):
    """Mean absolute neighbour step inside each block (grid lines excluded)."""
    horizontal = np.abs(np.diff(blocks, axis=3)).mean(axis=(2, 3))
    vertical = np.abs(np.diff(blocks, axis=2)).mean(axis=(2, 3))
    return (horizontal + vertical) / 2


def pixelate(image, grid, region):
    """Apply a mosaic of ``grid`` to ``region`` (whole blocks touching it): for tests and training data."""
    pixels = np.asarray(image).copy()
    means, (top, left) = block_means(pixels, grid)
    size = grid.size
    rows, cols = means.shape[:2]
    block_region = np.zeros((rows, cols), bool)
    region_cropped = region[top : top + rows * size, left : left + cols * size]
    block_region |= region_cropped.reshape(rows, size, cols, size).any(axis=(1, 3))
    upsampled = np.repeat(np.repeat(means, size, axis=0), size, axis=1)
    expanded = np.kron(block_region, np.ones((size, size), bool))
    target = pixels[top : top + rows * size, left : left + cols * size]
    values = np.round(upsampled).astype(pixels.dtype)
    if pixels.ndim == 2:
        values = values[..., 0]
    target[expanded] = values[expanded]
    mask = np.zeros(pixels.shape[:2], bool)
    mask[top : top + rows * size, left : left + cols * size] = expanded
    return pixels, mask


def upsample_block_means(means, grid, origin, shape):
    """Bicubic image of the block means at pixel resolution over the whole grid crop.

    Returns (image float32 (H, W, C), covered bool (H, W)): pixels in partial
    border blocks outside the crop are not covered.
    """
    from PIL import Image

    size = grid.size
    top, left = origin
    rows, cols, channels = means.shape
    height, width = shape
    out = np.zeros((height, width, channels), np.float32)
    covered = np.zeros((height, width), bool)
    if rows == 0 or cols == 0:
        return out, covered
    planes = [
        np.asarray(Image.fromarray(means[..., c].astype(np.float32), "F").resize((cols * size, rows * size), Image.BICUBIC))
        for c in range(channels)
    ]
    out[top : top + rows * size, left : left + cols * size] = np.stack(planes, axis=-1)
    covered[top : top + rows * size, left : left + cols * size] = True
    return out, covered


def block_mean_correction(filled, mosaic, grid, hole, passes=8):
    """Shift ``filled`` so that every mosaic block inside ``hole`` keeps the mosaic's mean colour.

    The per-block difference between the mosaic's mean and the fill's mean is
    spread smoothly (bicubic) over the blocks, so the fill keeps its detail
    while its local averages match what the mosaic still shows.
    A smooth correction does not hit each mean exactly, so it is repeated a
    few times on what is left (each pass removes most of the remainder).
    """
    corrected = np.asarray(filled, np.float32).copy()
    target, origin = block_means(mosaic, grid)
    for _ in range(passes):
        current, _ = block_means(corrected, grid)
        difference, covered = upsample_block_means(target - current, grid, origin, hole.shape)
        inside = hole & covered
        corrected[inside] = np.clip(corrected[inside] + difference[inside], 0, 255)
    return corrected


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


def block_mean_guide(mosaic, grid, hole, passes=2):
    """A guide for :func:`decensor.patchfill.fill_patches`: patch synthesis that keeps the block means.

    For a window of the page it returns ``project(estimate, factor)``: the
    estimate (at 1/factor scale) is enlarged to the page's scale, shifted to
    the mosaic's block means as :func:`block_mean_correction` does, and the
    shift is averaged back down. So every level of the synthesis copies
    patches that agree with what the mosaic still shows, instead of
    filling the region from its surroundings alone.
    """
    mosaic = np.asarray(mosaic)

    def for_window(window):
        rows, cols = window
        local_grid = Grid(grid.size, (grid.offset_y - rows.start) % grid.size,
                          (grid.offset_x - cols.start) % grid.size)
        local_mosaic = mosaic[window].astype(np.float32)
        local_hole = hole[window]
        height, width = local_hole.shape

        def project(estimate, factor):
            channels = estimate.shape[-1]
            full = np.repeat(np.repeat(estimate, factor, axis=0), factor, axis=1)[:height, :width]
            full = np.pad(full, ((0, height - full.shape[0]), (0, width - full.shape[1]), (0, 0)), mode="edge")
            target = local_mosaic[..., :channels]
            shift = block_mean_correction(full, target, local_grid, local_hole, passes=passes) - full
            shift[~local_hole] = 0.0
            rows_kept, cols_kept = estimate.shape[0] * factor, estimate.shape[1] * factor
            shift = np.pad(shift, ((0, max(0, rows_kept - height)), (0, max(0, cols_kept - width)), (0, 0)))
            shift = shift[:rows_kept, :cols_kept].reshape(estimate.shape[0], factor, estimate.shape[1], factor, channels)
            return estimate + shift.mean(axis=(1, 3))

        return project

    return for_window


class MosaicPrior:
    """What is known about a mosaic region, tile by tile, for the mosaic network's ``prior`` input.

    Channels: the first guess the network corrects (``guess``: the bar
    model's fill shifted to the block means, uint8 like the page), the image
    with its mosaic region replaced by bicubic block means (0..1), and the
    block size / 32 inside the region. Computed per tile, so a huge page
    never needs a full-size float copy. Without ``guess`` only the last four
    channels are made (the evidence the mosaic itself holds).
    """

    channels = 7
    evidence_channels = 4

    def __init__(self, rgb, hole, grid, guess=None):
        self.rgb = rgb
        self.hole = hole
        self.grid = grid
        self.guess = None if guess is None else PagePrior(guess)
        self.means, self.origin = block_means(rgb, grid)

    def page_guess(self):
        """The whole first guess (uint8 like the page): what a correction that adds nothing returns."""
        if self.guess is None:
            raise ValueError("this mosaic prior holds only the evidence, no first guess")
        return self.guess.page_guess()

    def __call__(self, box):
        evidence = self._evidence(box)
        if self.guess is None:
            return evidence
        return np.concatenate([self.guess(box), evidence], axis=-1)

    def _evidence(self, box):
        from .regions import Box

        size = self.grid.size
        tile = np.zeros((box.height, box.width, self.evidence_channels), np.float32)
        inside = box.clipped(self.hole.shape)
        if inside.height <= 0 or inside.width <= 0:
            return tile
        rgb = self.rgb[inside.slices].astype(np.float32) / 255.0
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


def grid_at(size):
    """A grid of ``size`` starting at the origin (for arrays already cut to whole blocks)."""
    return Grid(size, 0, 0)
