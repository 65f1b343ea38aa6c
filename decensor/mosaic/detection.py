"""Finding mosaics on a page with no marks (``decensor mosaic --auto``).

Candidate grids come from boxes that are flat exactly on a block and not half
a block away (:mod:`.votes`); on each candidate grid the block test
(:mod:`.evidence`) finds neighbouring blocks that are both flat inside with a
clear step right on the grid line between them. A firm region needs
``min_blocks`` evidence blocks and steps both ways; once one proves the grid,
the found blocks grow into neighbouring flat patches whose edges step on grid
lines, and pieces on that grid anywhere on the page need far less evidence.
Blocks already found on another grid are no evidence for a grid (a 24 px
mosaic has flat 18 px boxes too). Votes can land off a mosaic's offsets
(JPEG; blocks that differ one way only), so each candidate is also tried at
the offsets where block-sized boxes are flattest; a block size no window voted
for at all (a mosaic of a dozen large blocks) is tried at the page's flattest
offsets. Last come mosaics over one-way shading (:mod:`.bands`). Flat colour
has flat blocks but no steps, screentone has no flat blocks, a smooth gradient
steps inside blocks as much as across lines, and JPEG's own 8x8 blocking steps
only faintly. Every threshold is a field of
:class:`decensor.mosaic.settings.DetectionSettings`.
"""

import numpy as np
from scipy import ndimage

from ..regions import Box
from . import votes
from .bands import banded_regions
from .evidence import regions_on_grid
from .grid import MAX_BLOCK, MIN_BLOCK, Grid, as_float_gray, block_means, block_view, lies_on
from .settings import DEFAULT_DETECTION


def find_mosaic(image, settings=DEFAULT_DETECTION, jpeg=False):
    """Find mosaic regions on a page with no marks.

    ``jpeg``: the page was decoded from a JPEG file, whose 8 px blocks start
    at its top left corner; a step on their lines is weaker evidence (see
    :func:`decensor.mosaic.evidence.regions_on_grid`).

    Returns ``(mask, regions)``: a boolean pixel mask and a list of ``(grid,
    region mask)`` per accepted region.
    """
    image = np.asarray(image)
    return _Search(as_float_gray(image), settings, image, jpeg).run()


