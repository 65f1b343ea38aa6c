"""Small drawings, tiny networks and settings shared by the tests."""

from dataclasses import replace
from pathlib import Path

import numpy as np

from decensor.design import NetworkConfig

SHIPPED_MODELS = Path(__file__).resolve().parent.parent / "models"
# Tiny networks of the shipped designs keep the tests fast; the pipelines do not care about size.
TINY = NetworkConfig(widths=(8, 8, 12), kernels=(3, 3, 3), extra_deep_convs=1, name="tiny")
TINY_MOSAIC = replace(TINY, guess_kind="mosaic", guess_channels=7, name="mosaic")


def save_tiny(config, name, folder, correction_scale, seed=3):
    """Save a random tiny network as model ``name`` in ``folder``; its last layer is random times
    ``correction_scale`` (0 keeps the zero correction it is built with)."""
    import keras

    from decensor.modelfile import save_weights
    from decensor.network import build_network

    keras.utils.set_random_seed(seed)
    model = build_network(config)
    to_image = model.get_layer("to_image")
    to_image.kernel.assign(np.random.default_rng(seed).normal(0, 1.0, to_image.kernel.shape) * correction_scale)
    save_weights(model, config, name, folder, {"training": {"steps": 0}})
    return folder


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


def smooth_shading(seed=0, side=384):
    """Soft painted shading with no texture at all (a sky, a skin tone): heavy JPEG flattens its 8 px blocks."""
    from scipy import ndimage

    shading = ndimage.gaussian_filter(np.random.default_rng(seed).normal(0, 1, (side, side)), 20)
    grey = 120 + 40 * shading / shading.std()
    return np.clip(np.stack([grey, grey * 0.9, grey * 0.8], -1), 0, 255).astype(np.uint8)


def paint_green(image, box):
    top, left, bottom, right = box
    painted = image.copy()
    painted[top:bottom, left:right] = (0, 255, 0)
    return painted


def interrupt_after(command, out, pages, env=None, timeout=120):
    """Run ``command``, send Ctrl-C once ``pages`` outputs (page_*.png) exist in ``out``: (exit code, stderr)."""
    import signal
    import subprocess

    # A shell starts background jobs with Ctrl-C ignored, and the child would inherit that:
    # give it the default disposition, as a terminal's foreground command has.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for_outputs(out, pages, timeout)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, stderr


def wait_for_outputs(out, pages, timeout=120):
    """Wait until ``out`` holds ``pages`` finished page_*.png outputs (or the timeout passes)."""
    import time

    deadline = time.time() + timeout
    while time.time() < deadline and not (Path(out).exists() and len(list(Path(out).glob("page_*.png"))) >= pages):
        time.sleep(0.02)
