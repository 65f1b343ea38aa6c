"""A pipeline's first guess: the one thing every pipeline hands its network stage.

A first guess is the page with its hole filled, uint8 like the page (what the
pipeline writes when no network corrects it), and the network's guess input,
served tile by tile so a huge page never needs a full-size float copy: the
guess itself as three float channels, then whatever the pipeline knows
besides: where the hole is and how sure the synthesis was
(:class:`PatchGuess`), or a mosaic's block means and block size
(:class:`decensor.mosaic.restoration.MosaicGuess`). A network takes as many
of the leading channels as its design says (``guess_channels``).
"""

import numpy as np

from .regions import extract


class Guess:
    """A page-sized first guess (uint8 RGB); ``tile(box)`` is the network's guess input there."""

    channels = 3

    def __init__(self, page):
        self.page = page

    def tile(self, box):
        """The guess input over ``box`` (a :class:`decensor.regions.Box`), float32 0..1."""
        return extract(self.page, box).astype(np.float32) / 255.0


# Spread (grey levels) that counts as fully unsure: the votes of a grey smudge disagree by about this.
SPREAD_SCALE = 48.0


class PatchGuess(Guess):
    """Patch synthesis's first guess, with the hole and the synthesis's own doubt.

    Guess input channels: the guess (3), the hole (1 inside), and the
    spread of the copies each hole pixel was voted from, / ``SPREAD_SCALE``
    capped at 1 (1): where it is high the vote averaged patches that
    disagree, which is where grey smudges come from.
    """

    channels = 5

    def __init__(self, page, hole, spread):
        super().__init__(page)
        self.hole = hole
        self.spread = spread

    def tile(self, box):
        hole = extract(self.hole, box, False).astype(np.float32)[..., None]
        doubt = np.minimum(extract(self.spread, box) / SPREAD_SCALE, 1.0).astype(np.float32)[..., None]
        return np.concatenate([super().tile(box), hole, doubt], axis=-1)
