"""A mosaic's grid: block size and offset, the block means it keeps, and how to lay one.

A mosaic hides detail but keeps each block's average colour. The grid is
measured from the pixels (:func:`estimate_grid`): inside a mosaic, steps
between neighbouring pixels fall only on grid lines. Numpy in, numpy out.
"""

from dataclasses import dataclass

import numpy as np

# Block sizes looked for: smaller blocks are indistinguishable from pixel art,
# larger ones from flat shapes.
MIN_BLOCK = 4
MAX_BLOCK = 48
# Steps below this many grey levels are JPEG ringing inside a block, not a grid line.
NOISE_STEP = 4.0


@dataclass(frozen=True)
class Grid:
    """Mosaic grid: square blocks of ``size`` px, lines at ``offset + k * size``."""

    size: int
    offset_y: int
    offset_x: int


def grid_at(size):
    """A grid of ``size`` starting at the origin (for arrays already cut to whole blocks)."""
    return Grid(size, 0, 0)


def as_float_gray(rgb):
    rgb = np.asarray(rgb)
    if rgb.ndim == 3:
        return rgb.astype(np.float32).mean(axis=-1)
    return rgb.astype(np.float32)


def step_profile(gray, region, axis):
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
    gray = as_float_gray(image)
    region = np.ones(gray.shape, bool) if region is None else np.asarray(region, bool)
    columns = _best_offsets(*step_profile(gray, region, axis=1), sizes)
    rows = _best_offsets(*step_profile(gray, region, axis=0), sizes)
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
        for total, count in (step_profile(gray, region, axis=1), step_profile(gray, region, axis=0))
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


def lies_on(fine, coarse):
    """Whether every line of the ``coarse`` grid is also a line of ``fine``."""
    return (coarse.size % fine.size == 0 and coarse.offset_y % fine.size == fine.offset_y
            and coarse.offset_x % fine.size == fine.offset_x)


def block_view(array, grid):
    """Crop ``array`` to whole grid blocks and view it as (rows, cols, size, size, ...)."""
    cropped, (top, left, height, width) = whole_blocks(array, grid)
    size = grid.size
    shape = (height, size, width, size) + array.shape[2:]
    blocks = cropped.reshape(shape).swapaxes(1, 2)
    return blocks, (top, left, height, width)


def whole_blocks(array, grid):
    """``array`` cropped to the whole blocks of ``grid``, and (top, left, block rows, block columns)."""
    size = grid.size
    top, left = grid.offset_y % size, grid.offset_x % size
    height = (array.shape[0] - top) // size
    width = (array.shape[1] - left) // size
    return array[top : top + height * size, left : left + width * size], (top, left, height, width)


def block_means(image, grid):
    """Mean colour of every whole grid block: (rows, cols, channels) float32, and the crop origin."""
    pixels = np.asarray(image, np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    cropped, (top, left, rows, cols) = whole_blocks(pixels, grid)
    size = grid.size
    # (Summed down the rows of each block, then along them: ten times faster
    # than a mean over the two axes of the block view, which strides.)
    sums = cropped.reshape(rows, size, cols * size, -1).sum(axis=1).reshape(rows, cols, size, -1).sum(axis=2)
    return sums / np.float32(size * size), (top, left)


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
    size = grid.size
    top, left = origin
    rows, cols, channels = means.shape
    height, width = shape
    out = np.zeros((height, width, channels), np.float32)
    covered = np.zeros((height, width), bool)
    if rows == 0 or cols == 0:
        return out, covered
    out[top : top + rows * size, left : left + cols * size] = bicubic_blocks(means, size)
    covered[top : top + rows * size, left : left + cols * size] = True
    return out, covered


def bicubic_blocks(means, size):
    """(rows * size, cols * size, channels) float32: block means (rows, cols, channels) upsampled bicubically."""
    from PIL import Image

    rows, cols, channels = means.shape
    return np.stack([np.asarray(Image.fromarray(means[..., c].astype(np.float32), "F").resize(
        (cols * size, rows * size), Image.BICUBIC)) for c in range(channels)], axis=-1)
