"""Patch synthesis: fill a hole by copying patches of the picture's own known pixels.

Drawn pages repeat themselves: screentone dots, hatching, flat fills with
crisp borders. Copying real patches keeps that texture sharp where
diffusion (and a network trained on a little CPU time) smears it to grey.
This is the classic multi-scale completion of Wexler, Shechtman and Irani
(2007) with PatchMatch (Barnes et al. 2009) as the nearest-neighbour search:

* an image pyramid, coarse enough at the top that the hole is a few pixels;
* at every level, alternate (a) finding for each patch that overlaps the
  hole the most similar fully-known patch, and (b) re-estimating each hole
  pixel as the weighted vote of the pixels those matches put there;
* the match field is carried to the next finer level.

Patches are matched and copied up to a brightness shift (see
``SynthesisSettings.shift_cost``), so shading and gradients continue at the
right level. Below the finest level every level also carries a texture
channel (how much the full-size page steps from pixel to pixel there, see
:func:`texture_channel`): averaged down, hatching and tone look like flat
grey, and without it a hole in them copies flat paper. Where the copies of
the last vote disagree, a pixel takes the one at their median brightness
instead of their mean: dots and paper, not the grey between them.
The pyramid and the EM loop are numpy; distances, propagation, random search
and votes run over all patches of a level in compiled loops
(:mod:`decensor.patchmatch`), in jump-flood order instead of PatchMatch's
serial scan, in parallel on all cores. Pure functions:
float images in, float images out; ``rng`` makes it reproducible, and
:class:`SynthesisSettings` says how hard to search. Why each setting has its
value is measured in ``benchmarks/TUNING.md``.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from . import patchmatch
from .regions import mask_box, plan_groups

_EIGHT_CONNECTED = np.ones((3, 3), bool)
_BLOCK_CORNERS = ((0, 0), (1, 0), (0, 1), (1, 1))  # (in the order _halve's sums add them)


@dataclass(frozen=True)
class SynthesisSettings:
    """How the synthesis searches and votes (see ``benchmarks/TUNING.md`` for the measurements)."""

    # 7x7 patches: 5x5 lost 0.2 dB on validation for a quarter less time.
    patch_radius: int = 3
    # Stop halving before a side gets shorter than this ...
    coarsest_side: int = 24
    # ... or once the hole is at most this deep (pixels).
    hole_depth_at_top: float = 4.0
    # EM iterations per level, coarsest first, the last repeating: the coarse levels decide the structure.
    em_iterations: tuple = (48, 24, 8, 1)
    # PatchMatch rounds per EM iteration: the EM loop repeats the search anyway.
    search_iterations: int = 1
    # A hole pixel's weight in a patch distance: matches follow the known rim; 0 lets hole patches match anything.
    hole_trust: float = 0.003
    # Compare and copy patches up to a brightness shift, so shading continues at the right level.
    match_brightness: bool = True
    # Share of what a shift explains that the distance still counts: a free shift smears tone to grey.
    shift_cost: float = 0.3
    # Votes weighted exp(-(d - d_best) / (2 * softness * max d)): nearly even, the best-scoring spread.
    vote_softness: float = 10.0
    # Re-vote on entering a finer level, nearly winner-takes-all, so fine hatching comes back as hatching.
    entry_softness: float = 0.02
    # Weight of the texture channel (texture_channel) below the finest level: a tie-breaker that keeps tone
    # from copying flat grey; heavier weights cost PSNR where the tone's phase cannot be known.
    texture_weight: float = 0.8
    # The finest level's last vote takes the copy at the weighted median brightness where copies disagree:
    # one real copy, not a grey average of dots and paper.
    median_last_vote: bool = True
    # ... where their spread exceeds this (grey levels): copies that agree have a median like their mean.
    median_spread: float = 12.0
    # Propagation jumps below the coarsest level, where the carried field is already coherent.
    local_steps: tuple = (2, 1)
    # Random search radius at the finest level: far samples there are almost never better.
    finest_search_radius: int = 128
    # Known pixels around a region that serve as source ...
    context: int = 48
    # ... growing with the region's size up to this.
    max_context: int = 256


DEFAULT_SETTINGS = SynthesisSettings()


def fill_patches(rgb, hole, rng=None, guide=None, settings=DEFAULT_SETTINGS, with_spread=False):
    """Return ``rgb`` (H, W, C uint8 or float) with ``hole`` filled by patch synthesis.

    ``with_spread``: return ``(filled, spread)`` instead, ``spread`` (H, W)
    float32 the weighted standard deviation of the copies each hole pixel was
    voted from at the finest level (grey levels): where the synthesis was
    unsure, its vote averaged patches that disagree, the grey smudge.

    Each connected region is completed from a window around it:
    ``settings.context`` pixels or the region's own size (up to
    ``settings.max_context``), whichever is
    larger, so a big bar draws on a wide neighbourhood, a speck stays cheap
    and a huge page never holds more than a region's surroundings as float.
    ``guide(window)``, for a hole that is not wholly unknown (a mosaic),
    returns ``project(estimate, factor, vote, last)``: it pulls an estimate at
    1/``factor`` scale towards what is known about the hole (or returns it as
    it is); it is offered the start of every level and every vote after it
    (see :func:`complete`).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    rgb = np.asarray(rgb)
    hole = np.asarray(hole, dtype=bool)
    result = rgb.copy()  # only the windows are ever held as float: a huge page stays cheap
    spread = np.zeros(hole.shape, np.float32) if with_spread else None
    for window in _windows(hole, settings):
        part_hole = hole[window]
        if part_hole.all():
            continue  # nothing known to copy from (only when the whole page is marked)
        project = guide(window) if guide is not None else None
        completed, part_spread = complete(rgb[window], part_hole, rng, project, settings, with_spread=True)
        completed = completed[part_hole]
        if np.issubdtype(rgb.dtype, np.integer):
            completed = np.clip(np.round(completed), 0, np.iinfo(rgb.dtype).max)
        result[window][part_hole] = completed.astype(rgb.dtype)
        if spread is not None:
            spread[window][part_hole] = part_spread[part_hole]
    return (result, spread) if with_spread else result


