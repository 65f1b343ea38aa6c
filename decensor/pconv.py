"""Partial convolution (Liu et al., ECCV 2018) as a Keras 3 layer.

The convolution only sees valid pixels: the input is multiplied by its mask,
the result is re-scaled by (window size / valid pixels in the window), and the
bias is added only where the window held at least one valid pixel, so a window
that saw nothing gives exactly 0. The layer returns the updated mask (1 where
the window saw anything) so holes shrink layer by layer.

Only `keras.ops` is used, so the same layer trains on TensorFlow, JAX or torch.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="decensor")
class PartialConv2D(keras.layers.Layer):
    """Masked, re-normalised 2-D convolution.

    Call it on ``[features, mask]``. ``mask`` has either one channel (the same
    validity for every input channel) or as many channels as ``features`` (after
    a concatenation of tensors with different masks). Returns
    ``[output, updated_mask]`` where ``updated_mask`` has one channel.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        # fan-in scaling without He's factor 2: re-normalised partial
        # windows already scale up, and with He's factor activations grow ~2x
        # per layer through the U-Net at initialisation.
        kernel_initializer="variance_scaling",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.dilation_rate = int(dilation_rate)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        if kernel_initializer == "variance_scaling":
            kernel_initializer = keras.initializers.VarianceScaling(1.0, "fan_in", "truncated_normal")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        feature_shape, mask_shape = input_shape
        in_channels = feature_shape[-1]
        mask_channels = mask_shape[-1]
        if mask_channels not in (1, in_channels):
            raise ValueError(
                f"mask must have 1 or {in_channels} channels, got {mask_channels}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, in_channels, self.filters),
            initializer=self.kernel_initializer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer
            )
        else:
            self.bias = None
        # Counting valid entries per window is a convolution with a ones kernel.
        self._window_size = float(self.kernel_size * self.kernel_size * mask_channels)
        self._mask_channels = mask_channels

    def call(self, inputs):
        features, mask = inputs
        mask = ops.cast(mask, features.dtype)
        raw = ops.conv(
            features * mask,
            self.kernel,
            strides=self.strides,
            padding="same",
            dilation_rate=self.dilation_rate,
        )
        ones = ops.ones(
            (self.kernel_size, self.kernel_size, self._mask_channels, 1),
            dtype=features.dtype,
        )
        valid_count = ops.conv(
            mask,
            ones,
            strides=self.strides,
            padding="same",
            dilation_rate=self.dilation_rate,
        )
        # Counts are sums of 0/1 values: anything above half a pixel is "some".
        updated_mask = ops.cast(valid_count > 0.5, features.dtype)
        scale = self._window_size / ops.maximum(valid_count, 1.0) * updated_mask
        output = raw * scale
        if self.bias is not None:
            output = output + ops.cast(self.bias, features.dtype) * updated_mask
        if self.activation is not None:
            output = self.activation(output)
        return output, updated_mask

    def compute_output_shape(self, input_shape):
        feature_shape, _ = input_shape
        batch, height, width, _ = feature_shape

        def shrink(size):
            return None if size is None else -(-size // self.strides)

        spatial = (batch, shrink(height), shrink(width))
        return (spatial + (self.filters,), spatial + (1,))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "dilation_rate": self.dilation_rate,
                "activation": keras.activations.serialize(self.activation)
                if self.activation is not None
                else None,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="decensor")
class MaskedConcatenate(keras.layers.Layer):
    """Concatenate feature maps and broadcast their one-channel masks to match.

    The following partial convolution then counts valid entries per channel,
    which is the paper's rule for skip connections.
    """

    def call(self, inputs):
        features = [f for f, _ in inputs]
        masks = [
            ops.repeat(ops.cast(m, f.dtype), f.shape[-1], axis=-1)
            if m.shape[-1] == 1
            else ops.cast(m, f.dtype)
            for f, m in inputs
        ]
        return ops.concatenate(features, axis=-1), ops.concatenate(masks, axis=-1)

    def compute_output_shape(self, input_shape):
        channels = sum(f[-1] for f, _ in input_shape)
        spatial = tuple(input_shape[0][0][:-1])
        return (spatial + (channels,), spatial + (channels,))
