"""Procedural manga pages, and turning colour art into manga-style tone.

Clip art alone teaches flat fills. These pages bring what manga has and clip
art lacks: ink lines of varying weight, panel borders, screentones of several
dot sizes and angles, hatching, speed lines, lettering, gradients.
Everything is drawn from a seeded generator, so a page is reproducible.
"""

import glob
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

_FONT_PATTERNS = (
    "/usr/share/fonts/truetype/*/*.ttf",
    "/usr/share/fonts/opentype/*/*.otf",
    "/usr/share/fonts/opentype/*/*.ttc",
    "/usr/share/fonts/truetype/*/*.ttc",
)
_fonts = None


def _font_files():
    global _fonts
    if _fonts is None:
        _fonts = sorted({f for pattern in _FONT_PATTERNS for f in glob.glob(pattern)})
    return _fonts


def screentone(shape, period, angle, level, rng=None, kind="dots"):
    """A tone pattern in 0..1 (1 = white paper) with ink coverage ~ ``level``.

    ``level`` may be a scalar or an array of ``shape`` (a tone gradient).
    Dots are round, on a lattice rotated by ``angle`` degrees; ``kind`` can
    also be "lines" (parallel lines whose width follows the level).
    """
    height, width = shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    theta = math.radians(angle)
    u = (cols * math.cos(theta) + rows * math.sin(theta)) / period
    v = (-cols * math.sin(theta) + rows * math.cos(theta)) / period
    level = np.clip(np.asarray(level, dtype=np.float32), 0.0, 1.0)
    if kind == "lines":
        distance = np.abs(v - np.round(v)) * period
        half_width = level * period / 2
        ink = np.clip(half_width - distance + 0.5, 0.0, 1.0)
    else:
        distance = np.hypot(u - np.round(u), v - np.round(v)) * period
        radius = np.sqrt(level / math.pi) * period
        ink = np.clip(radius - distance + 0.5, 0.0, 1.0)
    return 1.0 - ink


def _random_curve(rng, box, points=4):
    """A smooth ink stroke: random control points rounded by Chaikin corner cutting."""
    top, left, bottom, right = box
    path = np.stack([rng.uniform(left, right, points), rng.uniform(top, bottom, points)], axis=1)
    for _ in range(4):
        q = 0.75 * path[:-1] + 0.25 * path[1:]
        r = 0.25 * path[:-1] + 0.75 * path[1:]
        path = np.empty((len(q) * 2, 2))
        path[0::2], path[1::2] = q, r
    return [tuple(p) for p in path]


def _fill_panel_background(canvas, box, rng):
    top, left, bottom, right = box
    h, w = bottom - top, right - left
    choice = rng.random()
    region = canvas[top:bottom, left:right]
    if choice < 0.25:
        region[:] = 1.0
    elif choice < 0.45:
        level = rng.uniform(0.1, 0.6)
        region[:] = screentone((h, w), rng.uniform(3, 10), rng.choice([0, 15, 30, 45, 60, 75]), level)
    elif choice < 0.6:
        ramp = np.linspace(rng.uniform(0, 0.4), rng.uniform(0.5, 1.0), h if rng.random() < 0.5 else w)
        level = ramp[:, None] * np.ones((1, w)) if len(ramp) == h else np.ones((h, 1)) * ramp[None, :]
        region[:] = screentone((h, w), rng.uniform(3, 9), rng.choice([30, 45, 60]), 1 - level)
    elif choice < 0.72:
        ramp = np.linspace(rng.uniform(0.2, 0.9), rng.uniform(0.2, 1.0), h)
        region[:] = ramp[:, None]
    elif choice < 0.85:
        region[:] = screentone((h, w), rng.uniform(4, 10), rng.uniform(0, 180), rng.uniform(0.1, 0.5), kind="lines")
    else:
        region[:] = rng.uniform(0.75, 1.0)


def _speed_lines(draw, box, rng):
    top, left, bottom, right = box
    cy, cx = rng.uniform(top, bottom), rng.uniform(left, right)
    radius = max(bottom - top, right - left)
    for _ in range(rng.integers(30, 90)):
        angle = rng.uniform(0, 2 * math.pi)
        inner = rng.uniform(0.25, 0.6) * radius
        draw.line(
            [(cx + math.cos(angle) * inner, cy + math.sin(angle) * inner),
             (cx + math.cos(angle) * radius, cy + math.sin(angle) * radius)],
            fill=0, width=int(rng.integers(1, 3)),
        )


def _hatching(draw, box, rng):
    top, left, bottom, right = box
    spacing = rng.uniform(3, 8)
    angle = rng.uniform(0, math.pi)
    dx, dy = math.cos(angle), math.sin(angle)
    size = (bottom - top) + (right - left)
    cy, cx = (top + bottom) / 2, (left + right) / 2
    offset = -size
    while offset < size:
        px, py = cx - dy * offset, cy + dx * offset
        draw.line([(px - dx * size, py - dy * size), (px + dx * size, py + dy * size)], fill=0, width=1)
        offset += spacing