def load_kernels():
    """Load the compiled loops (numba's on-disk cache; compiled on a machine's first run) by filling a tiny window.

    The first fill of a process pays this anyway (about half a second); the
    command line calls it while it decodes the first page.
    """
    image = np.zeros((24, 24, 1), np.float32)
    image[::2] = 255.0
    hole = np.zeros((24, 24), bool)
    hole[9:15, 9:15] = True
    complete(image, hole, np.random.default_rng(0), settings=SynthesisSettings(em_iterations=(1,)))


def _windows(hole, settings):
    """Slices of context windows, one per group of regions whose windows overlap."""
    def reach(box):
        return max(settings.context, min(settings.max_context, box.height, box.width))

    return [group.box.slices for group in plan_groups(hole, reach)[1]]


def complete(image, hole, rng, project=None, settings=DEFAULT_SETTINGS, with_spread=False):
    """Multi-scale patch completion of one window; returns the whole float image
    (and, ``with_spread``, the last vote's spread, see :func:`fill_patches`).

    ``project(estimate, factor, vote, last)``, if given, corrects the estimate
    of the level at 1/``factor`` scale at its start (``vote`` 0) and after
    every vote (numbered from 1; ``last`` for the level's last); only its
    hole pixels are kept.
    """
    image = np.asarray(image, np.float32)
    if image.ndim == 2 or (image.shape[-1] > 1 and not _colourful(image, hole)):
        # One channel; or a grey window (whatever paint hides in the hole):
        # match and vote on one channel, a third of the work.
        single = image if image.ndim == 2 else image[..., 0]
        estimate, spread = complete(single[..., None], hole, rng, project, settings, with_spread=True)
        estimate = estimate[..., 0] if image.ndim == 2 else np.repeat(estimate, image.shape[-1], axis=-1)
        return (estimate, spread) if with_spread else estimate
    if image.shape[-1] not in (1, 3):
        raise ValueError(f"patch synthesis takes one or three channels, not {image.shape[-1]}")
    colours = image.shape[-1]
    pyramid = _pyramid(image, hole, settings)
    if settings.texture_weight:
        pyramid = _with_texture(pyramid, texture_channel(image, hole))
    estimate, field = None, None
    for depth, (level_image, level_hole) in enumerate(reversed(pyramid)):
        factor = 2 ** (len(pyramid) - 1 - depth)
        if estimate is not None and estimate.shape[-1] > level_image.shape[-1]:  # (the finest level: no texture)
            estimate = estimate[..., :colours]
        level = _Level(level_image, level_hole, settings, colours)

        iterations = settings.em_iterations[min(depth, len(settings.em_iterations) - 1)]

        def guided(estimate_here, vote=0):
            if project is None:
                return estimate_here
            colour = estimate_here[..., :colours]  # (the guide knows nothing about the texture channel)
            guided_here = np.where(level_hole[..., None], project(colour, factor, vote, vote == iterations), colour)
            if estimate_here.shape[-1] == colours:
                return guided_here
            return np.concatenate([guided_here, estimate_here[..., colours:]], axis=-1)

        if estimate is None:
            current = guided(_nearest_known(level_image, level_hole))
        else:
            current = guided(_enlarged_into(level_image, level.hole_rows, level.hole_cols, estimate))
        field = level.initial_field(rng, field)
        if estimate is not None and settings.entry_softness:
            # Start from the pixels the carried matches point at, not from the
            # enlarged coarse estimate: a fine texture (hatching, tone) that
            # averaged to grey one level up comes back as texture here.
            current = guided(level.vote(current, field, *level.field_distance(current, field),
                                      settings.entry_softness))
        finest = depth == len(pyramid) - 1
        for vote in range(1, iterations + 1):
            field, distance, shift = level.search(
                current, field, rng, settings.search_iterations, local=depth > 0,
                # (a carried field, not a random start)
                max_radius=settings.finest_search_radius if finest and depth > 0 else None)
            median = finest and settings.median_last_vote and vote == iterations
            current = guided(level.vote(current, field, distance, shift, median=median), vote)
        estimate = current
    return (estimate, level.spread) if with_spread else estimate


