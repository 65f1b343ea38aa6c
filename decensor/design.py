"""The network's design as plain data: what a model file's card records.

Kept free of Keras so that reading a model card, checking a model file or
deciding whether a network is needed at all costs no TensorFlow start-up.
"""

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of the U-Net. Stored beside every weights file."""

    # Channels at full resolution, then at 1/2, 1/4, ... of the input.
    widths: tuple = (24, 48, 96, 160, 256, 320, 320)
    # Kernel size of the encoder convolution that produces each level.
    kernels: tuple = (3, 5, 5, 3, 3, 3, 3)
    # Extra (non-downsampling) partial convolutions at each of the deepest levels.
    extra_deep_convs: int = 1
    # Predict a correction to a push-pull interpolation of the known pixels.
    base_fill: bool = True
    # > 0: a third input "prior" with this many channels, known everywhere
    # (mosaic: the block means, bicubic, and the block size); its first three
    # channels are the first guess the network corrects, instead of push-pull.
    prior_channels: int = 0
    # What the prior holds, for the engine that computes it: "mosaic"
    # (see decensor.mosaic.MosaicPrior) or "patch_fill" (3 channels: the hole
    # filled by patch synthesis, see decensor.patchfill).
    prior: str = ""
    # Correct the guess through a learned gate that starts almost shut.
    gated: bool = True
    name: str = field(default="pconv_unet")

    @property
    def prior_kind(self):
        """What the prior input holds: "" (none), "mosaic" or "patch_fill".

        Mosaic models were shipped before ``prior`` was recorded: a prior
        without a name is the mosaic's."""
        return (self.prior or "mosaic") if self.prior_channels else ""

    @property
    def downsampling(self):
        """Inputs must be a multiple of this size."""
        return 2 ** (len(self.widths) - 1)

    def to_dict(self):
        data = asdict(self)
        data["widths"] = list(self.widths)
        data["kernels"] = list(self.kernels)
        return data

    @classmethod
    def from_dict(cls, data):
        return cls(
            widths=tuple(data["widths"]),
            kernels=tuple(data["kernels"]),
            extra_deep_convs=int(data.get("extra_deep_convs", 0)),
            base_fill=bool(data.get("base_fill", False)),
            prior_channels=int(data.get("prior_channels", 0)),
            prior=data.get("prior", "mosaic" if data.get("prior_channels") else ""),
            gated=bool(data.get("gated", False)),
            name=data.get("name", "pconv_unet"),
        )