def _shape(canvas, draw_layer, box, rng):
    """A closed shape: outline in ink, inside white, flat grey or tone."""
    top, left, bottom, right = box
    h, w = bottom - top, right - left
    sy, sx = rng.uniform(0.15, 0.6) * h, rng.uniform(0.15, 0.6) * w
    y0, x0 = rng.uniform(top, bottom - sy), rng.uniform(left, right - sx)
    inside = Image.new("L", (canvas.shape[1], canvas.shape[0]), 0)
    shape_draw = ImageDraw.Draw(inside)
    if rng.random() < 0.5:
        shape_draw.ellipse([x0, y0, x0 + sx, y0 + sy], fill=255)
    else:
        n = int(rng.integers(3, 8))
        angles = np.sort(rng.uniform(0, 2 * math.pi, n))
        points = [(x0 + sx / 2 + math.cos(a) * sx / 2, y0 + sy / 2 + math.sin(a) * sy / 2) for a in angles]
        shape_draw.polygon(points, fill=255)
    inside_mask = np.asarray(inside) > 127
    fill_kind = rng.random()
    if fill_kind < 0.35:
        canvas[inside_mask] = 1.0
    elif fill_kind < 0.6:
        canvas[inside_mask] = rng.uniform(0.0, 0.9)
    else:
        tone = screentone(canvas.shape, rng.uniform(3, 9), rng.choice([15, 30, 45, 60]), rng.uniform(0.15, 0.7))
        canvas[inside_mask] = tone[inside_mask]
    edge = np.asarray(inside.filter(ImageFilter.FIND_EDGES)) > 0
    width = int(rng.integers(1, 4))
    if width > 1:
        edge = np.asarray(Image.fromarray(edge.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(2 * (width // 2) + 1))) > 0
    canvas[edge] = 0.0


def _lettering(draw, box, rng):
    fonts = _font_files()
    if not fonts:
        return
    top, left, bottom, right = box
    size = int(rng.integers(10, 28))
    try:
        font = ImageFont.truetype(str(rng.choice(fonts)), size)
    except OSError:
        return
    bw, bh = rng.uniform(60, 160), rng.uniform(40, 110)
    x0, y0 = rng.uniform(left, max(left + 1, right - bw)), rng.uniform(top, max(top + 1, bottom - bh))
    draw.ellipse([x0, y0, x0 + bw, y0 + bh], fill=255, outline=0, width=2)
    letters = "ABCDEFGHIJKLMNOPRSTUWY!?"
    for line in range(int(rng.integers(1, 4))):
        text = "".join(rng.choice(list(letters), int(rng.integers(3, 9))))
        draw.text((x0 + bw * 0.15, y0 + bh * 0.2 + line * size * 1.1), text, fill=0, font=font)


def manga_page(size=(512, 512), seed=0):
    """A grayscale (H, W) uint8 manga-like page."""
    rng = np.random.default_rng(seed)
    height, width = size
    canvas = np.ones((height, width), dtype=np.float32)
    # Panel layout: split the page recursively, leave gutters.
    panels = [(0, 0, height, width)]
    for _ in range(int(rng.integers(1, 5))):
        top, left, bottom, right = panels.pop(int(rng.integers(len(panels))))
        if (bottom - top) > (right - left) and bottom - top > 120:
            cut = int(rng.uniform(top + 50, bottom - 50))
            panels += [(top, left, cut, right), (cut, left, bottom, right)]
        elif right - left > 120:
            cut = int(rng.uniform(left + 50, right - 50))
            panels += [(top, left, bottom, cut), (top, cut, bottom, right)]
        else:
            panels.append((top, left, bottom, right))
    gutter = int(rng.integers(4, 14))
    panels = [(t + gutter, l + gutter, b - gutter, r - gutter) for t, l, b, r in panels]
    panels = [p for p in panels if p[2] - p[0] > 30 and p[3] - p[1] > 30]
    for box in panels:
        _fill_panel_background(canvas, box, rng)
        for _ in range(int(rng.integers(1, 5))):
            _shape(canvas, None, box, rng)
    image = Image.fromarray(np.round(canvas * 255).astype(np.uint8), "L")
    draw = ImageDraw.Draw(image)
    for box in panels:
        top, left, bottom, right = box
        if rng.random() < 0.25:
            _speed_lines(draw, box, rng)
        if rng.random() < 0.25:
            sub = (top + (bottom - top) // 3, left, bottom, left + (right - left) // 2)
            _hatching(draw, sub, rng)
        for _ in range(int(rng.integers(2, 9))):
            path = _random_curve(rng, box, int(rng.integers(3, 6)))
            draw.line(path, fill=int(rng.choice([0, 0, 0, 40, 255])), width=int(rng.integers(1, 5)), joint="curve")
        if rng.random() < 0.5:
            _lettering(draw, box, rng)
        draw.rectangle([left, top, right, bottom], outline=0, width=int(rng.integers(1, 4)))
    # Keep everything inside its panel, gutters white.
    pixels = np.asarray(image).copy()
    inside = np.zeros_like(pixels, dtype=bool)
    for top, left, bottom, right in panels:
        inside[max(0, top - 3) : bottom + 4, max(0, left - 3) : right + 4] = True
    pixels[~inside] = 255
    if rng.random() < 0.5:
        pixels = np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.7))))
    return pixels


def to_manga_style(rgb, rng):
    """Colour art -> grayscale, with mid tones replaced by screentone half the time."""
    gray = (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114) / 255.0
    if rng.random() < 0.5:
        return np.round(gray * 255).astype(np.uint8)
    period = rng.uniform(3, 8)
    angle = rng.choice([15, 30, 45, 60, 75])
    tone = screentone(gray.shape, period, angle, 1.0 - gray)
    levels = np.round(gray * 4) / 4
    mid = (gray > 0.15) & (gray < 0.9)
    out = np.where(mid, tone, np.where(gray <= 0.15, 0.0, levels))
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)
