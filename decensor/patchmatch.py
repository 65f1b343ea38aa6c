"""The inner loops of patch synthesis, compiled to machine code with numba.

Patch distances, PatchMatch propagation and random search, and the votes
(mean and median), over every target patch of one pyramid level; and the
brightness steps the texture channel is made of. Images are flattened with a
border of ``radius`` replicated pixels (``flat``: (pixels, channels) float32),
so a patch centred at flat index ``i`` is ``flat[i + offsets]``, its rows
runs of ``2 * radius + 1`` pixels ``padded_width`` apart. The algorithm
is the one :mod:`decensor.patchfill` describes; the interpreter only drives
the loops and draws the random numbers, so results are reproducible from the
``rng`` as before. Distance loops run in parallel over target patches
(``prange``); every target's update reads only the state before the step, as
the vectorised numpy version did.

Compiled on first use and cached beside the module (``cache=True``), so only
the first run on a machine pays for compilation.
"""

import os

# numba runs prange loops on libgomp here, whose idle threads spin 300,000 turns before they sleep: on a
# machine with anything else running (another process's threads, a browser) the spinning takes the cores
# the work needs, and a fill took 2-5x as long. 3,000 turns cost nothing alone (see benchmarks/TUNING.md).
# (Read when libgomp loads, at the first parallel loop: set before it; a value the user set is kept.)
os.environ.setdefault("GOMP_SPINCOUNT", "3000")

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

INFINITE = np.float32(np.inf)
# "No match to beat" as the distance loop sees it, and what it returns for a candidate it gave up on:
# finite, since its fast maths assumes no infinities (FAR beats no bound a search can hold).
NO_BOUND = np.float32(1e38)
FAR = np.float32(3e38)


@njit(cache=True, inline="always", fastmath=True)
def _distance(flat, trust, padded_width, radius, colours, texture_weight, target, source, shift_cost,
              match_brightness, bound):
    """(trust-weighted squared difference of two patches up to a brightness shift, the shift's three
    channels): a tuple, so the search allocates nothing per candidate. FAR, as soon as the rows summed
    so far show that the distance will exceed ``bound`` (the match to beat, at most NO_BOUND).

    ``flat`` holds ``colours`` (one or three) channels and, when it has one
    more, a texture channel: compared with weight ``texture_weight`` and never
    shifted.

    Row by row (each row's pixels are contiguous) and written out for one
    and for three channels, with and without texture: without branches or
    index lookups in the innermost loop the compiler vectorises it (a tenth
    faster than looping over the patch's offsets).
    """
    # A shift removes at most (1 - shift_cost) of the colours' squared difference (the weighted mean
    # difference squared is at most the weighted mean square) and nothing of the texture's, so
    # shift_cost times a partial sum bounds the distance from below. (A hair of slack: rounding never
    # turns a would-be winner away.)
    floor = shift_cost if match_brightness else np.float32(1.0)
    give_up = bound * np.float32(1.0001) + np.float32(1e-6)
    total = np.float32(0.0)
    trust_sum = np.float32(0.0)
    s0 = np.float32(0.0)
    s1 = np.float32(0.0)
    s2 = np.float32(0.0)
    textured = flat.shape[1] > colours
    side = 2 * radius + 1
    for dy in range(-radius, radius + 1):
        t = target + dy * padded_width - radius  # (a patch row is contiguous: the loop vectorises)
        s = source + dy * padded_width - radius
        if colours == 1 and textured:
            for dx in range(side):
                w = trust[t + dx]
                d = flat[t + dx, 0] - flat[s + dx, 0]
                e = flat[t + dx, 1] - flat[s + dx, 1]
                trust_sum += w
                s0 += w * d
                total += w * (d * d + texture_weight * e * e)
        elif colours == 1:
            for dx in range(side):
                w = trust[t + dx]
                d = flat[t + dx, 0] - flat[s + dx, 0]
                trust_sum += w
                s0 += w * d
                total += w * d * d
        elif textured:
            for dx in range(side):
                w = trust[t + dx]
                d0 = flat[t + dx, 0] - flat[s + dx, 0]
                d1 = flat[t + dx, 1] - flat[s + dx, 1]
                d2 = flat[t + dx, 2] - flat[s + dx, 2]
                e = flat[t + dx, 3] - flat[s + dx, 3]
                trust_sum += w
                s0 += w * d0
                s1 += w * d1
                s2 += w * d2
                total += w * (d0 * d0 + d1 * d1 + d2 * d2 + texture_weight * e * e)
        else:
            for dx in range(side):
                w = trust[t + dx]
                d0 = flat[t + dx, 0] - flat[s + dx, 0]
                d1 = flat[t + dx, 1] - flat[s + dx, 1]
                d2 = flat[t + dx, 2] - flat[s + dx, 2]
                trust_sum += w
                s0 += w * d0
                s1 += w * d1
                s2 += w * d2
                total += w * (d0 * d0 + d1 * d1 + d2 * d2)
        if floor * total > give_up:
            return FAR, np.float32(0.0), np.float32(0.0), np.float32(0.0)
    if not match_brightness:
        return total, np.float32(0.0), np.float32(0.0), np.float32(0.0)
    # The weighted mean difference is the best shift; the distance is what remains.
    shift0, shift1, shift2 = s0 / trust_sum, s1 / trust_sum, s2 / trust_sum
    total -= (np.float32(1.0) - shift_cost) * (s0 * shift0 + s1 * shift1 + s2 * shift2)
    return max(total, np.float32(0.0)), shift0, shift1, shift2


