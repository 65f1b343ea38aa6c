"""A smooth first guess for the hole, from known pixels only (push-pull interpolation).

The U-Net predicts a correction on top of this guess instead of the whole
fill: colours and gradients that reach in from the rim come for free, and
training spends its steps on lines and texture. Known pixels are averaged
down a pyramid (each level only from valid pixels), then the coarse levels are
upsampled back and used where the finer level had nothing. The hole's own
pixels never enter, so the partial-convolution guarantee holds: changing what
is under the hole does not change the output.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="decensor")
class PushPullFill(keras.layers.Layer):
    """``[image, mask] -> image`` with hole pixels interpolated from known ones.

    ``levels`` halvings; input height and width must be multiples of ``2**levels``.
    Cells still empty at the coarsest level take the mean of all known pixels.
    """

    def __init__(self, levels=6, **kwargs):
        super().__init__(**kwargs)
        self.levels = int(levels)

    def call(self, inputs):
        image, mask = inputs
        mask = ops.cast(mask, image.dtype)
        sums, weights = [image * mask], [mask]
        for _ in range(self.levels):
            sums.append(ops.average_pool(sums[-1], 2, 2, padding="valid"))
            weights.append(ops.average_pool(weights[-1], 2, 2, padding="valid"))
        total = ops.sum(image * mask, axis=(1, 2), keepdims=True)
        count = ops.sum(mask, axis=(1, 2), keepdims=True)
        fill = total / ops.maximum(count, 1e-6) * ops.ones_like(sums[-1])
        for level in range(self.levels, -1, -1):
            weight = weights[level]
            average = sums[level] / ops.maximum(weight, 1e-6)
            # Trust a cell in proportion to how much of it was known (fully from
            # a quarter on): partial cells blend into the coarser guess instead
            # of switching abruptly, which would leave blocky squares. At full
            # resolution the weight is 0 or 1, so known pixels stay exact.
            trust = ops.minimum(weight * 4.0, 1.0)
            fill = trust * average + (1.0 - trust) * fill
            if level > 0:
                fill = _upsample_bilinear(fill)
        return fill

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update({"levels": self.levels})
        return config


def _upsample_bilinear(x):
    """2x bilinear upsampling with edge replication (half-pixel centres)."""
    up_rows = ops.repeat(x, 2, axis=1)
    before = ops.concatenate([up_rows[:, :1], up_rows[:, :-1]], axis=1)
    after = ops.concatenate([up_rows[:, 1:], up_rows[:, -1:]], axis=1)
    rows = ops.arange(ops.shape(up_rows)[1]) % 2
    rows = ops.reshape(ops.cast(rows, x.dtype), (1, -1, 1, 1))
    x = 0.75 * up_rows + 0.25 * (rows * after + (1 - rows) * before)
    up_cols = ops.repeat(x, 2, axis=2)
    before = ops.concatenate([up_cols[:, :, :1], up_cols[:, :, :-1]], axis=2)
    after = ops.concatenate([up_cols[:, :, 1:], up_cols[:, :, -1:]], axis=2)
    cols = ops.arange(ops.shape(up_cols)[2]) % 2
    cols = ops.reshape(ops.cast(cols, x.dtype), (1, 1, -1, 1))
    return 0.75 * up_cols + 0.25 * (cols * after + (1 - cols) * before)


@keras.saving.register_keras_serializable(package="decensor")
class AllValid(keras.layers.Layer):
    """A one-channel mask of ones shaped like its input: for inputs known everywhere."""

    def call(self, inputs):
        return ops.ones_like(inputs[..., :1])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (1,)


@keras.saving.register_keras_serializable(package="decensor")
class LeadingChannels(keras.layers.Layer):
    """The first ``count`` channels: the part of a prior input that is a first guess of the image."""

    def __init__(self, count=3, **kwargs):
        super().__init__(**kwargs)
        self.count = int(count)

    def call(self, inputs):
        return inputs[..., : self.count]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.count,)

    def get_config(self):
        config = super().get_config()
        config.update({"count": self.count})
        return config


@keras.saving.register_keras_serializable(package="decensor")
class GatedCorrection(keras.layers.Layer):
    """``guess + sigmoid(gate - offset) * correction`` from a 4-channel network output.

    The gate starts almost shut (sigmoid(-4) ~ 0.02): the network begins by
    doing no harm to a good guess and opens the gate only where its
    correction pays off. Without it, the first thousand steps of residual
    noise cost easy, already well-guessed pages several dB.
    """

    def __init__(self, offset=4.0, **kwargs):
        super().__init__(**kwargs)
        self.offset = float(offset)

    def call(self, inputs):
        guess, raw = inputs
        gate = ops.sigmoid(raw[..., 3:4] - self.offset)
        return guess + gate * raw[..., :3]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update({"offset": self.offset})
        return config
