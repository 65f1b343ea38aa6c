"""Banded mosaics: a mosaic over shading that changes one way only.

Such a mosaic has no steps along the shading's contour lines: it is a stack
of flat bands, each one block high, stepping one way, and it cannot prove a
grid both ways. It is found by its own rule: at least ``min_bands`` bands,
each flat along its length, stepping by at least ``min_step`` one way like a
staircase, over at least ``min_band_blocks`` blocks' length. The other axis's
grid offset comes from where the bands end. Thick lines, flags and stripes of
alternating colours are not staircases. Numpy in, numpy out.
"""

import numpy as np
from scipy import ndimage

from .settings import DEFAULT_DETECTION

def banded_regions(gray, size, phase, settings=DEFAULT_DETECTION):
    """Mosaics of flat bands on the row lines ``phase + k * size``, as [(pixel mask, column phase)].

    Per pixel column (averaged over half a block along the band, against
    JPEG noise), a line is evidence when the bands on both sides are flat
    down the column and it steps by ``settings.min_step`` and
    ``settings.min_contrast`` times the steps inside them. A piece of
    evidence is kept as its longest staircase (see the module's docstring);
    its ends, snapped to a whole number of blocks, give the grid along the
    bands.
    """
    s = settings
    height, width = gray.shape
    count = (height - phase) // size
    if count < s.min_bands:
        return []
    bands = gray[phase : phase + count * size].reshape(count, size, width)

    def along(values):  # (an odd width: centred, so both ends of a band shift alike)
        return ndimage.uniform_filter1d(values, max(3, (size // 2) | 1), axis=-1, mode="nearest")

    spread = along(bands.std(axis=1))
    inner = along(np.abs(np.diff(bands, axis=1)).mean(axis=1))
    step = along(np.abs(bands[1:, 0] - bands[:-1, -1]))
    evidence = ((np.maximum(spread[1:], spread[:-1]) <= np.maximum(s.band_noise, s.band_noise_share * step))
                & (step >= s.min_step)
                & (step >= s.min_contrast * (np.maximum(inner[1:], inner[:-1]) + s.inner_floor)))
    labels, _ = ndimage.label(evidence)
    column_means = bands.mean(axis=1)
    regions = []
    for label, found in enumerate(ndimage.find_objects(labels), start=1):
        if found[0].stop - found[0].start + 1 < s.min_bands:
            continue
        lines = labels == label
        member = np.zeros((count, width), bool)  # a band takes the columns of the lines on its two sides
        member[:-1] |= lines
        member[1:] |= lines
        columns = np.flatnonzero(member.any(axis=0))
        left, right = columns[0], columns[-1] + 1
        if right - left < max(s.min_band_blocks * size, s.min_band_length):
            continue
        rows = np.flatnonzero(member.any(axis=1))  # consecutive: one piece of evidence
        means = np.array([column_means[b, member[b]].mean() for b in rows])
        level = np.array([column_means[b, member[b]].std() <= s.band_along_std for b in rows])
        stairs = _staircase(means, level, s.min_step, s.min_bands)
        if stairs is None:
            continue
        first, last = rows[stairs[0]], rows[stairs[1]]

        def runs_on(band, beyond):
            """Whether an end band is only the edge of a flat area that goes on past it."""
            if not 0 <= beyond < count:
                return False
            values = column_means[beyond, member[band]]
            return values.std() <= s.band_along_std and abs(values.mean() - means[band - rows[0]]) < s.min_step

        while first <= last and runs_on(first, first - 1):
            first += 1
        while last >= first and runs_on(last, last + 1):
            last -= 1
        if last - first + 1 < s.min_bands:
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


def _staircase(means, level, min_step, min_bands):
    """(first, last) of the longest run of at least ``min_bands`` level bands that step one way by
    >= ``min_step``, or None."""
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
        if i - start + 1 >= min_bands and (best is None or i - start > best[1] - best[0]):
            best = (start, i)
    return best


def _snap(position, phase, size):
    """The grid line nearest ``position`` on lines ``phase + k * size``."""
    return phase + int(round((position - phase) / size)) * size


