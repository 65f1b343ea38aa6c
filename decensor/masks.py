"""Finding the region the user marked.

Rule for paint (documented in the README). Paint is flat and near-pure;
drawn art in a similar colour (green hair, grass, a leaf) is shaded or off
the key colour, and is never taken for paint by default.

1. *Candidates*: pixels whose every channel is within ``tolerance`` of the
   mark colour (default pure green, tolerance 60 out of 255, which covers JPEG
   noise), in connected areas.
2. *Core*: candidate pixels whose neighbourhood (the candidates among the 3x3
   around them, so JPEG noise averages out and thin strokes still count) is
   within ``core_tolerance`` (default 16) of the mark colour. Core areas
   smaller than ``min_region`` pixels (default 16, a 4x4 square) are not
   marks - a stray pure-green pixel in the art stays as it is.
3. *Loose rule*: a candidate area without such a core, of at least
   ``min_region`` pixels, whose mean colour is within half the tolerance of
   the mark colour (paint of a slightly wrong green, or crushed by JPEG) is
   taken too, and reported as a warning: it may be art.
4. *Fringe*: pixels within ``fringe`` pixels (default 3; 8 on JPEG pages,
   whose chroma bleeds a whole 8x8 block) of a kept area whose colour still
   leans towards the mark colour (an anti-aliased or chroma-subsampled blend
   of at least ``lean`` of mark colour, 10 %, or 3 % on JPEG pages) join the
   hole, so no tinted rim survives. Candidate specks smaller than
   ``min_region`` that touch the hole are taken whole.
5. The result grows by ``grow`` pixels (default 1) to swallow the last half-
   tinted edge pixels.

A separate mask file is white (>= 128) where the page should be filled.
"""

import numpy as np
from scipy import ndimage

from dataclasses import dataclass

GREEN = (0, 255, 0)
# Per channel: JPEG at quality 60 moves painted pixels up to ~55 levels.
DEFAULT_TOLERANCE = 60
# A neighbourhood mean: 97 % of a quality-60 JPEG mark's inner pixels are within 12.
DEFAULT_CORE_TOLERANCE = 16
DEFAULT_MIN_REGION = 16
DEFAULT_FRINGE = 3
DEFAULT_LEAN = 0.1
# JPEG chroma is subsampled and quantised over 8x8 blocks: a rim of faint tint reaches a block out.
JPEG_FRINGE = 8
JPEG_LEAN = 0.03
DEFAULT_GROW = 1
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


class MaskError(ValueError):
    """A mask file that cannot be used with its page."""


def parse_color(text):
    """'#00ff00', '00ff00' or '0,255,0' -> (r, g, b)."""
    given = text
    text = text.strip()
    try:
        if "," in text:
            parts = [int(p) for p in text.split(",")]
        else:
            digits = text[1:] if text.startswith("#") else text
            if len(digits) != 6:
                raise ValueError
            parts = [int(digits[i : i + 2], 16) for i in (0, 2, 4)]
    except ValueError:
        raise ValueError(f"colour must be #rrggbb or r,g,b, got {given!r}") from None
    if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
        raise ValueError(f"colour must have three values 0-255, got {given!r}")
    return tuple(parts)


def _key_leaning(rgb, color):
    """How strongly each pixel leans towards the key colour, 0 (not) .. 1 (fully).

    A blend ``a * key + (1 - a) * grey`` raises the key's high channels above
    its low ones by ``a`` times the key's own contrast: for pure green that is
    ``(g - max(r, b)) / 255``. Keys without high and low channels (black,
    white, grey) fall back to closeness.
    """
    rgb = rgb.astype(np.float32)
    key = np.asarray(color, dtype=np.float32)
    high = key >= 128
    if high.all() or not high.any():
        return np.clip(1.0 - np.abs(rgb - key).max(axis=-1) / 255.0, 0.0, 1.0)
    contrast = key[high].min() - key[~high].max()
    lean = (rgb[..., high].min(axis=-1) - rgb[..., ~high].max(axis=-1)) / max(contrast, 1.0)
    return np.clip(lean, 0.0, 1.0)


