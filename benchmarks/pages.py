"""Test pages drawn by our own generator: the README samples and the benchmark page.

    python benchmarks/pages.py samples      # rewrite decensor_input/ samples
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from decensor.training.procedural import manga_page  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def tiled_page(height, width, seed):
    """A large page assembled from procedural 512 px panels (the generator draws small pages)."""
    page = np.full((height, width), 255, np.uint8)
    tile = 512
    index = 0
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            part = manga_page((tile, tile), seed=seed + index)
            index += 1
            h, w = min(tile, height - top), min(tile, width - left)
            page[top : top + h, left : left + w] = part[:h, :w]
    return page


def paint_bars(rgb, bars, soft_edges=True):
    """Paint green bars (x0, y0, x1, y1, angle degrees) with anti-aliased edges like a brush tool."""
    height, width = rgb.shape[:2]
    scale = 4 if soft_edges else 1
    canvas = Image.new("L", (width * scale, height * scale), 0)
    draw = ImageDraw.Draw(canvas)
    for x0, y0, x1, y1, angle in bars:
        cx, cy = (x0 + x1) / 2 * scale, (y0 + y1) / 2 * scale
        hw, hh = (x1 - x0) / 2 * scale, (y1 - y0) / 2 * scale
        theta = np.radians(angle)
        c, s = np.cos(theta), np.sin(theta)
        corners = [(cx + dx * c - dy * s, cy + dx * s + dy * c) for dx, dy in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh))]
        draw.polygon(corners, fill=255)
    coverage = np.asarray(canvas.resize((width, height), Image.BOX), np.float32)[..., None] / 255
    green = np.array([0, 255, 0], np.float32)
    return np.round(rgb * (1 - coverage) + green * coverage).astype(np.uint8)


def benchmark_page(marked_fraction=0.05, regions=4, seed=500):
    """The speed benchmark's 1654x2339 grayscale page with ``regions`` square marks."""
    gray = tiled_page(2339, 1654, seed)
    return square_marks(np.repeat(gray[..., None], 3, axis=-1), marked_fraction, regions, seed)


def art_page(height=2339, width=1654, gray=False, seed=0):
    """A page of real art: the independent set's images (never trained or tuned on) laid out in panels.

    Each panel is one image, scaled to cover its cell and cropped; panels are
    separated by white gutters, as on a comic page. ``gray`` gives the same
    page in grey, stored as RGB.
    """
    from decensor.training.sources import independent_images

    paths = independent_images()
    if not paths:
        raise SystemExit("the independent real-art set is missing: run `decensor data fetch --independent`")
    rng = np.random.default_rng(seed)
    picked = [paths[i] for i in rng.permutation(len(paths))]
    page = np.full((height, width, 3), 255, np.uint8)
    rows, cols, gutter = 4, 3, 16
    cell_h, cell_w = (height - gutter) // rows, (width - gutter) // cols
    for index in range(rows * cols):
        top, left = gutter + (index // cols) * cell_h, gutter + (index % cols) * cell_w
        with Image.open(picked[index % len(picked)]) as opened:
            art = opened.convert("RGB")
        scale = max((cell_h - gutter) / art.height, (cell_w - gutter) / art.width)
        art = art.resize((max(1, round(art.width * scale)), max(1, round(art.height * scale))), Image.LANCZOS)
        crop = np.asarray(art)[: cell_h - gutter, : cell_w - gutter]
        page[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
    if gray:
        page = np.repeat(np.asarray(Image.fromarray(page).convert("L"))[..., None], 3, axis=-1)
    return page


def square_marks(page, marked_fraction, regions=4, seed=500):
    """``page`` with ``regions`` green squares covering ``marked_fraction`` of it (as benchmark_page marks)."""
    height, width = page.shape[:2]
    side = int(np.sqrt(marked_fraction * height * width / regions))
    rng = np.random.default_rng(seed)
    bars = []
    for index in range(regions):
        top = int((index + 0.5) * height / regions - side / 2)
        left = int(rng.uniform(50, width - side - 50))
        bars.append((left, top, left + side, top + side, 0))
    return paint_bars(page, bars, soft_edges=False)


def make_samples():
    target = ROOT / "decensor_input"
    target.mkdir(exist_ok=True)
    gray = tiled_page(1024, 768, seed=42)[:1000, :720]
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    painted = paint_bars(rgb, [(120, 180, 330, 215, 0), (400, 520, 560, 548, -20), (90, 760, 300, 800, 8)])
    Image.fromarray(painted).save(target / "sample_manga.png", optimize=True)
    # A colour page: the same kind of drawing tinted warm to cool, saved as JPEG.
    colour = tiled_page(512, 640, seed=77)[:480]
    rows = np.linspace(0, 1, colour.shape[0])[:, None, None]
    tint = (1 - rows) * np.array([1.0, 0.85, 0.7]) + rows * np.array([0.7, 0.8, 1.0])
    colour_rgb = np.clip(colour[..., None] * tint, 0, 255).astype(np.uint8)
    painted = paint_bars(colour_rgb, [(200, 150, 420, 190, 0), (80, 330, 260, 360, 30)])
    Image.fromarray(painted).save(target / "sample_colour.jpg", quality=88)
    # A mosaic page: the original (with the mosaic) and a copy with the mosaic painted green.
    from decensor.mosaic import Grid, pixelate

    originals = ROOT / "decensor_input_original"
    originals.mkdir(exist_ok=True)
    page = np.repeat(tiled_page(512, 512, seed=31)[..., None], 3, -1)
    region = np.zeros(page.shape[:2], bool)
    region[150:330, 120:380] = True
    mosaicked, mask = pixelate(page, Grid(12, 6, 0), region)
    Image.fromarray(mosaicked).save(originals / "sample_mosaic.png", optimize=True)
    marked = mosaicked.copy()
    marked[mask] = (0, 255, 0)
    Image.fromarray(marked).save(target / "sample_mosaic.png", optimize=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["samples"]:
        make_samples()
    else:
        print(__doc__)
