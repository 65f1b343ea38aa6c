"""Finding the region the user marked.

Rule for paint (documented in the README):

1. *Core*: pixels whose every channel is within ``tolerance`` of the mark colour
   (default pure green, tolerance 60 out of 255, which covers JPEG noise).
2. *Specks*: core components smaller than ``min_region`` pixels (default 16,
   i.e. smaller than a 4x4 square) are not marks - a stray pure-green pixel in
   the art stays as it is - unless they touch a mark's hole, when they are
   taken whole.
3. *Fringe*: pixels within ``fringe`` pixels (default 3) of a kept core whose
   colour still leans towards the mark colour (an anti-aliased or chroma-
   subsampled blend of at least ~10 % mark colour) join the hole, so no tinted
   rim survives.
4. The result grows by ``grow`` pixels (default 1) to swallow the last half-
   tinted edge pixels.

A separate mask file is white (>= 128) where the page should be filled.
"""

import numpy as np
from scipy import ndimage

GREEN = (0, 255, 0)
DEFAULT_TOLERANCE = 60
DEFAULT_MIN_REGION = 16
DEFAULT_FRINGE = 3
DEFAULT_GROW = 1
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


class MaskError(ValueError):
    """A mask file that cannot be used with its page."""


def parse_color(text):
    """'#00ff00', '00ff00' or '0,255,0' -> (r, g, b)."""
    text = text.strip()
    if "," in text:
        parts = [int(p) for p in text.split(",")]
    else:
        text = text.lstrip("#")
        if len(text) != 6:
            raise ValueError(f"colour must be #rrggbb or r,g,b, got {text!r}")
        parts = [int(text[i : i + 2], 16) for i in (0, 2, 4)]
    if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
        raise ValueError(f"colour must have three values 0-255, got {text!r}")
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


def remove_specks(mask, min_region):
    """Drop 8-connected components smaller than ``min_region`` pixels."""
    if min_region <= 1 or not mask.any():
        return mask
    labels, count = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes >= min_region
    keep[0] = False
    return keep[labels]


def detect_paint(
    rgb,
    color=GREEN,
    tolerance=DEFAULT_TOLERANCE,
    min_region=DEFAULT_MIN_REGION,
    fringe=DEFAULT_FRINGE,
    grow=DEFAULT_GROW,
):
    """Boolean hole mask (True = fill) of paint in ``color`` on an (H, W, 3) uint8 image."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError("detect_paint wants an (H, W, 3) RGB array")
    painted = _within_tolerance(rgb, color, tolerance)
    core = remove_specks(painted, min_region)
    hole = core.copy()
    if not core.any() or (fringe <= 0 and grow <= 0):
        return hole
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
            tinted = _key_leaning(rgb[window], color) >= 0.1
            local = local_core | (near & tinted)
        if grow > 0:
            local = ndimage.binary_dilation(local, structure=_EIGHT_CONNECTED, iterations=grow)
        hole[window] |= local
    return _absorb_touching_specks(hole, painted & ~core, grow)


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
    array = np.asarray(array)
    if array.ndim == 3:
        if array.shape[-1] in (2, 4):
            array = array[..., :-1]
        array = array.max(axis=-1)
    if size is not None and (array.shape[1], array.shape[0]) != tuple(size):
        raise MaskError(
            f"{source} is {array.shape[1]}x{array.shape[0]}, the page is {size[0]}x{size[1]}"
        )
    if array.dtype == bool:
        return array.copy()
    top = 1.0 if array.dtype.kind == "f" and array.max(initial=0) <= 1.0 else (
        65535 if array.dtype == np.uint16 or array.max(initial=0) > 255 else 255
    )
    return array.astype(np.float64) >= top / 2


# How to turn a mask drawn on the *displayed* page back into stored
# orientation, by EXIF orientation tag (the inverse of Pillow's exif_transpose).
_UNDO_ORIENTATION = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
                     6: "ROTATE_90", 7: "TRANSVERSE", 8: "ROTATE_270"}


def load_mask_file(path, size, orientation=1):
    """Read a black/white mask image for a page of stored ``size`` (width, height).

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
    return mask_from_array(array, size, source=f"mask {path}")