def _within_tolerance(rgb, color, tolerance):
    """Per-channel closeness through 256-entry lookup tables: no wide temporary arrays,
    so a 140-megapixel page costs a few boolean planes, not gigabytes."""
    levels = np.arange(256)
    result = None
    for channel, value in enumerate(color):
        table = np.abs(levels - int(value)) <= tolerance
        close = table[rgb[..., channel]]
        result = close if result is None else (result & close)
    return result


@dataclass(frozen=True)
class Paint:
    """What the paint rule found: the hole, and how many areas only the loose rule accepted."""

    hole: np.ndarray
    loose_areas: int = 0

    def warnings(self):
        if not self.loose_areas:
            return []
        return [f"{self.loose_areas} marked area(s) taken only by the loose rule (flat, near the mark colour "
                "but not close to it): check that they are paint, not art"]


def remove_specks(mask, min_region):
    """Drop 8-connected components smaller than ``min_region`` pixels."""
    if min_region <= 1 or not mask.any():
        return mask
    labels, count = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes >= min_region
    keep[0] = False
    return keep[labels]


def detect_paint(rgb, color=GREEN, tolerance=DEFAULT_TOLERANCE, min_region=DEFAULT_MIN_REGION,
                 fringe=DEFAULT_FRINGE, grow=DEFAULT_GROW, **rule):
    """Boolean hole mask (True = fill) of paint in ``color`` on an (H, W, 3) uint8 image."""
    return find_paint(rgb, color, tolerance, min_region, fringe, grow, **rule).hole


def find_paint(rgb, color=GREEN, tolerance=DEFAULT_TOLERANCE, min_region=DEFAULT_MIN_REGION,
               fringe=DEFAULT_FRINGE, grow=DEFAULT_GROW, core_tolerance=DEFAULT_CORE_TOLERANCE,
               lean=DEFAULT_LEAN):
    """The paint in ``color`` on an (H, W, 3) uint8 image, by the rule in this module's docstring."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError("detect_paint wants an (H, W, 3) RGB array")
    candidates = _within_tolerance(rgb, color, tolerance)
    core, specks, loose_areas = _paint_cores(rgb, candidates, color, tolerance, min(core_tolerance, tolerance),
                                             min_region)
    hole = core.copy()
    if not core.any() or (fringe <= 0 and grow <= 0):
        return Paint(hole, loose_areas)
    # Grow each painted region inside its own box: cost follows the paint, not the page.
    reach = fringe + grow + 1
    labels, _ = ndimage.label(core, structure=_EIGHT_CONNECTED)
    for rows, cols in ndimage.find_objects(labels):
        window = (
            slice(max(rows.start - reach, 0), rows.stop + reach),
            slice(max(cols.start - reach, 0), cols.stop + reach),
        )
        local_core = core[window]
        local = local_core
        if fringe > 0:
            near = ndimage.binary_dilation(local_core, structure=_EIGHT_CONNECTED, iterations=fringe)
            tinted = _key_leaning(rgb[window], color) >= lean
            local = local_core | _touching(near & tinted, local_core)
        if grow > 0:
            local = ndimage.binary_dilation(local, structure=_EIGHT_CONNECTED, iterations=grow)
        hole[window] |= local
    return Paint(_absorb_touching_specks(hole, specks, grow), loose_areas)


def _paint_cores(rgb, candidates, color, tolerance, core_tolerance, min_region):
    """(the kept paint areas, the candidate specks, how many areas only the loose rule accepted)."""
    core = np.zeros(candidates.shape, bool)
    loose_areas = 0
    if not candidates.any():
        return core, core.copy(), loose_areas
    labels, count = ndimage.label(candidates, structure=_EIGHT_CONNECTED)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    small = sizes < min_region
    small[0] = False
    specks = small[labels]
    key = np.asarray(color, np.float32)
    for label, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        window = (slice(max(rows.start - 1, 0), rows.stop + 1), slice(max(cols.start - 1, 0), cols.stop + 1))
        if small[label]:
            continue  # a speck: too small to be a mark (unless it touches one, see find_paint)
        area = labels[window] == label
        pixels = rgb[window].astype(np.float32)
        # Mean of the area's own pixels over each 3x3 neighbourhood.
        count = ndimage.uniform_filter(area.astype(np.float32), 3, mode="constant")
        means = np.stack([ndimage.uniform_filter(pixels[..., c] * area, 3, mode="constant")
                          for c in range(3)], axis=-1) / np.maximum(count, 1e-6)[..., None]
        near_pure = area & (np.abs(means - key).max(axis=-1) <= core_tolerance)
        kept = remove_specks(near_pure, min_region)
        if kept.any():
            core[window] |= kept
        elif np.abs(pixels[area].mean(axis=0) - key).max() <= tolerance / 2:
            core[window] |= area
            loose_areas += 1
    return core, specks, loose_areas


def _touching(mask, seed):
    """The 8-connected parts of ``mask`` that overlap ``seed`` (a rim, not stray tinted pixels nearby)."""
    labels, _ = ndimage.label(mask | seed, structure=_EIGHT_CONNECTED)
    kept = np.unique(labels[seed])
    return np.isin(labels, kept[kept > 0]) & mask


def _absorb_touching_specks(hole, specks, grow):
    """A speck that touches a hole is part of that mark: take it whole, or a bit of paint would remain."""
    if not specks.any():
        return hole
    labels, _ = ndimage.label(specks, structure=_EIGHT_CONNECTED)
    touching = np.unique(labels[hole & specks])
    touching = touching[touching > 0]
    if len(touching) == 0:
        return hole
    extra = np.isin(labels, touching) & ~hole
    if grow > 0 and extra.any():
        extra = ndimage.binary_dilation(extra, structure=_EIGHT_CONNECTED, iterations=grow)
    return hole | extra


def mask_from_array(array, size=None, source="mask"):
    """Hole mask from a mask image array: white/bright (>= 128) means fill.

    ``size`` is the page's (width, height); a mismatch raises MaskError.
    """
    array = _mask_values(array)
    if size is not None and (array.shape[1], array.shape[0]) != tuple(size):
        raise MaskError(
            f"{source} is {array.shape[1]}x{array.shape[0]}, the page is {size[0]}x{size[1]}"
        )
    if array.dtype == bool:
        return array.copy()
    return array.astype(np.float64) >= _white_of(array) / 2


def _mask_values(array):
    """One value per pixel: the brightest colour channel (alpha left out)."""
    array = np.asarray(array)
    if array.ndim == 3:
        if array.shape[-1] in (2, 4):
            array = array[..., :-1]
        array = array.max(axis=-1)
    return array


def _white_of(values):
    """Full white for a mask's value range: 1 (float or bool), 255 or 65535."""
    if values.dtype == bool or (values.dtype.kind == "f" and values.max(initial=0) <= 1.0):
        return 1.0
    return 65535 if values.dtype == np.uint16 or values.max(initial=0) > 255 else 255


