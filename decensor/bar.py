"""The bar fill: what `decensor bar` does with the hole of one page.

1. First guess: patch synthesis fills the hole from the page's own known
   pixels (:func:`decensor.patchfill.fill_patches`).
2. Network stage (optional): the bar model corrects that guess tile by tile
   (:mod:`decensor.correction`); a model that adds nothing is skipped.
3. A grey page (even one stored as RGB) keeps a grey fill
   (:func:`decensor.images.keep_grey`).

Every pixel outside the hole is returned unchanged.
"""

from . import images
from .correction import NO_CORRECTION, load_correction
from .guess import PatchGuess
from .inpaint import DEFAULT_BATCH, DEFAULT_MARGIN, DEFAULT_TILE, InpaintError
from .patchfill import DEFAULT_SETTINGS, fill_patches

MODEL = "bar"
GUESS_KIND = "patch_fill"


class BarFill:
    """Fills marked regions of 8-bit RGB pages: patch synthesis, then the bar model's correction."""

    def __init__(self, correction=NO_CORRECTION, synthesis=DEFAULT_SETTINGS):
        self.correction = correction
        self.synthesis = synthesis

    @classmethod
    def load(cls, models_dir=None, synthesis=DEFAULT_SETTINGS, tile=DEFAULT_TILE, margin=DEFAULT_MARGIN,
             batch_size=DEFAULT_BATCH):
        """The pipeline with the shipped bar model (``models_dir`` overrides where it is read)."""
        return cls(load_correction(MODEL, GUESS_KIND, models_dir, tile, margin, batch_size), synthesis)

    @property
    def card(self):
        return self.correction.card

    def first_guess(self, rgb, hole):
        """Patch synthesis of ``hole``, with the hole and the synthesis's doubt (a :class:`PatchGuess`)."""
        page, spread = fill_patches(rgb, hole, settings=self.synthesis, with_spread=True)
        return PatchGuess(page, hole, spread)

    def fill(self, rgb, hole, progress=None):
        """``rgb`` (H, W, 3: uint8, or float 0..255 for a page of more than 8 bits) with ``hole``
        filled; every other pixel is returned unchanged."""
        if hole.all():
            raise InpaintError("the whole image is marked: nothing is left to fill from")
        filled = self.correction.apply(rgb, hole, self.first_guess(rgb, hole), progress)
        return images.keep_grey(rgb, filled, hole)
