"""Mosaic auto-detection: pixel precision and recall on synthetic mosaics, false alarms on clean pages.

Pages: procedural manga pages and Debian images of the chosen split, each
with one or two mosaic regions (block size 4-32 px, random grid offset,
random rectangle or blob), saved as PNG and as JPEG (quality 75-95); a JPEG
page is searched as the command line searches a JPEG file (``jpeg=True``).
The clean pages must yield no region at all, as PNG, as JPEG (quality
60-95) and as a JPEG enlarged afterwards (see ``clean_variants``). The truth is the blocks
the mosaic changed visibly (by VISIBLE_RMS grey levels or more). A block
inside the mosaic that was one flat colour, or nearly, hides nothing and is
(almost) the same pixels with or without the mosaic: it is left out of the
score both ways (finding it is no hit, and no false alarm). The table also
gives the numbers with every changed block as truth.

    python benchmarks/mosaic_detection.py [--split held-out|train|independent] [--pages 200]
Tune on --split train; report on held-out (writes the "mosaic detection" section).
"""

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.results import write_section  # noqa: E402
from decensor.mosaic import Grid, block_means, estimate_grid, find_mosaic, pixelate  # noqa: E402
from decensor.training import sources  # noqa: E402
from decensor.training.dataset import random_crop  # noqa: E402
from decensor.training.holes import hole_mask  # noqa: E402
from decensor.training.procedural import manga_page  # noqa: E402


def pages(split, count, seed):
    """(page, rng) for the split: "held-out" and "train" are half procedural, half Debian images;
    "independent" is the independent real-art set only (painted and drawn art no rule was tuned on)."""
    rng = np.random.default_rng(seed)
    if split == "independent":
        real = sources.independent_images()
        for _ in range(count):
            with Image.open(real[int(rng.integers(len(real)))]) as opened:
                yield random_crop(np.asarray(opened.convert("RGB")), 384, rng), rng
        return
    train, held = sources.image_lists()
    real = held if split == "held-out" else train
    # Each page set draws its own procedural pages (set 5, the first, keeps its old ones).
    seed_base = (70_000 if split == "held-out" else 2_000_000) + (seed - 5) * 1_000
    for index in range(count):
        if index % 2 == 0 or not real:
            page = np.repeat(manga_page((512, 512), seed=seed_base + index)[..., None], 3, -1)
        else:
            with Image.open(real[int(rng.integers(len(real)))]) as opened:
                page = random_crop(np.asarray(opened.convert("RGB")), 384, rng)
        yield page, rng


VISIBLE_RMS = 2.0  # grey levels: a block changed less than this shows no mosaic


