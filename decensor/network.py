"""The partial-convolution U-Net that fills holes.

Encoder: partial convolutions that halve the resolution level by level, so the
hole shrinks until the deepest level sees valid context everywhere. Decoder:
nearest-neighbour upsampling of features *and* masks, concatenated with the
encoder's skip features and their masks, then a partial convolution. The last
layer also sees the input image, so known pixels next to the hole steer the
finest detail. The network predicts a correction to a first guess: a
push-pull interpolation of the known pixels (``base_fill``, see
:mod:`decensor.basefill`), or a guess handed in as the ``prior`` input (patch
synthesis for bars, the block means for mosaics), so colour, shading and
texture that reach in from the rim come for free. The model
returns the prediction and the mask of pixels the network could actually
reach; the caller only trusts pixels inside that mask.
"""

import keras

from .basefill import AllValid, GatedCorrection, LeadingChannels, PushPullFill
from .design import NetworkConfig
from .pconv import MaskedConcatenate, PartialConv2D


def _leaky(x):
    return keras.activations.leaky_relu(x, negative_slope=0.2)


def build_network(config=NetworkConfig()):
    """Return a Keras model: ``[image (0..1 RGB), mask (1 = known)(, prior)] -> [image, mask]``."""
    if len(config.widths) != len(config.kernels):
        raise ValueError("widths and kernels must have the same length")
    image = keras.Input(shape=(None, None, 3), name="image")
    mask = keras.Input(shape=(None, None, 1), name="mask")
    inputs = [image, mask]

    skips = []
    features, feature_mask = image, mask
    if config.prior_channels:
        prior = keras.Input(shape=(None, None, config.prior_channels), name="prior")
        inputs.append(prior)
        features, feature_mask = MaskedConcatenate(name="join_prior")(
            [(image, mask), (prior, AllValid(name="prior_valid")(prior))]
        )
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
    # Start exactly at the base fill (or mid-grey without one): a zero last
    # layer, so early training refines a sensible guess instead of undoing noise.
    corrects_a_guess = bool(config.base_fill or config.prior_channels)
    gated = corrects_a_guess and config.gated
    output, output_mask = PartialConv2D(
        4 if gated else 3,
        3,
        # A shut gate hides a small random start; without a gate, start at zero.
        kernel_initializer="zeros" if corrects_a_guess and not gated
        else keras.initializers.RandomNormal(stddev=0.01),
        bias_initializer=keras.initializers.Constant(0.0 if corrects_a_guess else 0.5),
        name="to_image",
    )([features, feature_mask])
    if corrects_a_guess:
        if config.prior_channels:
            base = LeadingChannels(3, name="prior_guess")(prior)
        else:
            base = PushPullFill(levels=len(config.widths) - 1, name="base_fill")([image, mask])
        if gated:
            output = GatedCorrection(name="refined")([base, output])
        else:
            output = keras.layers.Add(name="refined")([base, output])
    return keras.Model(inputs=inputs, outputs=[output, output_mask], name=config.name)
