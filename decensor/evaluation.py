"""Fill-quality metrics (numpy in, numpy out), shared by training and benchmarks.

All images are float arrays in 0..1, (H, W, C); ``hole`` is boolean (H, W).
"""

import numpy as np
from scipy import ndimage


# An 8-bit image is exact to within its quantisation noise, (1/255)^2 / 12:
# below that, errors are rounding, and an uncapped PSNR (100 dB for a copy)
# would let a few trivially flat samples rule a per-sample average.
MIN_MSE = (1.0 / 255.0) ** 2 / 12.0


def hole_psnr(result, truth, hole):
    """PSNR over hole pixels only (the known pixels are copied and would flatter it), capped at 8-bit precision."""
    error = (result[hole] - truth[hole]) ** 2
    mse = float(error.mean()) if error.size else 0.0
    return 10 * np.log10(1.0 / max(mse, MIN_MSE))


def blurred_hole_psnr(result, truth, hole, sigma=1.5):
    """Hole PSNR after a Gaussian blur: fair to screentone that is right but shifted."""
    blur = lambda image: ndimage.gaussian_filter(image, sigma=(sigma, sigma, 0))  # noqa: E731
    return hole_psnr(blur(result), blur(truth), hole)


def hole_l1(result, truth, hole):
    return float(np.abs(result[hole] - truth[hole]).mean()) if hole.any() else 0.0


def ssim(result, truth, sigma=1.5):
    """Mean structural similarity over the whole image (Gaussian windows, per channel)."""
    c1, c2 = 0.01**2, 0.03**2
    blur = lambda image: ndimage.gaussian_filter(image, sigma=(sigma, sigma, 0))  # noqa: E731
    mu_x, mu_y = blur(result), blur(truth)
    var_x = blur(result * result) - mu_x**2
    var_y = blur(truth * truth) - mu_y**2
    cov = blur(result * truth) - mu_x * mu_y
    value = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(value.mean())


def local_contrast(gray, size=5):
    """Standard deviation of ``gray`` (H, W) over every size x size window: how much texture there is."""
    mean = ndimage.uniform_filter(gray, size)
    return np.sqrt(np.maximum(ndimage.uniform_filter(gray * gray, size) - mean * mean, 0.0))


def edge_f1(result_edges, truth_edges, hole, tolerance=1):
    """F1 of the edge pixels inside ``hole``: an edge counts as found within ``tolerance`` px of one.

    A hole without edges in the truth or the fill scores 1 when both are
    without edges (nothing to draw, nothing drawn), else 0.
    """
    reach = np.ones((2 * tolerance + 1,) * 2, bool)
    ours, wanted = result_edges & hole, truth_edges & hole
    if not ours.any() or not wanted.any():
        return float(not ours.any() and not wanted.any())
    precision = (ours & ndimage.binary_dilation(truth_edges, reach)).sum() / ours.sum()
    recall = (wanted & ndimage.binary_dilation(result_edges, reach)).sum() / wanted.sum()
    return float(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))


def all_metrics(result, truth, hole):
    return {
        "hole_psnr": hole_psnr(result, truth, hole),
        "blurred_hole_psnr": blurred_hole_psnr(result, truth, hole),
        "hole_l1": hole_l1(result, truth, hole),
        "ssim": ssim(result, truth),
    }