def mosaic_page(page, rng):
    """The page with one or two mosaics, its grids, and what counts as truth.

    Returns (mosaicked, grids, scoring); scoring maps a truth definition
    ("visible", "any change") to (truth mask, unscored mask).
    """
    height, width = page.shape[:2]
    painted = np.zeros((height, width), bool)
    any_change = np.zeros((height, width), bool)
    visible = np.zeros((height, width), bool)
    mosaicked = page
    grids = []
    for _ in range(int(rng.integers(1, 3))):
        size = int(rng.integers(4, 33))
        grid = Grid(size, int(rng.integers(size)), int(rng.integers(size)))
        if rng.random() < 0.5:
            h, w = int(rng.integers(4 * size, max(4 * size + 1, height // 2))), int(rng.integers(4 * size, max(4 * size + 1, width // 2)))
            top, left = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
            region = np.zeros((height, width), bool)
            region[top : top + h, left : left + w] = True
        else:
            region = hole_mask((height, width), rng, "blobs", (0.05, 0.2))
        # Keep the mosaics apart: pixelate takes every block the region
        # touches, and a later mosaic must not paint over an earlier one.
        region &= ~ndimage.binary_dilation(painted, iterations=2 * size)
        before = mosaicked
        mosaicked, mask = pixelate(mosaicked, grid, region)
        painted |= mask
        any_change |= mask & _changed_blocks(before, mosaicked, grid, 0.0)
        visible |= mask & _changed_blocks(before, mosaicked, grid, VISIBLE_RMS)
        grids.append(grid)
    scoring = {
        "visible": (visible, painted & ~visible),
        "any change": (any_change, painted & ~any_change),
    }
    return mosaicked, grids, scoring


def _changed_blocks(before, after, grid, min_rms):
    """Pixels of blocks the mosaic changed by more than ``min_rms`` grey levels
    (root mean square over the block). A block that was one flat colour, or
    nearly, hides nothing and cannot be told from its surroundings."""
    difference = (before.astype(np.float32) - after) ** 2
    mean_squares, (top, left) = block_means(difference, grid)
    blocks = np.sqrt(mean_squares.mean(axis=-1)) > min_rms
    rows, cols = blocks.shape
    size = grid.size
    out = np.zeros(difference.shape[:2], bool)
    out[top : top + rows * size, left : left + cols * size] = np.kron(blocks, np.ones((size, size), bool))
    return out


def jpeg(pixels, quality):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def clean_variants(page, index):
    """The clean page as users save it: as is (PNG), as a JPEG file, and as a JPEG enlarged afterwards
    (a web image scaled up by 9/8 to 12/8 and saved losslessly, whose 8 px blocks become 9-12 px ones).
    Qualities 60-95 and scales follow the page's index, so the pages' random draws stay as they were."""
    quality = 60 + (index * 13) % 36
    scale = (9, 10, 11, 12)[index % 4] / 8
    small = jpeg(page, quality)
    height, width = page.shape[:2]
    big = Image.fromarray(small).resize((round(width * scale), round(height * scale)), Image.BICUBIC)
    return {"png": (page, False), "jpeg": (small, True),
            "enlarged jpeg": (np.asarray(big)[:height, :width], False)}


def look_alike_pages():
    """Clean pages that look like mosaics to a naive rule: checkerboards, pixel art, tiled patterns."""
    yy, xx = np.mgrid[:384, :384]
    out = []
    for size in (4, 8, 12, 24):
        board = (((yy // size) + (xx // size)) % 2 * 200 + 30).astype(np.uint8)
        out.append(np.repeat(board[..., None], 3, -1))
    rng = np.random.default_rng(3)
    for scale in (4, 6, 8):  # pixel art: a small drawing, each pixel a square
        small = rng.integers(0, 6, (384 // scale + 1, 384 // scale + 1))
        palette = rng.integers(0, 256, (6, 3)).astype(np.uint8)
        out.append(np.kron(palette[small], np.ones((scale, scale, 1), np.uint8))[:384, :384].astype(np.uint8))
    tile = np.zeros((16, 16, 3), np.uint8) + 240
    tile[4:12, 4:12] = (200, 60, 60)
    tile[7:9, :] = 20
    out.append(np.tile(tile, (24, 24, 1)))  # a tiled pattern
    return out


def run(split, count, seeds=(5,)):
    # (definition, input) -> [true positive, found, truth pixels]
    totals = {(d, k): [0, 0, 0] for d in ("visible", "any change") for k in ("png", "jpeg")}
    grid_hits = {"png": [0, 0], "jpeg": [0, 0]}
    false_alarms = {kind: [0, 0] for kind in ("png", "jpeg", "enlarged jpeg")}  # kind -> [firing, pages]

    def try_clean(kind, pixels, is_jpeg):
        false_alarms[kind][0] += bool(find_mosaic(pixels, jpeg=is_jpeg)[1])
        false_alarms[kind][1] += 1

    started = time.perf_counter()
    for index, (page, rng) in enumerate(item for seed in seeds for item in pages(split, count, seed)):
        for kind, (pixels, is_jpeg) in clean_variants(page, index).items():
            try_clean(kind, pixels, is_jpeg)
        mosaicked, grids, scoring = mosaic_page(page, rng)
        for kind, pixels in (("png", mosaicked), ("jpeg", jpeg(mosaicked, int(rng.integers(75, 96))))):
            found, _ = find_mosaic(pixels, jpeg=kind == "jpeg")  # (as the command line: it knows a JPEG file)
            for definition, (truth, unscored) in scoring.items():
                scored = found & ~unscored
                total = totals[definition, kind]
                total[0] += int((scored & truth).sum())
                total[1] += int(scored.sum())
                total[2] += int(truth.sum())
            if len(grids) == 1:
                marked = scoring["any change"][0]
                grid_hits[kind][0] += estimate_grid(pixels, marked) == grids[0]
                grid_hits[kind][1] += 1
    seconds = (time.perf_counter() - started) / (count * len(seeds) * 5)  # (3 clean variants, 2 mosaicked)
    if split == "independent":
        for page in look_alike_pages():
            try_clean("png", page, False)
            try_clean("jpeg", jpeg(page, 85), True)
    return totals, grid_hits, false_alarms, seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=["held-out", "train", "independent"], default="held-out")
    parser.add_argument("--pages", type=int, default=200, help="pages per set")
    # One set of 200 pages still swung JPEG recall by about 1 % with a single
    # page (held-out sets 5 and 6: 0.951 and 0.926 with the same code).
    parser.add_argument("--sets", type=int, default=2, help="page sets, each with its own seed")
    args = parser.parse_args()
    seeds = tuple(range(5, 5 + args.sets))
    totals, grid_hits, false_alarms, seconds = run(args.split, args.pages, seeds)
    independent = args.split == "independent"
    what = ("crops of 384 px of the independent real-art set (flare-game, hedgewars-data: no rule was tuned on "
            "them), and 16 clean look-alike pages (checkerboards, pixel art, a tiled pattern, each as PNG and JPEG)"
            if independent else "half procedural manga, half Debian images")
    lines = [
        f"## Mosaic detection{', independent real art' if independent else ''} "
        f"(`python benchmarks/mosaic_detection.py{' --split independent' if independent else ''}`)",
        "",
        f"{args.pages * args.sets} {args.split} pages ({args.sets} sets of {args.pages}; {what}), one or two mosaics "
        f"each (blocks 4-32 px, random offsets, rectangles and blobs). Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "Truth is the mosaic's blocks that changed visibly (root-mean-square change of at least "
        f"{VISIBLE_RMS:g} grey levels); blocks it changed less are scored neither way. The last columns count "
        "every changed block as truth, however faint.",
        "",
        "| input | precision | recall | grid (size+offset) right, marked region given | precision, any change | recall, any change |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind in ("png", "jpeg"):
        hits, tries = grid_hits[kind]
        cells = []
        for definition in ("visible", "any change"):
            hit, found, truth = totals[definition, kind]
            cells.append((hit / max(found, 1), hit / max(truth, 1)))
        (precision, recall), (precision_any, recall_any) = cells
        lines.append(f"| {kind} | {precision:.3f} | {recall:.3f} | {hits}/{tries} | {precision_any:.3f} | {recall_any:.3f} |")
    (png, pages_png), (jpg, pages_jpg), (big, pages_big) = (false_alarms[kind] for kind in ("png", "jpeg", "enlarged jpeg"))
    lines += ["", f"Clean pages with a false detection: {png} of {pages_png} as PNG, {jpg} of {pages_jpg} as JPEG "
              f"(quality 60-95), {big} of {pages_big} as a JPEG enlarged by 9/8 to 12/8 and saved as PNG"
              f"{' (look-alikes included)' if independent else ''}. "
              f"Time per page: {seconds:.2f} s. Targets: precision and recall >= 0.95, no false detection."]
    body = "\n".join(lines)
    print(body)
    if args.split == "held-out":
        write_section("mosaic detection", body)
    elif independent:
        write_section("mosaic detection, independent", body)


if __name__ == "__main__":
    main()
