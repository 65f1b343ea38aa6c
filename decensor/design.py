"""The network's design as plain data: what a model file's card records.

Kept free of Keras so that reading a model card, checking a model file or
deciding whether a network is needed at all costs no TensorFlow start-up.
"""

from dataclasses import asdict, dataclass, field

# What a network's guess input holds, by the pipeline that makes it:
# "patch_fill" (3 channels: the bar fill's patch synthesis, decensor.bar) or
# "mosaic" (7: the mosaic restoration's first guess and the mosaic's
# evidence, decensor.mosaic.restoration.MosaicGuess).
GUESS_KINDS = ("patch_fill", "mosaic")


class DesignError(ValueError):
    """A card describes a network this version of decensor does not build."""


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of the U-Net. Stored beside every weights file.

    The network corrects a first guess: inputs are the image (0 in the hole),
    the mask (1 = known) and the guess input, whose first three channels are
    the guess itself.
    """

    # Channels at full resolution, then at 1/2, 1/4, ... of the input.
    widths: tuple = (24, 48, 96, 160, 256, 320, 320)
    # Kernel size of the encoder convolution that produces each level.
    kernels: tuple = (3, 5, 5, 3, 3, 3, 3)
    # Extra (non-downsampling) partial convolutions at each of the deepest levels.
    extra_deep_convs: int = 1
    # Which pipeline's first guess the network corrects (one of GUESS_KINDS).
    guess_kind: str = "patch_fill"
    # Channels of the guess input (3 for patch_fill, 7 for mosaic).
    guess_channels: int = 3
    name: str = field(default="pconv_unet")

    @property
    def downsampling(self):
        """Inputs must be a multiple of this size."""
        return 2 ** (len(self.widths) - 1)

    def weight_shapes(self):
        """{weight path: shape} of the network this design builds (see :mod:`decensor.network`)."""
        widths, kernels = self.widths, self.kernels
        shapes = {}

        def layer(name, kernel, inputs, outputs):
            shapes[f"{name}/kernel"] = (kernel, kernel, inputs, outputs)
            shapes[f"{name}/bias"] = (outputs,)

        deepest = len(widths) - 1
        inputs = 3 + self.guess_channels
        for level, (width, kernel) in enumerate(zip(widths, kernels)):
            layer(f"encode_{level}", kernel, inputs, width)
            if level >= deepest - 1:
                for extra in range(self.extra_deep_convs):
                    layer(f"encode_{level}_extra_{extra}", 3, width, width)
            inputs = width
        for level in range(deepest - 1, -1, -1):
            layer(f"decode_{level}", 3, widths[level + 1] + widths[level], widths[level])
        layer("to_image", 3, widths[0] + 3, 3)
        return shapes

    def to_dict(self):
        data = asdict(self)
        data["widths"] = list(self.widths)
        data["kernels"] = list(self.kernels)
        return data

    @classmethod
    def from_dict(cls, data):
        """Read a card's design; cards written before the guess input was named say "prior"."""
        if data.get("base_fill") or data.get("gated"):
            raise DesignError("the model corrects a push-pull guess through a gate, a design this version "
                              "of decensor no longer builds: use the models/ folder that ships with it")
        channels = int(data.get("guess_channels", data.get("prior_channels", 0)))
        kind = data.get("guess_kind", data.get("prior") or ("mosaic" if channels else ""))
        if kind not in GUESS_KINDS or channels < 3:
            raise DesignError(f"the model's network takes no first guess this version knows ({kind or 'none'})")
        return cls(
            widths=tuple(data["widths"]),
            kernels=tuple(data["kernels"]),
            extra_deep_convs=int(data.get("extra_deep_convs", 0)),
            guess_kind=kind,
            guess_channels=channels,
            name=data.get("name", "pconv_unet"),
        )
