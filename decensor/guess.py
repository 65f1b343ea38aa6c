"""A pipeline's first guess: the one thing every pipeline hands its network stage.

A first guess is the page with its hole filled, uint8 like the page (what the
pipeline writes when no network corrects it), and the network's guess input,
served tile by tile so a huge page never needs a full-size float copy: the
guess itself as three float channels, then whatever evidence the pipeline
holds besides (a mosaic's block means and block size, see
:class:`decensor.mosaic.restoration.MosaicGuess`).
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
