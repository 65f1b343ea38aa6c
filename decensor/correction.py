"""The network stage of a pipeline: a trained correction of its first guess, run tile by tile.

A pipeline makes a first guess (:class:`decensor.guess.Guess`) and hands it to
its correction. :class:`NetworkCorrection` runs the partial-convolution U-Net
(on ONNX Runtime, :mod:`decensor.inference`) over the hole through the tiling
engine (:func:`decensor.inpaint.inpaint`);
:data:`NO_CORRECTION` writes the guess as it is. A shipped model whose
correction is still exactly zero loads as :data:`NO_CORRECTION`: its output
would be its guess, so users get the same pixels without TensorFlow's
start-up or the network's time.

A card may ask for the correction to be smoothed (``correction_smoothing``,
a Gaussian's sigma in px): the network's change to the guess is then
blurred over the hole before it is added, so the guess keeps its texture
and the network corrects tone and shading (:func:`smooth_correction`).
"""

import numpy as np
from scipy import ndimage

from . import modelfile
from .inpaint import DEFAULT_BATCH, DEFAULT_MARGIN, DEFAULT_TILE, inpaint
from .regions import mask_box


class NoCorrection:
    """The stage left out: the hole gets the first guess unchanged."""

    runs_network = False

    def __init__(self, card=None):
        self.card = card or {}

    def prepare(self):
        """Nothing to build."""

    def apply(self, rgb, hole, guess, progress=None):
        filled = rgb.copy()
        filled[hole] = guess.page[hole]
        return filled


NO_CORRECTION = NoCorrection()


def smooth_correction(predicted, masks, guesses, sigma):
    """``guesses`` plus the change ``predicted - guesses`` blurred over each tile's hole.

    ``predicted`` and ``guesses`` (N, H, W, 3) and ``masks`` (N, H, W, 1, 1 =
    known) as the tiling engine passes them. The blur is normalised over the
    hole (known pixels lend no zeros), and outside the hole the change is zero.
    """
    predicted = np.asarray(predicted, np.float32)
    if sigma <= 0:
        return predicted
    holes = 1.0 - np.asarray(masks, np.float32)[..., 0]
    guesses = np.asarray(guesses, np.float32)[..., :3]
    result = guesses.copy()
    # Each tile's hole box and the filter's reach around it: outside it the change is zero, and inside
    # it the blur sees the same zeros the whole tile would give (a mark is often a third of its tile).
    truncate = 4.0  # (the blur's reach in sigmas, scipy's default: written out so the box follows it)
    reach = int(truncate * sigma + 0.5) + 1
    for n, hole in enumerate(holes):
        box = mask_box(hole)
        if box is None:
            continue
        box = box.expanded(reach, hole.shape).slices
        here = hole[box][..., None]
        weight = ndimage.gaussian_filter(here, (sigma, sigma, 0), truncate=truncate)
        smoothed = ndimage.gaussian_filter((predicted[n][box] - guesses[n][box]) * here, (sigma, sigma, 0),
                                           truncate=truncate)
        result[n][box] += smoothed / np.maximum(weight, 1e-3) * here
    return result


class NetworkCorrection:
    """A network and its design, run over the hole tile by tile.

    ``network(images, masks, guess inputs) -> (images, reached)`` on float32
    NHWC batches: an :class:`decensor.inference.OnnxNetwork`, or a Keras
    model of :func:`decensor.network.build_network` wrapped the same way.
    """

    runs_network = True

    def __init__(self, network, config, card=None, tile=DEFAULT_TILE, margin=DEFAULT_MARGIN,
                 batch_size=DEFAULT_BATCH, smoothing=0.0):
        if tile % config.downsampling:
            raise ValueError(f"tile must be a multiple of {config.downsampling} for this network, got {tile}")
        self.network = network
        self.config = config
        self.card = card or {}
        self.tile = tile
        self.margin = margin
        self.batch_size = batch_size
        self.smoothing = float(smoothing)

    def prepare(self):
        """Build the network's runtime now (else on the first batch): see :meth:`decensor.inference.OnnxNetwork.prepare`."""
        if hasattr(self.network, "prepare"):
            self.network.prepare()

    def predict(self, images, masks, guesses):
        """The network on a batch of tiles, its correction smoothed as the card says."""
        predicted, reached = self.network(images, masks, guesses)
        return smooth_correction(predicted, masks, guesses, self.smoothing), reached

    def apply(self, rgb, hole, guess, progress=None):
        """``rgb`` (H, W, 3 uint8) with ``hole`` filled by the network's correction of ``guess``."""
        channels = self.config.guess_channels  # (the leading channels of the guess input, as designed)
        return inpaint(rgb, hole, self.predict, tile=self.tile, margin=self.margin, batch_size=self.batch_size,
                       progress=progress, guess=lambda box: guess.tile(box)[..., :channels],
                       step=self.config.downsampling)


def load_correction(name, guess_kind, models_dir=None, tile=DEFAULT_TILE, margin=DEFAULT_MARGIN,
                    batch_size=DEFAULT_BATCH):
    """The shipped model ``name`` as a pipeline's network stage (checked against its sha256).

    Raises :class:`decensor.modelfile.ModelFileError` when the files are
    missing or damaged, or when the model corrects another pipeline's guess.
    """
    card = modelfile.check_model(name, models_dir)
    config = modelfile.design_of(card, name, models_dir)
    if config.guess_kind != guess_kind:
        raise modelfile.ModelFileError(
            f"model {name} in {modelfile.model_paths(name, models_dir)[1].parent} corrects a "
            f"{config.guess_kind} guess, not a {guess_kind} one: it belongs to the other command"
        )
    if card.get("zero_correction"):
        return NoCorrection(card)  # (the card says so: no weights to read, no network to build)
    config, arrays, card = modelfile.load_arrays(name, models_dir, verify=False)
    if modelfile.adds_nothing(arrays):
        return NoCorrection(card)
    from .inference import OnnxNetwork

    modelfile.check_fit(config, arrays, str(modelfile.model_paths(name, models_dir)[0]))
    return NetworkCorrection(OnnxNetwork(config, arrays), config, card, tile, margin, batch_size,
                             smoothing=card.get("correction_smoothing", 0.0))
