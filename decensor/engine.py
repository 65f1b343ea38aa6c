"""Public fill API: a page (PIL image or numpy array) and an optional mask in, the filled page out.

    from decensor import Decensor
    engine = Decensor()                      # loads models/bar once
    filled = engine.fill(Image.open("page.png"))            # green paint marks the hole
    filled = engine.fill(array, mask=my_bool_mask)          # or give the mask

It adapts pages to the bar pipeline (:class:`decensor.bar.BarFill`) and back:
pages keep their mode, alpha and metadata, and only the hole changes.
"""

import os
from dataclasses import dataclass

import numpy as np

from . import images, masks
from .bar import BarFill
from .inpaint import DEFAULT_BATCH, DEFAULT_MARGIN, DEFAULT_TILE
from .patchfill import DEFAULT_SETTINGS


class NoMarkedRegion(ValueError):
    """The page has nothing to fill."""


@dataclass(frozen=True)
class PaintSettings:
    """How green paint is recognised; see :mod:`decensor.masks` for the rule."""

    color: tuple = masks.GREEN
    tolerance: int = masks.DEFAULT_TOLERANCE
    min_region: int = masks.DEFAULT_MIN_REGION
    fringe: int = masks.DEFAULT_FRINGE
    grow: int = masks.DEFAULT_GROW
    core_tolerance: int = masks.DEFAULT_CORE_TOLERANCE
    lean: float = masks.DEFAULT_LEAN

    def find(self, rgb, jpeg=False):
        """The paint on an 8-bit RGB page (a :class:`decensor.masks.Paint`); a JPEG page's rim reaches farther."""
        fringe = max(self.fringe, masks.JPEG_FRINGE) if jpeg and self.fringe else self.fringe
        lean = min(self.lean, masks.JPEG_LEAN) if jpeg else self.lean
        return masks.find_paint(rgb, tuple(self.color), self.tolerance, self.min_region, fringe, self.grow,
                                self.core_tolerance, lean)

    def detect(self, rgb, jpeg=False):
        return self.find(rgb, jpeg).hole


class Decensor:
    """Fills pages with the bar pipeline; the models are loaded once, here."""

    def __init__(self, models_dir=None, tile=DEFAULT_TILE, margin=DEFAULT_MARGIN, batch_size=DEFAULT_BATCH,
                 paint=None, synthesis=DEFAULT_SETTINGS, pipeline=None):
        """``pipeline``: a ready :class:`decensor.bar.BarFill` to use instead of the shipped model."""
        self.pipeline = pipeline or BarFill.load(models_dir, synthesis, tile, margin, batch_size)
        self.paint = paint or PaintSettings()

    @property
    def card(self):
        """The bar model's card (data, training, metrics)."""
        return self.pipeline.card

    def fill_rgb(self, rgb, hole, progress=None):
        """Fill ``hole`` in an (H, W, 3) uint8 array; every other pixel is returned unchanged."""
        return self.pipeline.fill(rgb, hole, progress)

    def hole_of(self, picture, mask=None):
        """The boolean hole for a page: the given mask, or the paint found on it."""
        if mask is not None:
            return masks.mask_from_array(mask, picture.size)
        return self.paint.detect(images.rgb_view(picture), jpeg=picture.is_jpeg)

    def fill_picture(self, picture, hole, copy=True):
        """Fill a decoded page; the result keeps its mode, alpha and metadata.

        ``copy=False`` lets the fill overwrite ``picture`` (the batch runner's own page).
        """
        if not hole.any():
            raise NoMarkedRegion("no marked region found")
        filled = self.pipeline.fill(images.fill_view(picture), hole)
        return images.with_fill(picture, filled, hole, copy=copy)

    def fill(self, image, mask=None):
        """Fill a PIL image, a numpy array or an image file; returns a PIL image for a PIL image or a
        file (path string or os.PathLike), an array for an array.

        ``mask``: None to use the paint on the page, else a boolean/0-255 array,
        PIL image or image file (true or white = fill) of the page's size.
        Raises :class:`NoMarkedRegion` when nothing is marked and
        :class:`decensor.inpaint.InpaintError` when everything is.
        """
        from PIL import Image

        if isinstance(mask, (str, os.PathLike)):
            with Image.open(mask) as opened:
                mask = np.array(opened.convert("L"))
        if isinstance(mask, Image.Image):
            mask = np.array(mask.convert("L"))
        if isinstance(image, (str, os.PathLike)):
            picture = images.open_picture(image)
            return images.to_pil(self.fill_picture(picture, self.hole_of(picture, mask)))
        if isinstance(image, Image.Image):
            picture = images.picture_from_pil(image)
            result = self.fill_picture(picture, self.hole_of(picture, mask))
            output = images.to_pil(result)
            output.info.update({k: v for k, v in image.info.items() if k in ("icc_profile", "dpi")})
            return output
        array = np.asarray(image)
        picture = _picture_from_array(array)
        result = self.fill_picture(picture, self.hole_of(picture, mask))
        return result.pixels


def _picture_from_array(array):
    if array.ndim == 2:
        mode = {np.dtype(np.uint8): "L", np.dtype(np.uint16): "I;16", np.dtype(bool): "1"}.get(array.dtype)
    elif array.ndim == 3 and array.dtype == np.uint8 and array.shape[2] in (2, 3, 4):
        mode = {2: "LA", 3: "RGB", 4: "RGBA"}[array.shape[2]]
    else:
        mode = None
    if mode is None:
        raise ValueError(
            f"unsupported array {array.shape} {array.dtype}: use uint8 (H, W), (H, W, 3) "
            "or (H, W, 4), uint16 (H, W) or bool (H, W)"
        )
    return images.Picture(pixels=array, mode=mode)


def fill(image, mask=None, **settings):
    """One-off convenience: load the shipped model and fill one page."""
    return Decensor(**settings).fill(image, mask)
