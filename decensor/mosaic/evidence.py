"""The block test: on one grid, which blocks of a page are a mosaic's.

Evidence is a pair of neighbouring blocks, both flat inside, with a real step
right at the grid line between them; a region of evidence that steps both
ways proves the grid, and then grows into the flat patches next to it whose
edges step on grid lines. What growing (and a piece too weak to prove the
grid alone) counts as flat is measured on the proven region's own blocks,
so a grainy texture beside a mosaic is not taken for more of it. Numpy in,
numpy out.
"""

import numpy as np
from scipy import ndimage

from .grid import block_view
from .settings import DEFAULT_DETECTION

_FOUR_NEIGHBOURS = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], bool)


def regions_on_grid(gray, grid, settings=DEFAULT_DETECTION, explained=None, jpeg_phase=None):
    """Mosaic regions on one grid, as [(pixel mask, block count)].

    Evidence is a pair of neighbouring blocks, both flat inside, with a real
    step right at the grid line between them: at least ``settings.min_step`` grey
    levels, and ``settings.min_contrast`` times the pixel steps inside the blocks (a
    smooth gradient steps as much inside a block as across a line). Regions
    are the evidence blocks, closed over small gaps (a mosaic over plain paper
    has flat blocks without steps) and filled. Blocks in ``explained`` (a
    mosaic found on another grid) are no evidence but may be grown into.

    ``jpeg_phase`` (row, column): for a page decoded from a JPEG file, where
    its 8 px block lines fall in ``gray`` (modulo 8). On a grid that shares
    at least every other line with them, a step on one of them needs
    ``settings.jpeg_line_step``: heavy compression flattens the blocks of
    smooth shading into a staircase that steps exactly there.
    """
    s = settings
    size = grid.size
    # One block view of the page's grey serves every per-block measure below.
    blocks, (top, left, rows, cols) = block_view(gray, grid)
    if rows < 2 or cols < 2:
        return []
    block_std = blocks.std(axis=(2, 3))
    flat = block_std <= s.flat_std
    # Blocks of a mosaic found on another grid are no evidence for this one (they may still be grown into).
    free = np.ones_like(flat) if explained is None else ~block_view(explained, grid)[0].any(axis=(2, 3))
    inner = _inner_steps(blocks)
    across_h = np.abs(blocks[:, 1:, :, 0] - blocks[:, :-1, :, -1]).mean(axis=-1)
    across_v = np.abs(blocks[1:, :, 0, :] - blocks[:-1, :, -1, :]).mean(axis=-1)
    # A lossless pair of blocks needs a smaller step (see DetectionSettings.lossless_step).
    min_step = np.where(block_std <= s.lossless_flat, s.lossless_step, s.min_step)
    step_h = np.maximum(min_step[:, 1:], min_step[:, :-1])
    step_v = np.maximum(min_step[1:, :], min_step[:-1, :])
    if jpeg_phase is not None:
        # (Only a grid that shares at least every other line with JPEG's, one way, can be a staircase's:
        # other grids meet JPEG's lines now and then, and their steps there are judged as the rest.)
        on_rows = _on_jpeg_lines(top + size * np.arange(1, rows), size, jpeg_phase[0])  # (lines between blocks)
        on_cols = _on_jpeg_lines(left + size * np.arange(1, cols), size, jpeg_phase[1])
        step_h = np.where(on_cols[None, :], np.maximum(step_h, s.jpeg_line_step), step_h)
        step_v = np.where(on_rows[:, None], np.maximum(step_v, s.jpeg_line_step), step_v)
    ok_h = (flat[:, 1:] & flat[:, :-1] & (across_h >= step_h)
            & (across_h >= s.min_contrast * (np.maximum(inner[:, 1:], inner[:, :-1]) + s.inner_floor)))
    ok_v = (flat[1:, :] & flat[:-1, :] & (across_v >= step_v)
            & (across_v >= s.min_contrast * (np.maximum(inner[1:, :], inner[:-1, :]) + s.inner_floor)))
    pairs = _onto_blocks(ok_h, ok_v, np.add, np.int8)
    # A mosaic block steps to most of its neighbours; a flat block of the art
    # next to a mosaic's edge steps only towards the mosaic and stays outside.
    evidence = (pairs >= 2) & free
    if evidence.sum() < s.min_blocks:
        return []  # (no region could be firm)
    # Neighbouring blocks of one colour, for growing a region into patches.
    means = blocks.mean(axis=(2, 3))
    mean_step_h = np.abs(np.diff(means, axis=1))
    mean_step_v = np.abs(np.diff(means, axis=0))
    same_h = flat[:, 1:] & flat[:, :-1] & (mean_step_h < s.same_colour)
    same_v = flat[1:, :] & flat[:-1, :] & (mean_step_v < s.same_colour)
    # Bridge gaps of a few blocks (plain paper under the mosaic), then take
    # each group's bounding rectangle of flat blocks: mosaics are laid as
    # rectangles or painted shapes, and their plain-paper blocks show no steps.
    # Padded first: closing erodes from the array's edge and would drop the
    # blocks along the page border.
    bridge = s.bridge_blocks
    padded = np.pad(evidence, bridge)
    closing = np.ones((2 * bridge + 1,) * 2, bool)
    closed = ndimage.binary_closing(padded, structure=closing)[bridge:-bridge, bridge:-bridge] | evidence
    labels, count = ndimage.label(closed, structure=np.ones((3, 3), bool))
    components = []
    for label, found in enumerate(ndimage.find_objects(labels), start=1):
        inside = labels == label
        strength = int((inside & evidence).sum())
        height = found[0].stop - found[0].start
        width = found[1].stop - found[1].start
        # A mosaic steps both ways; an edge of the art that happens to lie on
        # a grid line steps one way only.
        across = int((ok_h & inside[:, 1:] & inside[:, :-1]).sum())
        down = int((ok_v & inside[1:, :] & inside[:-1, :]).sum())
        firm = (strength >= s.min_blocks and height >= 2 and width >= 2
                and min(across, down) >= s.firm_steps and min(across, down) >= s.firm_balance * max(across, down))
        components.append((firm, strength, found))
    if not any(firm for firm, _, _ in components):
        return []
    # What flat means on this page's mosaic: its firm blocks are as flat as the
    # paint and the compression left them. A smooth texture next to it (wood,
    # grain) passes the absolute test too, but is less flat than that.
    proven = np.zeros((rows, cols), bool)
    for firm, _, found in components:
        if firm:
            proven[found] |= evidence[found]
    flat_here = min(s.flat_std, max(s.relative_floor, s.relative_flat * float(np.percentile(block_std[proven], 90))))
    as_flat = block_std <= flat_here
    # Once one region proves the grid, other pieces on exactly that grid (a
    # blob mosaic falls apart into several) need far less evidence: art
    # rarely lines up with a proven grid.
    member = np.zeros((rows, cols), bool)
    for firm, strength, found in components:
        if firm or strength >= 1:
            # Inside the region, a flat block with one real step to a flat
            # neighbour belongs too (plain paper under the mosaic steps nowhere).
            taken = evidence | (flat & free & (pairs >= 1))
            member[found] |= (taken if firm else taken & as_flat)[found]
    # JPEG rings inside a block next to a strong step or busy art (a mosaic's
    # rim): for growing, flat is judged against what its neighbours hold.
    neighbour_step = _onto_blocks(mean_step_h, mean_step_v, np.maximum, np.float32)
    # (The four neighbours only: a block's own spread is what is being judged.)
    neighbour_spread = ndimage.maximum_filter(block_std, footprint=_FOUR_NEIGHBOURS, mode="constant", cval=0.0)
    flat_for_rim = (as_flat | (block_std <= s.rim_ringing * neighbour_step)
                    | (block_std <= flat_here + s.rim_leak * neighbour_spread))
    member = _grow(member, flat_for_rim, same_h, same_v, across_h, across_v, s)
    labels, count = ndimage.label(member)
    accepted = []
    for label in range(1, count + 1):
        piece = labels == label
        mask = np.zeros(gray.shape, bool)
        mask[top : top + rows * size, left : left + cols * size] = np.kron(piece, np.ones((size, size), bool))
        accepted.append((mask, int(piece.sum())))
    return accepted