def texture_channel(image, hole):
    """(H, W) float32: the mean absolute brightness step from each pixel to the next across and down,
    over the pairs of known pixels (0 where there are none).

    Computed once at full size and averaged down the pyramid with the image,
    it tells the coarse levels where the page had hatching or tone that their
    averages turned to flat grey (after Newson et al. 2014, "Video inpainting
    of complex scenes").
    """
    steps = np.empty(hole.shape, np.float32)
    patchmatch.brightness_steps(np.asarray(image, np.float32), ~hole, steps)
    return steps


def _colourful(image, hole):
    """Whether any known pixel's channels differ (cheaper than a peak-to-peak over a gathered copy)."""
    if hole.size > 4096 and _colourful(image[::4, ::4], hole[::4, ::4]):
        return True  # (a colour window shows it in a sixteenth of its pixels; a grey one is checked in full)
    differs = np.zeros(hole.shape, bool)
    for channel in range(1, image.shape[-1]):
        differs |= image[..., channel] != image[..., 0]
    differs &= ~hole
    return bool(differs.any())


def _pyramid(image, hole, settings):
    """[(image, hole)] finest first; a coarser pixel is a hole only where all four below it are."""
    levels = [(image, hole)]
    depth = _hole_depth(hole)
    while True:
        image, hole = levels[-1]
        if (min(hole.shape) // 2 < max(settings.coarsest_side, 4 * settings.patch_radius + 2)
                or depth <= settings.hole_depth_at_top):
            break
        levels.append(_halve(image, hole))
        depth /= 2
    return levels


def _with_texture(pyramid, texture):
    """The pyramid with ``texture`` (full size) averaged down beside the colours of every level but the
    finest: there the colours are the texture itself."""
    texture = texture[..., None]
    levels = pyramid[:1]
    for (_, finer_hole), (image, hole) in zip(pyramid, pyramid[1:]):
        texture, _ = _halve(texture, finer_hole)
        levels.append((np.concatenate([image, texture], axis=-1), hole))
    return levels


def _hole_depth(hole):
    """The largest distance from a hole pixel to a known one, measured region by region over each
    region's own box and a pixel around it (a window's marks far apart cost their boxes, not the
    box around them all)."""
    labels, count = ndimage.label(hole, _EIGHT_CONNECTED)
    depth = 0.0
    for number, (rows, cols) in enumerate(ndimage.find_objects(labels), 1):
        box = labels[max(rows.start - 1, 0):rows.stop + 1, max(cols.start - 1, 0):cols.stop + 1] == number
        if box.all():  # (nothing known around it: measure over the whole window)
            return float(ndimage.distance_transform_edt(hole).max())
        depth = max(depth, float(ndimage.distance_transform_edt(box).max()))
    return depth