# How to turn a mask drawn on the *displayed* page back into stored
# orientation, by EXIF orientation tag (the inverse of Pillow's exif_transpose).
_UNDO_ORIENTATION = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
                     6: "ROTATE_90", 7: "TRANSVERSE", 8: "ROTATE_270"}


@dataclass(frozen=True)
class MaskFile:
    """A mask file's hole, and what its brightest value was (to say why a mask marks nothing)."""

    path: str
    hole: np.ndarray
    brightest: float
    white: float

    @property
    def marks_anything(self):
        return bool(self.hole.any())

    def why_empty(self):
        threshold = f"{self.white / 2:g}" if self.white == 1 else f"{int(self.white // 2) + 1}"
        return (f"mask {self.path} marks nothing (white, >= {threshold}, means fill; its brightest value "
                f"is {self.brightest:g})")


def load_mask_file(path, size, orientation=1):
    """Read a black/white mask image for a page of stored ``size`` (width, height): a :class:`MaskFile`.

    For an EXIF-rotated page the mask may be drawn on the page as viewers show
    it; such a mask is turned back to the stored orientation.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in {"P", "PA", "CMYK", "YCbCr", "LAB", "HSV"}:
                image = image.convert("L")
            if image.size != tuple(size) and orientation in _UNDO_ORIENTATION:
                turned = image.transpose(getattr(Image.Transpose, _UNDO_ORIENTATION[orientation]))
                if turned.size == tuple(size):
                    image = turned
            array = np.array(image)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise MaskError(f"mask {path} is not a readable image ({error})") from None
    hole = mask_from_array(array, size, source=f"mask {path}")
    values = _mask_values(array)
    return MaskFile(str(path), hole, float(values.max(initial=0)), float(_white_of(values)))
