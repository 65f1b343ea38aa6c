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

from .regions import feather, group_regions, label_regions, plan_tiles

DEFAULT_TILE = 384
DEFAULT_MARGIN = 64
DEFAULT_BATCH = 2
MAX_ROUNDS = 64


class InpaintError(ValueError):
    """The fill cannot be computed (e.g. nothing known to fill from)."""


def _extract(array, box, fill_value=0):
    """``array[box]`` with out-of-image parts set to ``fill_value``."""
    tile_h, tile_w = box.height, box.width
    out = np.full((tile_h, tile_w) + array.shape[2:], fill_value, dtype=array.dtype)
    inside = box.clipped(array.shape)
    out[
        inside.top - box.top : inside.bottom - box.top,
        inside.left - box.left : inside.right - box.left,
    ] = array[inside.slices]
    return out


def _nearest_known_fill(rgb, hole):
    """Last resort for pixels the network never reached: copy the nearest known pixel."""
    _, (rows, cols) = ndimage.distance_transform_edt(hole, return_indices=True)
    filled = rgb.copy()
    filled[hole] = rgb[rows[hole], cols[hole]]
    return filled


def inpaint(
    rgb,
    hole,
    predict,
    tile=DEFAULT_TILE,
    margin=DEFAULT_MARGIN,
    batch_size=DEFAULT_BATCH,
    max_rounds=MAX_ROUNDS,
    progress=None,
):
    """Return a copy of ``rgb`` (H, W, 3 uint8) with every ``hole`` pixel filled.

    ``predict(images, masks) -> (images, reached)`` runs the network on a batch
    of float32 tiles (0..1, mask 1 = known) and returns the prediction and the
    mask of pixels it could reach.
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
    weights = feather(tile, tile // 4)
    for _ in range(max_rounds):
        if not remaining.any():
            break
        labels, boxes = label_regions(remaining)
        groups = group_regions(boxes, margin, remaining.shape)
        jobs = [
            (index, tile_box)
            for index, group in enumerate(groups)
            for tile_box in plan_tiles(group.box, tile, remaining.shape, tile // 4)
        ]
        areas = []
        for index, group in enumerate(groups):
            area = jobs_area = None
            for job_index, tile_box in jobs:
                if job_index == index:
                    jobs_area = tile_box if jobs_area is None else jobs_area.union(tile_box)
            area = jobs_area.clipped(remaining.shape)
            own = np.isin(labels.within(area), group.labels)
            areas.append(
                (area, own, np.zeros(own.shape + (3,), np.float32), np.zeros(own.shape, np.float32))
            )
        known = ~remaining
        for start in range(0, len(jobs), batch_size):
            batch = jobs[start : start + batch_size]
            images = np.stack([_extract(work, box) for _, box in batch]).astype(np.float32) / 255.0
            masks = np.stack([_extract(known, box, False) for _, box in batch])
            masks = masks[..., None].astype(np.float32)
            predicted, reached = predict(images, masks)
            for (index, box), image, reach in zip(batch, predicted, reached):
                area, own, total, weight_sum = areas[index]
                inside = box.clipped(remaining.shape)
                tile_part = (
                    slice(inside.top - box.top, inside.bottom - box.top),
                    slice(inside.left - box.left, inside.right - box.left),
                )
                area_part = (
                    slice(inside.top - area.top, inside.bottom - area.top),
                    slice(inside.left - area.left, inside.right - area.left),
                )
                weight = weights[tile_part] * (reach[tile_part][..., 0] > 0.5)
                weight = weight * own[area_part]
                total[area_part] += np.clip(image[tile_part], 0.0, 1.0) * weight[..., None]
                weight_sum[area_part] += weight
            if progress is not None:
                progress(len(batch))
        newly_filled = 0
        for area, own, total, weight_sum in areas:
            reached_here = (weight_sum > 0) & own & remaining[area.slices]
            if not reached_here.any():
                continue
            values = total[reached_here] / weight_sum[reached_here][:, None]
            target = work[area.slices]
            target[reached_here] = np.round(values * 255.0).astype(np.uint8)
            remaining[area.slices] &= ~reached_here
            newly_filled += int(reached_here.sum())
        if newly_filled == 0:
            break
    if remaining.any():
        work = _nearest_known_fill(work, remaining)
    return work