def _halve(image, hole):
    """2x2 averages of known pixels; a coarse pixel is a hole only if none of its four is known.

    A pixel with any known pixel below it keeps their mean. Marking it a hole
    instead (as when any of the four is) grows the hole by a pixel at every
    level, and the coarse levels, which decide where borders and lines run,
    lose the thin structures along the hole's rim: a frame line, a ladder, the
    tip of a wedge (measured in ``benchmarks/TUNING.md``).
    """
    height, width = (hole.shape[0] // 2) * 2, (hole.shape[1] // 2) * 2
    image, known = image[:height, :width], ~hole[:height, :width]

    def blocks(a):  # (pairs of rows, then of columns: half the time of four strided slices, the same sums)
        rows = a[0::2] + a[1::2]
        return rows[:, 0::2] + rows[:, 1::2]

    weight = blocks(known.view(np.uint8))
    # Where all four are known, the mean is a quarter of the sum (the same float as dividing by 4); the
    # blocks the hole touches, a few, are averaged over their known pixels alone.
    means = blocks(image) * np.float32(0.25)
    rows, cols = np.nonzero(weight < 4)
    if len(rows):
        top, left = 2 * rows, 2 * cols
        parts = [image[top + dr, left + dc] * known[top + dr, left + dc, None] for dr, dc in _BLOCK_CORNERS]
        total = (parts[0] + parts[1]) + (parts[2] + parts[3])
        means[rows, cols] = total / np.maximum(weight[rows, cols].astype(np.float32), 1.0)[:, None]
    return means, weight == 0


def _upsample(image, shape):
    """Nearest-neighbour 2x upsampling to ``shape`` (odd sizes repeat the last row/column)."""
    up = image.repeat(2, axis=0)[: shape[0]].repeat(2, axis=1)[:, : shape[1]]
    extra_rows, extra_cols = shape[0] - up.shape[0], shape[1] - up.shape[1]
    if extra_rows > 0 or extra_cols > 0:
        pad = ((0, max(extra_rows, 0)), (0, max(extra_cols, 0))) + ((0, 0),) * (image.ndim - 2)
        up = np.pad(up, pad, mode="edge")
    return up


def _enlarged_into(image, rows, cols, coarse):
    """``image`` with its hole pixels (at ``rows``, ``cols``) taken from ``coarse`` at half the size
    (nearest neighbour; odd sizes repeat the last row/column): :func:`_upsample` where it is kept,
    without enlarging the rest."""
    result = image.copy()
    result[rows, cols] = coarse[np.minimum(rows // 2, coarse.shape[0] - 1), np.minimum(cols // 2, coarse.shape[1] - 1)]
    return result


def _nearest_known(image, hole):
    if not hole.any():
        return image.copy()
    _, (rows, cols) = ndimage.distance_transform_edt(hole, return_indices=True)
    return image[rows, cols]


def _dilated(mask, size):
    """``mask`` grown by a ``size``-sided square (``size`` odd), worked out over the mask's box only."""
    grown = np.zeros_like(mask)
    box = mask_box(mask)
    if box is not None:
        box = box.expanded(size // 2, mask.shape).slices
        grown[box] = ndimage.maximum_filter(mask[box], size=size, mode="constant", cval=False)
    return grown


class _Level:
    """One pyramid level: where the patches to fix are, which patches may be copied."""

    def __init__(self, image, hole, settings, colours):
        self.settings = settings
        self.colours = colours  # channels of ``image`` that are colour; one after them is texture
        self.radius = radius = settings.patch_radius
        self.shape = hole.shape
        height, width = hole.shape
        size = 2 * radius + 1
        # Targets: every patch that touches a hole pixel. (A square max filter
        # is separable: the same dilation as binary_dilation, ten times faster;
        # run over the hole's box only.)
        self.targets = _dilated(hole, size)
        # Sources: patches entirely inside the image and entirely known.
        inside = np.zeros(hole.shape, bool)
        inside[radius:height - radius, radius:width - radius] = True
        self.source = inside & ~self.targets
        if not self.source.any():  # tiny window: allow partly known patches rather than nothing
            self.source = inside & ~hole if (inside & ~hole).any() else ~hole
        # (Flat indices, split into rows and columns where needed: a 2-D nonzero is several times slower.)
        self.source_flat = np.flatnonzero(self.source)
        self.target_flat = np.flatnonzero(self.targets)
        self.target_rows, self.target_cols = self.target_flat // width, self.target_flat % width
        self.hole = hole
        self.padded_width = width + 2 * radius
        offsets = np.arange(-radius, radius + 1)
        self.offsets = (offsets[:, None] * self.padded_width + offsets[None, :]).ravel()
        self.target_index = (self.target_rows + radius) * self.padded_width + self.target_cols + radius
        self.trust = np.where(np.pad(hole, radius, mode="edge").ravel(), np.float32(settings.hole_trust),
                              np.float32(1.0))
        # Which target patch is centred on each (padded) pixel, for votes gathered pixel by pixel.
        self.target_at = np.full(len(self.trust), -1, np.int64)
        self.target_at[self.target_index] = np.arange(len(self.target_index))
        self.hole_flat = np.flatnonzero(hole)
        self.hole_rows, self.hole_cols = self.hole_flat // width, self.hole_flat % width
        self.hole_index = self._source_index(self.hole_rows, self.hole_cols)
        self._flat_image, self._flat_memo = None, None
        # (A hole on the window's edge is copied into the replicated border too.)
        self._hole_on_edge = bool(hole[0].any() or hole[-1].any() or hole[:, 0].any() or hole[:, -1].any())

    def _flat(self, image):
        """``image`` with ``radius`` replicated pixels around it, as (pixels, channels) float32."""
        r = self.radius
        height, width = image.shape[:2]
        padded = np.empty((height + 2 * r, width + 2 * r, image.shape[-1]), np.float32)
        padded[r:r + height, r:r + width] = image
        padded[:r, r:r + width] = image[:1]
        padded[r + height:, r:r + width] = image[-1:]
        padded[:, :r] = padded[:, r:r + 1]
        padded[:, r + width:] = padded[:, r + width - 1:r + width]
        return padded.reshape(-1, image.shape[-1])

    def _flat_of(self, image):
        """``_flat(image)``, kept for the last image asked about: a level's search, vote and distances
        read the same estimate (a vote, which changes it in place, forgets the kept one).

        Every estimate of a level holds the level's own known pixels, so a new
        one only rewrites the hole's pixels of the kept copy (a whole window's
        copy per vote cost more than the vote on an A4 page's colour window).
        """
        if self._flat_image is not image:
            if self._flat_memo is None or self._hole_on_edge:
                self._flat_memo = self._flat(image)
            else:
                self._flat_memo[self.hole_index] = image[self.hole_rows, self.hole_cols]
            self._flat_image = image
        return self._flat_memo

    def _source_index(self, rows, cols):
        return (rows + self.radius) * self.padded_width + cols + self.radius

    def _kernel_args(self, flat):
        """What every compiled kernel needs about this level (see :mod:`decensor.patchmatch`)."""
        return (flat, self.trust, self.target_index, self.source, self.padded_width, self.radius, self.colours,
                np.float32(self.settings.texture_weight), np.float32(self.settings.shift_cost),
                self.settings.match_brightness)

    def initial_field(self, rng, coarse):
        """A match for every target: the one carried from the ``coarse`` level's field (the match
        doubled, the sub-offset kept) where it is a valid source, else a random source.

        Only targets are ever searched, and propagation reads the field at most
        ``max(local_steps)`` pixels beyond them: the field is carried over the
        targets' box grown by that and left zero elsewhere.
        """
        field = np.zeros(self.shape + (2,), np.int32)
        rows, cols = self.target_rows, self.target_cols
        if coarse is not None and len(rows):
            reach = max(self.settings.local_steps)
            top, left = max(int(rows.min()) - reach, 0), max(int(cols.min()) - reach, 0)
            bottom = min(int(rows.max()) + reach + 1, self.shape[0])
            right = min(int(cols.max()) + reach + 1, self.shape[1])
            patchmatch.carry_field(coarse, top, bottom, left, right, field)
        bad = ~self.source[self._matches(field)]
        picks = self.source_flat[rng.integers(0, len(self.source_flat), size=int(bad.sum()))]
        field[rows[bad], cols[bad], 0] = picks // self.shape[1]
        field[rows[bad], cols[bad], 1] = picks % self.shape[1]
        return field

    def _distances_to(self, flat, rows, cols):
        """(distance, brightness shift) of every target patch to the patch centred at (rows, cols) of
        the same index; the distance is inf where that patch may not be copied."""
        best = np.empty(len(self.target_index), np.float32)
        best_shift = np.empty((len(self.target_index), self.colours), np.float32)
        patchmatch.match_distances(flat, self.trust, self.target_index, self.source,
                                   self.padded_width, self.radius, self.colours,
                                   np.float32(self.settings.texture_weight), rows, cols,
                                   np.float32(self.settings.shift_cost), self.settings.match_brightness, True,
                                   best, best_shift)
        return best, best_shift

    def field_distance(self, image, field):
        """The distance of every target patch to its current match."""
        return self._distances_to(self._flat_of(image), *self._matches(field))

    def search(self, image, field, rng, iterations, local=False, max_radius=None):
        """PatchMatch: propagate good matches from neighbours, then search randomly around them.

        ``local``: the field came from a coarser level and is already good in
        the large; propagate over short jumps only. ``max_radius`` bounds the
        random search (default: the whole level).
        """
        flat = self._flat_of(image)
        rows, cols = self.target_rows, self.target_cols
        best_rows, best_cols = self._matches(field)
        best, best_shift = self._distances_to(flat, best_rows, best_cols)
        state = (best_rows, best_cols, best, best_shift)
        kernel = self._kernel_args(flat)
        height, width = self.shape
        for _ in range(iterations):
            for step in self.settings.local_steps if local else (4, 2, 1):
                for dr, dc in ((0, step), (0, -step), (step, 0), (-step, 0)):
                    patchmatch.propagate(field, rows, cols, dr, dc, *kernel, *state)
            radius = max(height, width) if max_radius is None else min(max(height, width), max_radius)
            while radius >= 1:
                jump_rows = rng.integers(-radius, radius + 1, len(rows))
                jump_cols = rng.integers(-radius, radius + 1, len(cols))
                patchmatch.random_search(jump_rows, jump_cols, *kernel, *state)
                radius //= 2
        matches = field.reshape(-1, 2)
        matches[self.target_flat, 0] = best_rows
        matches[self.target_flat, 1] = best_cols
        return field, best, best_shift

    def _matches(self, field):
        """(rows, columns) of every target's match in ``field`` (a level's (H, W, 2) array, contiguous);
        gathered by flat index, a third of the time of rows and columns."""
        matches = field.reshape(-1, 2)
        return matches[self.target_flat, 0], matches[self.target_flat, 1]

    def vote(self, image, field, distance, shift, softness=None, median=False):
        """Each hole pixel becomes the weighted mean of what the overlapping matches put there; with
        ``median``, where those copies disagree (spread above ``median_spread``), the copy at their
        weighted median brightness. Written into ``image`` (an estimate of this level, which the caller
        replaces by the vote) and returned."""
        flat = self._flat_of(image)
        finite = np.isfinite(distance)
        distance = np.where(finite, distance, np.float32(1e30))
        softness = self.settings.vote_softness if softness is None else softness
        scale = softness * max(float(distance[finite].max()) if finite.any() else 1.0, 1e-6)
        # One weight per patch. The scale follows the largest distance, so no
        # exponent falls below -1 / (2 * softness): no weight underflows, and a
        # pixel whose patches all match badly still gets its vote.
        best = float(distance[finite].min()) if finite.any() else 0.0
        weight = np.exp(-(distance - best) / (2.0 * scale)).astype(np.float32)
        weight[~finite] = 0.0
        source_index = self._source_index(*self._matches(field))
        total = np.empty((len(self.hole_index), flat.shape[1]), np.float32)
        weight_sum = np.empty(len(self.hole_index), np.float32)
        spread = np.empty(len(self.hole_index), np.float32)
        patchmatch.vote_sums(flat, self.offsets, self.target_at, self.hole_index, source_index, self.colours,
                             weight, shift, total, weight_sum, spread)
        usable = weight_sum > 0
        voted = total / np.maximum(weight_sum, 1e-12)[:, None]
        if median:
            patchmatch.vote_medians(flat, self.offsets, self.target_at, self.hole_index, source_index, self.colours,
                                    weight, shift, spread, np.float32(self.settings.median_spread), voted)
        # In place: every caller replaces its estimate by the vote, and a whole window's copy per vote was a
        # tenth of an A4 page's synthesis.
        result = np.ascontiguousarray(image, np.float32)  # (itself: every estimate is contiguous float32)
        pixels = result.reshape(-1, result.shape[-1])  # (flat indices: a third of the time of rows and columns)
        if usable.all():
            pixels[self.hole_flat] = voted
        else:
            pixels[self.hole_flat[usable]] = voted[usable]
        self._flat_image = None  # (its hole pixels changed: the kept flat copy takes them on the next read)
        self._hole_spread = spread  # how much the votes disagreed (the last vote's), hole pixel by pixel
        return result

    @property
    def spread(self):
        """(H, W) float32: the last vote's spread at every hole pixel (0 elsewhere)."""
        image = np.zeros(self.shape, np.float32)
        image[self.hole_rows, self.hole_cols] = self._hole_spread
        return image
