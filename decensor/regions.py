"""Planning where the network looks: regions, context groups and tiles.

Each connected marked region is filled from a window around it at the page's
own resolution. Regions whose context windows touch are handled as one group.
A group larger than one tile is covered by overlapping tiles whose outputs are
blended with weights that fade towards the tile edges, so no seam shows.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class Box:
    """Half-open pixel rectangle ``[top, bottom) x [left, right)``."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self):
        return self.bottom - self.top

    @property
    def width(self):
        return self.right - self.left

    @property
    def slices(self):
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def expanded(self, margin, shape):
        """Grown by ``margin`` on every side, clipped to an image of ``shape``."""
        return Box(
            max(0, self.top - margin),
            max(0, self.left - margin),
            min(shape[0], self.bottom + margin),
            min(shape[1], self.right + margin),
        )

    def overlaps(self, other):
        return (
            self.top < other.bottom
            and other.top < self.bottom
            and self.left < other.right
            and other.left < self.right
        )

    def union(self, other):
        return Box(
            min(self.top, other.top),
            min(self.left, other.left),
            max(self.bottom, other.bottom),
            max(self.right, other.right),
        )

    def clipped(self, shape):
        return Box(max(0, self.top), max(0, self.left), min(shape[0], self.bottom), min(shape[1], self.right))


def mask_box(mask):
    """The :class:`Box` around a 2-D mask's true (nonzero) pixels; None when it has none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return Box(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


@dataclass(frozen=True)
class Group:
    """Regions filled together: their labels and the context box around them."""

    labels: tuple
    box: Box


class LabelMap:
    """Region labels of a mask, stored only over the mask's bounding box.

    A few marks on a 140-megapixel page then cost a label image the size of
    the marked area's bounding box, not of the page.
    """

    def __init__(self, hole):
        self.origin = mask_box(hole)
        if self.origin is None:
            self.origin = Box(0, 0, 0, 0)
            self.labels = np.zeros((0, 0), np.int32)
            self.boxes = []
            return
        self.labels, _ = ndimage.label(hole[self.origin.slices], structure=_EIGHT_CONNECTED)
        top, left = self.origin.top, self.origin.left
        self.boxes = [
            Box(r.start + top, c.start + left, r.stop + top, c.stop + left)
            for r, c in ndimage.find_objects(self.labels)
        ]

    def within(self, box):
        """Labels over ``box`` (image coordinates); 0 outside the marked area."""
        out = np.zeros((box.height, box.width), np.int32)
        common = Box(
            max(box.top, self.origin.top),
            max(box.left, self.origin.left),
            min(box.bottom, self.origin.bottom),
            min(box.right, self.origin.right),
        )
        if common.height > 0 and common.width > 0:
            out[
                common.top - box.top : common.bottom - box.top,
                common.left - box.left : common.right - box.left,
            ] = self.labels[
                common.top - self.origin.top : common.bottom - self.origin.top,
                common.left - self.origin.left : common.right - self.origin.left,
            ]
        return out


def plan_groups(hole, margin):
    """The one plan of a hole: its 8-connected regions and the groups filled together.

    Returns ``(LabelMap, [Group])``; ``margin`` is as for :func:`group_regions`.
    Patch synthesis (context growing with a region's size) and the network's
    tiling (a fixed margin) both plan through here.
    """
    labels = LabelMap(hole)
    return labels, group_regions(labels.boxes, margin, hole.shape)


def count_regions(hole):
    """How many 8-connected regions a boolean mask holds."""
    return len(LabelMap(hole).boxes)


def group_regions(boxes, margin, shape):
    """Merge regions whose context windows (box + margin) overlap.

    ``margin`` is a number of pixels, or a function of a region's box giving
    that region's own margin.
    """
    margin_of = margin if callable(margin) else (lambda box: margin)
    groups = [Group((index + 1,), box.expanded(margin_of(box), shape)) for index, box in enumerate(boxes)]
    merged = True
    while merged:
        merged = False
        result = []
        for group in groups:
            for position, other in enumerate(result):
                if group.box.overlaps(other.box):
                    result[position] = Group(other.labels + group.labels, other.box.union(group.box))
                    merged = True
                    break
            else:
                result.append(group)
        groups = result
    return groups


def tile_starts(start, stop, tile, length, min_overlap):
    """1-D origins of tiles of size ``tile`` covering ``[start, stop)`` inside ``[0, length)``.

    A span that fits is covered by one tile centred on it (moved inside the
    image); a longer one by evenly spaced tiles overlapping by >= ``min_overlap``.
    An image shorter than a tile gets one tile at 0 that runs past its end.
    """
    if length <= tile:
        return [0]
    span = stop - start
    if span <= tile:
        centred = start + span // 2 - tile // 2
        return [min(max(centred, 0), length - tile)]
    count = math.ceil((span - min_overlap) / (tile - min_overlap))
    first = min(max(start, 0), length - tile)
    last = min(max(stop - tile, 0), length - tile)
    return sorted({int(round(v)) for v in np.linspace(first, last, count)})


def plan_tiles(box, tile, shape, min_overlap, step=None):
    """Tiles (as Boxes, possibly running past the image) covering ``box``.

    Without ``step`` every tile is ``tile`` square. With it, a side that the
    box spans in less than ``tile`` shrinks to the span rounded up to a
    multiple of ``step`` (what the network needs): a small or long thin mark
    then costs tiles its own size, not the largest tile's.
    """
    def side(span):
        return tile if step is None or span > tile else min(tile, -(-span // step) * step)

    height, width = side(box.height), side(box.width)
    rows = tile_starts(box.top, box.bottom, height, shape[0], min_overlap)
    cols = tile_starts(box.left, box.right, width, shape[1], min_overlap)
    return [Box(r, c, r + height, c + width) for r in rows for c in cols]


def feather(height, ramp, width=None):
    """Blend weights for one tile: 1 in the middle, falling linearly to ~0 at the edges."""
    ramp = max(1, int(ramp))

    def profile(length):
        position = np.arange(length, dtype=np.float32)
        return np.clip(np.minimum(position + 1, length - position) / ramp, 1.0 / ramp, 1.0)

    return np.outer(profile(height), profile(height if width is None else width))


def extract(array, box, fill_value=0):
    """``array[box]`` with out-of-image parts set to ``fill_value``."""
    tile_h, tile_w = box.height, box.width
    out = np.full((tile_h, tile_w) + array.shape[2:], fill_value, dtype=array.dtype)
    inside = box.clipped(array.shape)
    out[
        inside.top - box.top : inside.bottom - box.top,
        inside.left - box.left : inside.right - box.left,
    ] = array[inside.slices]
    return out
