"""Training masks: what users paint over drawings.

Three families, as the quality benchmark groups them: censor bars (straight
and rotated rectangles of many thicknesses), free-form brush strokes, and
blobs. Each mask is drawn until its hole ratio reaches a target drawn from
the requested range (up to ~40 %).
"""

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

FAMILIES = ("bars", "strokes", "blobs")


def _bar(draw, size, rng):
    height, width = size
    thickness = rng.uniform(0.03, 0.18) * min(size)
    length = rng.uniform(0.15, 0.7) * max(size)
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    angle = 0.0 if rng.random() < 0.4 else rng.uniform(0, math.pi)
    dx, dy = math.cos(angle), math.sin(angle)
    nx, ny = -dy, dx
    corners = [
        (cx + sx * dx * length / 2 + sy * nx * thickness / 2, cy + sx * dy * length / 2 + sy * ny * thickness / 2)
        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]
    draw.polygon(corners, fill=255)


def _stroke(draw, size, rng):
    height, width = size
    x, y = rng.uniform(0, width), rng.uniform(0, height)
    brush = int(rng.uniform(0.02, 0.08) * min(size)) + 2
    angle = rng.uniform(0, 2 * math.pi)
    points = [(x, y)]
    for _ in range(int(rng.integers(3, 10))):
        angle += rng.uniform(-1.2, 1.2)
        step = rng.uniform(0.05, 0.25) * min(size)
        x = float(np.clip(x + math.cos(angle) * step, 0, width))
        y = float(np.clip(y + math.sin(angle) * step, 0, height))
        points.append((x, y))
    draw.line(points, fill=255, width=brush, joint="curve")
    for px, py in points:
        draw.ellipse([px - brush / 2, py - brush / 2, px + brush / 2, py + brush / 2], fill=255)


def _blob(draw, size, rng):
    height, width = size
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    radius = rng.uniform(0.05, 0.25) * min(size)
    count = int(rng.integers(8, 16))
    angles = np.sort(rng.uniform(0, 2 * math.pi, count))
    radii = radius * rng.uniform(0.6, 1.3, count)
    draw.polygon([(cx + math.cos(a) * r, cy + math.sin(a) * r) for a, r in zip(angles, radii)], fill=255)


_DRAWERS = {"bars": _bar, "strokes": _stroke, "blobs": _blob}


def hole_mask(size, rng, family=None, ratio=(0.02, 0.4)):
    """Boolean (H, W) mask, True = hole, of one family with a hole ratio in ``ratio``."""
    family = family or FAMILIES[int(rng.integers(len(FAMILIES)))]
    target = rng.uniform(*ratio)
    height, width = size
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    hole = np.zeros(size, dtype=bool)
    for _ in range(64):
        _DRAWERS[family](draw, size, rng)
        hole = np.asarray(canvas) > 127
        if hole.mean() >= target:
            break
    if family == "blobs" and rng.random() < 0.5:
        smooth = canvas.filter(ImageFilter.GaussianBlur(min(size) * 0.02))
        hole = np.asarray(smooth) > 127
    if hole.mean() > ratio[1] + 0.05:
        # Overshoot: peel the last pixels off by eroding until inside the range.
        image = Image.fromarray(hole.astype(np.uint8) * 255)
        while np.asarray(image).mean() / 255 > ratio[1] + 0.05:
            image = image.filter(ImageFilter.MinFilter(3))
        hole = np.asarray(image) > 127
    if not hole.any():
        hole[height // 2 - 2 : height // 2 + 2, width // 2 - 2 : width // 2 + 2] = True
    return hole