class _Search:
    """One page's search: what is found so far, on which grid, and the checks already made."""

    def __init__(self, gray, settings, rgb=None, jpeg=False):
        self.gray = gray
        self.jpeg = jpeg
        self.rgb = gray if rgb is None else rgb
        self.settings = settings
        self.page = Box(0, 0, *gray.shape)
        self.tables = votes.box_tables(gray)
        self.found = np.zeros(gray.shape, bool)
        self.found_on = {}  # grid -> its pixels found so far
        self.regions = []
        # (Candidates' areas often cover the whole page: many share a check.)
        self.checked, self.settled, self.line_steps = {}, {}, {}

    def run(self):
        candidates, bands, flattest = votes.scan_candidates(self.gray, self.tables, self.settings)
        self.settled.update(((size, self.page), grid) for size, (grid, _) in flattest.items())
        # Coarse grids first: a 16 px mosaic also passes as an 8 or 4 px one.
        for voted in sorted(candidates, key=lambda g: (-g.size, -candidates[g].votes)):
            self.check_candidate(voted, candidates[voted].box)
        self.check_unvoted_sizes(flattest, {grid.size for grid in candidates})
        # A grid proven somewhere holds across the page: its pieces elsewhere need
        # far less evidence (see regions_on_grid), wherever the votes fell.
        for grid in list(self.found_on):
            for piece, _ in self.pieces_on(grid, self.page):
                self.take(grid, piece)
        self.join_finer_grids()
        self.check_bands(bands)
        self.drop_few_colours()
        return self.found, self.regions

    def join_finer_grids(self):
        """Pieces on a coarse grid that touch a mosaic found on a finer grid whose lines hold the coarse
        one's join the finer: flat stretches of a 12 px mosaic pass as 24 px blocks too (coarse grids are
        tried first), and one mosaic is restored on one grid."""
        for fine in sorted(self.found_on, key=lambda grid: grid.size):
            if fine not in self.found_on:
                continue  # (joined into a finer one already)
            near = ndimage.maximum_filter(self.found_on[fine], size=2 * fine.size + 1)
            for index, (coarse, piece) in enumerate(self.regions):
                if coarse != fine and lies_on(fine, coarse) and (piece & near).any():
                    self.regions[index] = (fine, piece)
                    self.found_on[fine] = self.found_on[fine] | piece
                    self.found_on[coarse] = self.found_on[coarse] & ~piece
                    if not self.found_on[coarse].any():
                        del self.found_on[coarse]

    def drop_few_colours(self):
        """Pixel art and checkerboards: every region of a grid whose blocks hold a handful of colours."""
        for grid, pixels in list(self.found_on.items()):
            if self.few_colours(grid, pixels):
                self.regions = [(g, mask) for g, mask in self.regions if g != grid]
                self.found &= ~pixels
                del self.found_on[grid]

    def check_candidate(self, voted, voting_box):
        """The voted grid, the flattest offsets of its size, or one a pixel off: whichever finds most."""
        # (The voting windows, grown by a window and a few blocks: a mosaic reaches past its voters.)
        area = voting_box.expanded(self.settings.window + 4 * voted.size, self.gray.shape)
        # Votes can land off the grid (under JPEG, or on a mosaic whose blocks
        # differ one way only), so the offsets where the boxes are flattest
        # are tried too, and the grid that finds more blocks is kept.
        best_grid, best = voted, []
        if (voted.size, area) not in self.settled:
            self.settled[voted.size, area] = votes.settle_offsets(self.tables, area, voted.size, self.settings)
        for grid in dict.fromkeys(grid for grid in (voted, self.settled[voted.size, area]) if grid is not None):
            if grid == voted or not self.on_found_lines(grid):
                pieces = self.pieces_on(grid, area)
                if sum(blocks for _, blocks in pieces) > sum(blocks for _, blocks in best):
                    best_grid, best = grid, pieces
        if not best:
            # Votes under JPEG can land a pixel off the grid: try where the lines step most.
            if area not in self.line_steps:
                self.line_steps[area] = votes.line_steps(self.gray[area.slices])
            grid = votes.refine_offsets(self.line_steps[area], voted, area)
            if grid != voted and not self.on_found_lines(grid):
                best_grid, best = grid, self.pieces_on(grid, area)
        for piece, _ in best:
            self.take(best_grid, piece)

    def check_unvoted_sizes(self, flattest, voted_sizes):
        """Sizes no window voted for (a mosaic of few large blocks): the page's flattest offsets."""
        for size in range(MAX_BLOCK, MIN_BLOCK - 1, -1):
            grid, passing = flattest.get(size, (None, 0))
            # (Skipped, to save time, where fewer than min_blocks boxes pass the vote's
            # test on that grid: too few blocks to prove it.)
            if size not in voted_sizes and passing >= self.settings.min_blocks and not self.on_found_lines(grid):
                for piece, _ in self.pieces_on(grid, self.page):
                    self.take(grid, piece)

    def check_bands(self, bands):
        """Mosaics over one-way shading, which prove their grid one way only."""
        for (axis, size, phase) in sorted(bands, key=lambda key: (-key[1], -bands[key])):
            transposed = axis == "columns"
            plane = self.gray.T if transposed else self.gray
            for mask, phase_along in banded_regions(plane, size, phase, self.settings):
                if transposed:
                    self.take(Grid(size, phase_along, phase), mask.T)
                else:
                    self.take(Grid(size, phase, phase_along), mask)

    def take(self, grid, mask):
        if (mask & self.found).sum() > 0.5 * mask.sum():
            return  # mostly found already, on a finer or coarser version of this grid
        mask &= ~self.found
        self.found[mask] = True
        self.found_on[grid] = self.found_on.get(grid, False) | mask
        self.regions.append((grid, mask))

    def few_colours(self, grid, mask):
        """Whether the blocks of ``mask`` on ``grid`` hold only a handful of colours (see DetectionSettings)."""
        s = self.settings
        means, _ = block_means(self.rgb, grid)
        inside = block_view(mask, grid)[0].all(axis=(2, 3))
        colours = np.round(means[inside] / s.palette_step).astype(np.int32)
        if not len(colours):
            return False
        values, counts = np.unique(colours, axis=0, return_counts=True)
        order = np.argsort(counts)[::-1]
        covering = int(np.searchsorted(np.cumsum(counts[order]), s.palette_share * len(colours)) + 1)
        if covering > s.palette_colours or len(colours) < s.palette_repeats * covering:
            return False
        palette = values[order[:covering]]
        apart = np.abs(palette[:, None] - palette[None, :]).max(axis=-1) + np.eye(covering, dtype=int) * 10**6
        return covering == 1 or int(apart.min()) >= s.palette_separation

    def pieces_on(self, grid, area):
        """Pieces on ``grid`` inside ``area``; a mosaic found on another grid is no evidence for it."""
        key = (grid, area, len(self.regions))
        if key not in self.checked:
            local = Grid(grid.size, (grid.offset_y - area.top) % grid.size, (grid.offset_x - area.left) % grid.size)
            explained = self.found[area.slices]
            if grid in self.found_on:
                explained = explained & ~self.found_on[grid][area.slices]
            jpeg_phase = ((-area.top) % 8, (-area.left) % 8) if self.jpeg else None
            pieces = regions_on_grid(self.gray[area.slices], local, self.settings, explained, jpeg_phase)
            self.checked[key] = [(_on_page(piece, area, self.gray.shape), blocks) for piece, blocks in pieces]
        return [(piece.copy(), blocks) for piece, blocks in self.checked[key]]

    def on_found_lines(self, grid):
        """Whether ``grid``'s lines hold a coarser mosaic already found (its paper would pass too)."""
        return any(lies_on(grid, taken) for taken in self.found_on)


def _on_page(piece, area, shape):
    mask = np.zeros(shape, bool)
    mask[area.slices] = piece
    return mask
