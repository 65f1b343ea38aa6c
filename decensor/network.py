"""The partial-convolution U-Net that corrects a first guess of the hole.

Encoder: partial convolutions that halve the resolution level by level, so the
hole shrinks until the deepest level sees valid context everywhere. Decoder:
nearest-neighbour upsampling of features *and* masks, concatenated with the
encoder's skip features and their masks, then a partial convolution. The last
layer also sees the input image, so known pixels next to the hole steer the
finest detail.

Inputs: the image (0 in the hole), its mask (1 = known) and the guess input,
known everywhere, whose first three channels are the pipeline's first guess
(patch synthesis for bars, the block-mean restoration for mosaics; see
:mod:`decensor.guess`). The network adds its output to that guess, so colour,
shading and texture that the guess already has come for free. The model
returns the corrected image and the mask of pixels the network could reach;
the caller only trusts pixels inside that mask.
"""

import keras
from keras import ops

from .design import NetworkConfig
from .pconv import MaskedConcatenate, PartialConv2D


def _leaky(x):
    return keras.activations.leaky_relu(x, negative_slope=0.2)


@keras.saving.register_keras_serializable(package="decensor")
class AllValid(keras.layers.Layer):
    """A one-channel mask of ones shaped like its input: for inputs known everywhere."""

    def call(self, inputs):
        return ops.ones_like(inputs[..., :1])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (1,)


@keras.saving.register_keras_serializable(package="decensor")
class LeadingChannels(keras.layers.Layer):
    """The first ``count`` channels: the part of the guess input that is the first guess itself."""

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


def build_network(config=NetworkConfig()):
    """Return a Keras model: ``[image (0..1 RGB), mask (1 = known), guess input] -> [image, reached]``."""
    if len(config.widths) != len(config.kernels):
        raise ValueError("widths and kernels must have the same length")
    image = keras.Input(shape=(None, None, 3), name="image")
    mask = keras.Input(shape=(None, None, 1), name="mask")
    guess_input = keras.Input(shape=(None, None, config.guess_channels), name="guess")
    features, feature_mask = MaskedConcatenate(name="join_guess")(
        [(image, mask), (guess_input, AllValid(name="guess_valid")(guess_input))]
    )
    skips = []
    deepest = len(config.widths) - 1
    for level, (width, kernel) in enumerate(zip(config.widths, config.kernels)):
        features, feature_mask = PartialConv2D(
            width,
            kernel,
            strides=1 if level == 0 else 2,
            activation=_leaky,
            name=f"encode_{level}",
        )([features, feature_mask])
        if level >= deepest - 1:
            for extra in range(config.extra_deep_convs):
                features, feature_mask = PartialConv2D(
                    width, 3, activation=_leaky, name=f"encode_{level}_extra_{extra}"
                )([features, feature_mask])
        skips.append((features, feature_mask))

    upsample = keras.layers.UpSampling2D(2, interpolation="nearest")
    for level in range(deepest - 1, -1, -1):
        skip_features, skip_mask = skips[level]
        features, feature_mask = MaskedConcatenate(name=f"join_{level}")(
            [(upsample(features), upsample(feature_mask)), (skip_features, skip_mask)]
        )
        features, feature_mask = PartialConv2D(
            config.widths[level], 3, activation=_leaky, name=f"decode_{level}"
        )([features, feature_mask])

    features, feature_mask = MaskedConcatenate(name="join_image")(
        [(features, feature_mask), (image, mask)]
    )
    # A zero last layer: the untrained network returns its first guess exactly.
    correction, output_mask = PartialConv2D(
        3, 3, kernel_initializer="zeros", bias_initializer="zeros", name="to_image"
    )([features, feature_mask])
    guess = LeadingChannels(3, name="first_guess")(guess_input)
    output = keras.layers.Add(name="refined")([guess, correction])
    return keras.Model(inputs=[image, mask, guess_input], outputs=[output, output_mask], name=config.name)
