"""The fill engine: the hole of an RGB page -> filled pixels, tile by tile.

Works in rounds. Each round groups the remaining hole into regions, covers
each group's context window with tiles, runs all tiles through the network in
batches and blends the tile outputs. The network reports which pixels it could
reach from valid context; only those are accepted, and the next round sees
them as known context. So a region of any size is filled completely, from its
rim inwards, at the page's own resolution.
"""

import numpy as np
from scipy import ndimage

from .regions import extract, feather, plan_groups, plan_tiles

# Largest tile side: a region of up to ~500 px takes one tile (384 px tiles ran 4 overlapping ones), same PSNR.
DEFAULT_TILE = 640
DEFAULT_MARGIN = 64
# Tiles per network call: 2 ran no faster on 2 cores and held 0.5 GB more at 640 px.
DEFAULT_BATCH = 1
MAX_ROUNDS = 64


class InpaintError(ValueError):
    """The fill cannot be computed (e.g. nothing known to fill from)."""


def _nearest_known_fill(rgb, hole):
    """Last resort for pixels the network never reached: copy the nearest known pixel."""
    _, (rows, cols) = ndimage.distance_transform_edt(hole, return_indices=True)
    filled = rgb.copy()
    filled[hole] = rgb[rows[hole], cols[hole]]
    return filled


class _GroupBlend:
    """Accumulates the blended tile outputs of one region group over its tiles' area."""

    def __init__(self, group, tiles, labels, shape):
        area = tiles[0]
        for tile_box in tiles[1:]:
            area = area.union(tile_box)
        self.area = area.clipped(shape)
        self.tiles = tiles
        self.own = np.isin(labels.within(self.area), group.labels)
        self.total = np.zeros(self.own.shape + (3,), np.float32)
        self.weight_sum = np.zeros(self.own.shape, np.float32)

    def add(self, box, image, reach, weights):
        """Blend one tile's output into the group's own hole pixels it reached."""
        top = max(box.top, self.area.top)
        left = max(box.left, self.area.left)
        bottom = min(box.bottom, self.area.bottom)
        right = min(box.right, self.area.right)
        tile_part = (slice(top - box.top, bottom - box.top), slice(left - box.left, right - box.left))
        area_part = (slice(top - self.area.top, bottom - self.area.top),
                     slice(left - self.area.left, right - self.area.left))
        weight = weights[tile_part] * (reach[tile_part][..., 0] > 0.5) * self.own[area_part]
        self.total[area_part] += np.clip(image[tile_part], 0.0, 1.0) * weight[..., None]
        self.weight_sum[area_part] += weight

    def commit(self, work, remaining):
        """Write the reached pixels into ``work``, clear them from ``remaining``; returns their count."""
        reached = (self.weight_sum > 0) & self.own & remaining[self.area.slices]
        if reached.any():
            values = self.total[reached] / self.weight_sum[reached][:, None] * 255.0
            if np.issubdtype(work.dtype, np.integer):
                values = np.round(values)
            work[self.area.slices][reached] = values.astype(work.dtype)
            remaining[self.area.slices] &= ~reached
        return int(reached.sum())


def _plan_round(remaining, tile, margin, step):
    """Group what is left of the hole and cover each group's context with tiles."""
    labels, groups = plan_groups(remaining, margin)
    blends = []
    for group in groups:
        tiles = plan_tiles(group.box, tile, remaining.shape, tile // 4, step)
        blends.append(_GroupBlend(group, tiles, labels, remaining.shape))
    return blends


def inpaint(
    rgb,
    hole,
    predict,
    tile=DEFAULT_TILE,
    margin=DEFAULT_MARGIN,
    batch_size=DEFAULT_BATCH,
    max_rounds=MAX_ROUNDS,
    progress=None,
    guess=None,
    step=None,
):
    """Return a copy of ``rgb`` (H, W, 3 uint8) with every ``hole`` pixel filled.

    ``predict(images, masks, guesses) -> (images, reached)`` runs the network
    on a batch of float32 tiles (0..1, mask 1 = known) and returns the
    prediction and the mask of pixels it could reach. ``guess(box)`` gives a
    tile's guess input (see :class:`decensor.guess.Guess`); without one,
    ``predict(images, masks)``. ``step``: tiles may shrink to a mark's own
    size in multiples of ``step`` (see :func:`decensor.regions.plan_tiles`);
    a batch holds tiles of one size.
    """
    rgb = np.asarray(rgb)
    hole = np.asarray(hole, dtype=bool)
    if rgb.shape[:2] != hole.shape or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("inpaint wants an (H, W, 3) image and an (H, W) mask")
    if not hole.any():
        return rgb.copy()
    if hole.all():
        raise InpaintError("the whole image is marked: nothing is left to fill from")
    work = rgb.copy()
    remaining = hole.copy()
    weights = {}
    for _ in range(max_rounds):
        if not remaining.any():
            break
        blends = _plan_round(remaining, tile, margin, step)
        jobs = sorted(((blend, box) for blend in blends for box in blend.tiles),
                      key=lambda job: (job[1].height, job[1].width))
        known = ~remaining
        batches = [jobs[start : start + batch_size] for start in range(0, len(jobs), batch_size)]
        batches = [[job for job in batch if (job[1].height, job[1].width) == shape]
                   for batch in batches for shape in dict.fromkeys((b.height, b.width) for _, b in batch)]
        for batch in batches:
            images = np.stack([extract(work, box) for _, box in batch]).astype(np.float32) / 255.0
            masks = np.stack([extract(known, box, False) for _, box in batch])[..., None].astype(np.float32)
            if guess is None:
                predicted, reached = predict(images, masks)
            else:
                predicted, reached = predict(images, masks, np.stack([guess(box) for _, box in batch]))
            for (blend, box), image, reach in zip(batch, predicted, reached):
                if (box.height, box.width) not in weights:
                    weights[box.height, box.width] = feather(box.height, tile // 4, box.width)
                blend.add(box, image, reach, weights[box.height, box.width])
            if progress is not None:
                progress(len(batch))
        if sum(blend.commit(work, remaining) for blend in blends) == 0:
            break
    if remaining.any():
        work = _nearest_known_fill(work, remaining)
    return work
