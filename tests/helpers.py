"""Small drawings and settings shared by the tests."""

import numpy as np

from decensor.network import NetworkConfig

# A tiny network keeps the tests fast; the engine and CLI do not care about size.
TINY = NetworkConfig(widths=(8, 8, 12), kernels=(3, 3, 3), extra_deep_convs=1, name="tiny")


def drawing(height=96, width=128, seed=0):
    """A small RGB drawing: grey gradient, dark strokes, a tone patch."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    base = 120 + 100 * cols / width
    image = np.repeat(base[..., None], 3, axis=-1)
    image[(rows + 2 * cols) % 23 < 2] = 20
    image[rows % 6 < 2] -= 40
    image += rng.normal(0, 3, image.shape)
    image[..., 0] += 15
    return np.clip(image, 0, 255).astype(np.uint8)


def paint_green(image, box):
    top, left, bottom, right = box
    painted = image.copy()
    painted[top:bottom, left:right] = (0, 255, 0)
    return painted