@njit(cache=True, inline="always")
def _keep_shift(best_shift, n, shift0, shift1, shift2):
    best_shift[n, 0] = shift0
    if best_shift.shape[1] == 3:
        best_shift[n, 1] = shift1
        best_shift[n, 2] = shift2


@njit(cache=True, parallel=True)
def match_distances(flat, trust, target_index, source, padded_width, radius, colours, texture_weight, rows, cols,
                    shift_cost, match_brightness, check_source, best, best_shift):
    """The distance of every target patch to the candidate centred at (rows, cols) into best / best_shift;
    inf where the candidate may not be copied (when ``check_source``)."""
    for n in prange(len(target_index)):
        if check_source and not source[rows[n], cols[n]]:
            best[n] = INFINITE
            for c in range(colours):
                best_shift[n, c] = 0.0
            continue
        centre = (rows[n] + radius) * padded_width + cols[n] + radius
        best[n], shift0, shift1, shift2 = _distance(flat, trust, padded_width, radius, colours, texture_weight,
                                                    target_index[n], centre, shift_cost, match_brightness,
                                                    NO_BOUND)
        _keep_shift(best_shift, n, shift0, shift1, shift2)


@njit(cache=True, inline="always")
def _consider(n, cand_row, cand_col, flat, trust, target_index, source, padded_width, radius, colours,
              texture_weight, shift_cost, match_brightness, best_rows, best_cols, best, best_shift):
    height, width = source.shape
    cand_row = min(max(cand_row, 0), height - 1)
    cand_col = min(max(cand_col, 0), width - 1)
    # Only candidates that may be copied and differ from the current match cost a distance.
    if not source[cand_row, cand_col] or (cand_row == best_rows[n] and cand_col == best_cols[n]):
        return
    centre = (cand_row + radius) * padded_width + cand_col + radius
    d, shift0, shift1, shift2 = _distance(flat, trust, padded_width, radius, colours, texture_weight,
                                          target_index[n], centre, shift_cost, match_brightness,
                                          min(best[n], NO_BOUND))
    if d < best[n]:
        best[n] = d
        best_rows[n] = cand_row
        best_cols[n] = cand_col
        _keep_shift(best_shift, n, shift0, shift1, shift2)


@njit(cache=True, parallel=True)
def propagate(field, rows, cols, dr, dc, flat, trust, target_index, source, padded_width, radius, colours,
              texture_weight, shift_cost, match_brightness, best_rows, best_cols, best, best_shift):
    """Every target tries its neighbour's match (``dr``, ``dc`` away), shifted back by the same step."""
    height, width = source.shape
    for n in prange(len(rows)):
        field[rows[n], cols[n], 0] = best_rows[n]
        field[rows[n], cols[n], 1] = best_cols[n]
    for n in prange(len(rows)):
        nr = min(max(rows[n] + dr, 0), height - 1)
        nc = min(max(cols[n] + dc, 0), width - 1)
        _consider(n, field[nr, nc, 0] - (nr - rows[n]), field[nr, nc, 1] - (nc - cols[n]), flat, trust,
                  target_index, source, padded_width, radius, colours, texture_weight, shift_cost,
                  match_brightness, best_rows, best_cols, best, best_shift)


@njit(cache=True, parallel=True)
def random_search(jump_rows, jump_cols, flat, trust, target_index, source, padded_width, radius, colours,
                  texture_weight, shift_cost, match_brightness, best_rows, best_cols, best, best_shift):
    """Every target tries its best match moved by its own random jump."""
    for n in prange(len(target_index)):
        _consider(n, best_rows[n] + jump_rows[n], best_cols[n] + jump_cols[n], flat, trust,
                  target_index, source, padded_width, radius, colours, texture_weight, shift_cost,
                  match_brightness, best_rows, best_cols, best, best_shift)