def _on_jpeg_lines(lines, size, phase):
    """Which of a grid's ``lines`` (positions along one axis) lie on a JPEG file's 8 px block lines, where
    the grid has at least every other line on them (size a multiple of 4, on JPEG's phase); else none."""
    if not len(lines) or size % 4 or (int(lines[0]) - phase) % 4:
        return np.zeros(len(lines), bool)
    return (lines - phase) % 8 == 0


def _onto_blocks(across, down, combine, dtype):
    """Per block, ``combine`` (np.add, np.maximum) of the values on its edges to its four neighbours.

    ``across`` holds the (rows, cols - 1) vertical edges, ``down`` the (rows - 1, cols) horizontal ones.
    """
    out = np.zeros((across.shape[0], down.shape[1]), dtype)
    for part, edges in ((out[:, 1:], across), (out[:, :-1], across), (out[1:, :], down), (out[:-1, :], down)):
        combine(part, edges, out=part)
    return out


def _grow(member, flat, same_h, same_v, across_h, across_v, settings):
    """Extend a found region into the flat patches next to it whose edges fall on grid lines.

    A patch is a group of touching flat blocks of one colour: a single
    mosaic block, or several blocks of a mosaic over an even texture
    (hatching, a tone) that averaged to one grey. What gives a mosaic patch
    away is that everything around it steps exactly at the grid lines; flat
    art (paper, a filled shape) meets its lines anywhere, so its edges seldom
    pass. A patch bigger than the region it joins is never taken, so paper
    cannot flood in.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows, cols = member.shape
    index = np.arange(rows * cols).reshape(rows, cols)
    link_h = same_h & flat[:, 1:] & flat[:, :-1]
    link_v = same_v & flat[1:, :] & flat[:-1, :]
    starts = np.concatenate([index[:, :-1][link_h], index[:-1, :][link_v]])
    ends = np.concatenate([index[:, 1:][link_h], index[1:, :][link_v]])
    graph = coo_matrix((np.ones(len(starts)), (starts, ends)), shape=(rows * cols, rows * cols))
    _, patches = connected_components(graph, directed=False)
    patches = patches.reshape(rows, cols)
    member = member.copy()
    rejected = set()
    for _ in range(settings.grow_rounds):
        free = flat & ~member
        touching = np.zeros_like(member)
        touching[:, 1:] |= member[:, :-1]
        touching[:, :-1] |= member[:, 1:]
        touching[1:, :] |= member[:-1, :]
        touching[:-1, :] |= member[1:, :]
        added = False
        for label in np.unique(patches[touching & free]):
            if label in rejected:
                continue
            patch = (patches == label) & free
            if patch.sum() > member.sum():
                rejected.add(label)
                continue
            outside = ~patch & ~member
            steps = np.concatenate([
                across_h[patch[:, :-1] & outside[:, 1:]], across_h[patch[:, 1:] & outside[:, :-1]],
                across_v[patch[:-1, :] & outside[1:, :]], across_v[patch[1:, :] & outside[:-1, :]],
            ])
            if len(steps) and (steps >= settings.grow_step).mean() < settings.grow_share:
                continue  # may pass later, once its neighbours have joined
            member |= patch
            added = True
        if not added:
            break
    return member


def _inner_steps(blocks):
    """Mean absolute neighbour step inside each block (grid lines excluded)."""
    horizontal = np.abs(np.diff(blocks, axis=3)).mean(axis=(2, 3))
    vertical = np.abs(np.diff(blocks, axis=2)).mean(axis=(2, 3))
    return (horizontal + vertical) / 2


