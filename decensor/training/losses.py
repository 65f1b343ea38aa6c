"""Training losses, in ``keras.ops`` so they run on any Keras backend.

``y_true`` packs the clean image and the mask (1 = known) as four channels,
for the bar task followed by the first guess (three more); ``y_pred`` is the
network's image. Everything is computed on the composite
(known pixels from the truth, hole pixels from the network), as in the
partial-convolution paper, except the raw hole/valid error terms. The hole
has both L1 and squared error: the quality targets are PSNRs.

No pretrained VGG is available offline, so the texture-keeping terms are
hand-made: image gradients at two scales keep lines sharp, and matching the
local contrast (standard deviation in small windows) inside the hole
punishes the grey smear that plain L1 prefers over screentone.
"""

import numpy as np
from keras import ops

# The floor of the per-image log MSE: 8-bit rounding noise, where the scored
# hole PSNR stops too (58.9 dB).
from ..evaluation import MIN_MSE as ROUNDING_MSE

# What is scored is each crop's hole PSNR, averaged: the per-image log of the squared error.
# Its floor decides how much a crop the synthesis already rebuilds well may weigh: at 8-bit
# rounding noise exact crops vetoed any correction; at 30 dB every crop above it weighs alike.
# "keep" guards the pixels the first guess has right. (L1, then a pixel-mean squared error, in
# front: benchmarks/TUNING.md.)
HOLE_LOG_FLOOR = 1e-3
WEIGHTS = {
    "hole_log": 1.0,
    "hole": 0.0,
    "hole_squared": 0.0,
    "keep": 0.1,
    "valid": 0.0,
    "gradient": 0.0,
    "contrast": 0.0,
    "tv": 0.0,
}


def _split(y_true, y_pred):
    target = y_true[..., :3]
    known = y_true[..., 3:4]
    composite = known * target + (1.0 - known) * y_pred
    return target, known, composite


def _dilate(mask, size=7):
    return ops.max_pool(mask, pool_size=size, strides=1, padding="same")


def _gradients(image):
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    return dy, dx


def gradient_loss(target, composite, weight_map):
    total = 0.0
    for scale in (1, 2):
        if scale > 1:
            target = ops.average_pool(target, 2, 2, padding="valid")
            composite = ops.average_pool(composite, 2, 2, padding="valid")
            weight_map = ops.max_pool(weight_map, 2, 2, padding="valid")
        (ty, tx), (cy, cx) = _gradients(target), _gradients(composite)
        wy = weight_map[:, 1:, :, :]
        wx = weight_map[:, :, 1:, :]
        total = total + ops.mean(ops.abs(ty - cy) * wy) + ops.mean(ops.abs(tx - cx) * wx)
    return total


def local_contrast(image, size=5):
    mean = ops.average_pool(image, size, 1, padding="same")
    mean_square = ops.average_pool(image * image, size, 1, padding="same")
    return ops.sqrt(ops.maximum(mean_square - mean * mean, 0.0) + 1e-6)


def total_variation(composite, weight_map):
    dy, dx = _gradients(composite)
    return ops.mean(ops.abs(dy) * weight_map[:, 1:, :, :]) + ops.mean(ops.abs(dx) * weight_map[:, :, 1:, :])


def _gaussian_blur(image, sigma):
    """A separable Gaussian blur of every channel (scipy's truncation at 4 sigma; zeros past the border)."""
    radius = int(4.0 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype("float32")
    channels = image.shape[-1]
    down = np.tile(taps.reshape(-1, 1, 1, 1), (1, 1, channels, 1))
    along = np.tile(taps.reshape(1, -1, 1, 1), (1, 1, channels, 1))
    image = ops.depthwise_conv(image, ops.convert_to_tensor(down), padding="same")
    return ops.depthwise_conv(image, ops.convert_to_tensor(along), padding="same")


def smoothed(y_true, y_pred, sigma):
    """What the tool writes for ``y_pred``: its change to the guess blurred over the hole.

    The training-side twin of :func:`decensor.correction.smooth_correction`
    (normalised over the hole, so known pixels lend no zeros), so the loss
    scores the correction the tool keeps, not the grain it blurs away.
    """
    if not sigma:
        return y_pred
    hole = 1.0 - y_true[..., 3:4]
    guess = y_true[..., 4:7]
    weight = _gaussian_blur(hole, sigma)
    change = _gaussian_blur((y_pred - guess) * hole, sigma)
    return guess + change / ops.maximum(weight, 1e-3) * hole


def loss_terms(y_true, y_pred, floor=ROUNDING_MSE, smoothing=0.0):
    y_pred = smoothed(y_true, y_pred, smoothing)
    target, known, composite = _split(y_true, y_pred)
    hole = 1.0 - known
    near_hole = _dilate(hole, 3)
    # Per-image log of the hole's mean squared error: the quality targets
    # average PSNR over images, which a pixel-mean loss (ruled by the
    # hardest images) does not; this weighs every image alike.
    per_image = ops.sum(ops.square(y_pred - target) * hole, axis=(1, 2, 3)) / (
        3.0 * ops.sum(hole, axis=(1, 2, 3)) + 1e-6)
    if y_true.shape[-1] >= 7:
        # Hole pixels the first guess already has right (within 8-bit rounding): any change there is loss.
        guess = y_true[..., 4:7]
        right = hole * ops.cast(ops.max(ops.abs(guess - target), axis=-1, keepdims=True) < 1.5 / 255.0, "float32")
        keep = ops.sum(ops.abs(y_pred - guess) * right) / (3.0 * ops.sum(right) + 1e-6)
    else:
        keep = ops.zeros(())
    hole_share = ops.mean(hole) + 1e-6
    return {
        "hole_log": ops.mean(ops.log(per_image + floor)) / ops.log(10.0),
        "keep": keep,
        "hole": ops.mean(ops.abs(y_pred - target) * hole) / hole_share,
        "hole_squared": ops.mean(ops.square(y_pred - target) * hole) / hole_share,
        "valid": ops.mean(ops.abs(y_pred - target) * known),
        "gradient": gradient_loss(target, composite, near_hole),
        "contrast": ops.mean(ops.abs(local_contrast(target) - local_contrast(composite)) * near_hole),
        "tv": total_variation(composite, near_hole),
    }


# The same for mosaics: texture terms invent detail that PSNR punishes (benchmarks/TUNING.md).
MOSAIC_WEIGHTS = {"hole_log": 1.0, "hole": 0.0, "hole_squared": 0.0, "keep": 0.0, "valid": 0.0,
                  "gradient": 0.0, "contrast": 0.0, "tv": 0.0}


def inpainting_loss(y_true, y_pred, weights=None, floor=HOLE_LOG_FLOOR, smoothing=0.0):
    weights = weights or WEIGHTS
    terms = loss_terms(y_true, y_pred, floor, smoothing)
    return sum(weights[name] * value for name, value in terms.items())


# The bar tool smooths the network's correction over the hole (BarTask.correction_smoothing, px).
BAR_SMOOTHING = 2.0


def bar_loss(y_true, y_pred, smoothing=BAR_SMOOTHING):
    """The bar model's loss, on the correction as the tool smooths it (``smoothing`` px; 0: as it is)."""
    return inpainting_loss(y_true, y_pred, smoothing=smoothing)


def mosaic_loss(y_true, y_pred):
    return inpainting_loss(y_true, y_pred, MOSAIC_WEIGHTS, ROUNDING_MSE)