@njit(cache=True, parallel=True)
def carry_field(coarse, top, bottom, left, right, field):
    """Into ``field`` over rows ``top:bottom`` and columns ``left:right``: the match of the ``coarse``
    level's field (one level up) at each pixel's parent, doubled, the pixel's own offset inside its
    parent kept, clipped to ``field``'s level. (Written into place: the finest level's box spans a whole
    window, where numpy's temporaries took a tenth of a fill.)"""
    height, width = field.shape[:2]
    coarse_height, coarse_width = coarse.shape[:2]
    for r in prange(top, bottom):
        parent_row = min(r // 2, coarse_height - 1)
        for c in range(left, right):
            parent_col = min(c // 2, coarse_width - 1)
            field[r, c, 0] = min(max(2 * coarse[parent_row, parent_col, 0] + r % 2, 0), height - 1)
            field[r, c, 1] = min(max(2 * coarse[parent_row, parent_col, 1] + c % 2, 0), width - 1)


@njit(cache=True, parallel=True)
def vote_sums(flat, offsets, target_at, pixel_index, source_index, colours, weight, shift, total, weight_sum,
              spread):
    """For every hole pixel, the sum of the weighted copies (colours shifted in brightness, a texture
    channel as it is) that the target patches covering it put there, and the sum of their weights; in
    offset order, pixel by pixel. ``spread`` gets how much the colour copies disagree: their weighted
    standard deviation (mean over channels)."""
    channels = colours
    textured = flat.shape[1] > colours
    for m in prange(len(pixel_index)):
        pixel = pixel_index[m]
        acc0 = np.float32(0.0)
        acc1 = np.float32(0.0)
        acc2 = np.float32(0.0)
        acc_texture = np.float32(0.0)
        squares = 0.0
        weights = np.float32(0.0)
        for o in offsets:
            n = target_at[pixel - o]
            if n < 0:
                continue
            source = source_index[n] + o
            w = weight[n]
            v0 = flat[source, 0] + shift[n, 0]
            acc0 += w * flat[source, 0] + w * shift[n, 0]
            squares += w * v0 * v0
            if channels == 3:
                v1 = flat[source, 1] + shift[n, 1]
                v2 = flat[source, 2] + shift[n, 2]
                acc1 += w * flat[source, 1] + w * shift[n, 1]
                acc2 += w * flat[source, 2] + w * shift[n, 2]
                squares += w * (v1 * v1 + v2 * v2)
            if textured:
                acc_texture += w * flat[source, colours]
            weights += w
        total[m, 0] = acc0
        if channels == 3:
            total[m, 1] = acc1
            total[m, 2] = acc2
        if textured:
            total[m, colours] = acc_texture
        weight_sum[m] = weights
        if weights > 0:
            mean_square = (acc0 * acc0 + acc1 * acc1 + acc2 * acc2) / (weights * weights) / channels
            spread[m] = np.sqrt(max(squares / weights / channels - mean_square, 0.0))
        else:
            spread[m] = 0.0


@njit(cache=True, parallel=True)
def vote_medians(flat, offsets, target_at, pixel_index, source_index, colours, weight, shift, spread, least_spread,
                 result):
    """For every hole pixel whose copies disagree (``spread`` above ``least_spread``), the copy (shifted in
    brightness) at the weighted median of their brightness, into ``result`` (pixels, colours); the
    other pixels are left as they are (their copies agree: median and mean are alike)."""
    for m in prange(len(pixel_index)):
        if spread[m] <= least_spread:
            continue
        pixel = pixel_index[m]
        keys = np.empty(len(offsets), np.float32)
        weights = np.empty(len(offsets), np.float32)
        copies = np.empty(len(offsets), np.int64)
        count = 0
        total = np.float32(0.0)
        for k in range(len(offsets)):
            n = target_at[pixel - offsets[k]]
            if n < 0 or weight[n] <= 0.0:
                continue
            key = np.float32(0.0)
            for c in range(colours):
                key += flat[source_index[n] + offsets[k], c] + shift[n, c]
            # (insertion sort by brightness: a pixel has at most a patch's area of copies)
            j = count
            while j > 0 and keys[j - 1] > key:
                keys[j] = keys[j - 1]
                weights[j] = weights[j - 1]
                copies[j] = copies[j - 1]
                j -= 1
            keys[j] = key
            weights[j] = weight[n]
            copies[j] = k
            total += weight[n]
            count += 1
        half = total * np.float32(0.5)
        running = np.float32(0.0)
        for j in range(count):
            running += weights[j]
            if running >= half:
                o = offsets[copies[j]]
                n = target_at[pixel - o]
                for c in range(colours):
                    result[m, c] = flat[source_index[n] + o, c] + shift[n, c]
                break


@njit(cache=True, parallel=True)
def brightness_steps(image, known, steps):
    """Into ``steps`` (H, W): the mean absolute step in brightness (the channels' mean) from each pixel
    to the next one across and to the next one down, over those pairs with both pixels known; 0 where
    there is no such pair."""
    height, width, channels = image.shape
    scale = np.float32(1.0 / channels)
    for y in prange(height):
        for x in range(width):
            total = np.float32(0.0)
            pairs = 0
            if known[y, x]:
                here = np.float32(0.0)
                for c in range(channels):
                    here += image[y, x, c]
                if x + 1 < width and known[y, x + 1]:
                    there = np.float32(0.0)
                    for c in range(channels):
                        there += image[y, x + 1, c]
                    total += abs(there - here)
                    pairs += 1
                if y + 1 < height and known[y + 1, x]:
                    there = np.float32(0.0)
                    for c in range(channels):
                        there += image[y + 1, x, c]
                    total += abs(there - here)
                    pairs += 1
            steps[y, x] = total * scale / pairs if pairs else np.float32(0.0)
