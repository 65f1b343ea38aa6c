"""What is trained: each model learns to correct its own pipeline's first guess.

A task draws holes on crops, asks its pipeline for the first guess exactly as
the tool makes it (:meth:`decensor.bar.BarFill.first_guess`,
:meth:`decensor.mosaic.MosaicRestoration.first_guess`), and hands the network
``[image, mask, guess input]`` with the truth. Held-out predictions are
finished the way the tool writes them before they are scored.
"""

import dataclasses

import numpy as np

from ..bar import BarFill
from ..correction import smooth_correction
from ..design import NetworkConfig
from ..guess import PatchGuess
from ..mosaic import MosaicGuess, MosaicRestoration
from ..regions import Box
from .dataset import held_out_mosaic_set, held_out_set, make_batch, make_mosaic_batch
from .losses import BAR_SMOOTHING, MOSAIC_WEIGHTS, WEIGHTS, bar_loss, mosaic_loss


def _guess_inputs(guesses):
    """The network's guess input for whole crops, stacked."""
    return np.stack([guess.tile(Box(0, 0, *guess.page.shape[:2])) for guess in guesses])


class _Task:
    """What every task shares: its ``pipeline`` makes the first guesses."""

    def guess_settings(self):
        """What the first guesses depend on (cached samples made with other settings are stale)."""
        return dataclasses.asdict(self.pipeline.synthesis)


class BarTask(_Task):
    """The bar model: corrects patch synthesis of painted holes, seeing where the synthesis was unsure."""

    name = "bar"
    weights = WEIGHTS
    validation = ("108 crops of 256 px, 12 for each hole family (bars, strokes, blobs) and hole-ratio bucket "
                  "(2-8, 8-16, 16-28 %), half procedural manga pages from held-out seeds, half held-out "
                  "Debian images; other seeds than benchmarks/quality.py")

    def __init__(self, correction_smoothing=BAR_SMOOTHING):
        self.pipeline = BarFill()  # (only its first guess: the network is what trains)
        # The network's change to the guess is blurred over the hole (sigma px) as the tool does it: on
        # validation 2 px kept the blurred-hole gain and 98 % of the guess's texture (benchmarks/TUNING.md).
        # 0 trains and ships a sharp correction (what adversarial training is for).
        self.correction_smoothing = float(correction_smoothing)

    def loss(self, y_true, y_pred):
        """The loss on the correction as the tool will write it (smoothed as this task says)."""
        return bar_loss(y_true, y_pred, self.correction_smoothing)

    def config(self):
        # Sized for 2 CPU cores: 0.8 M weights, 0.6 s per megapixel of tiles on ONNX Runtime, a
        # 128 px batch of 8 in 0.16 s of training; five halvings reach 32 px blocks, about 300 px around.
        return NetworkConfig(widths=(16, 32, 48, 64, 96, 128), kernels=(3, 3, 3, 3, 3, 3), extra_deep_convs=1,
                             guess_kind="patch_fill", guess_channels=PatchGuess.channels, name="bar")

    @staticmethod
    def loss_targets(inputs, targets):
        """The loss sees the first guess too (its "keep" term): truth, mask, guess."""
        return np.concatenate([targets[..., :4], inputs[2][..., :3]], axis=-1)

    def with_guesses(self, inputs):
        image, known = inputs
        guesses = [self.pipeline.first_guess(np.round(i * 255.0).astype(np.uint8), k[..., 0] < 0.5)
                   for i, k in zip(image, known)]
        return (image, known, _guess_inputs(guesses))

    def batch(self, crops, rng):
        inputs, targets = make_batch(crops, rng)
        return self.with_guesses(inputs), targets

    def held_out(self, held_paths):
        """The fixed held-out set, and how the tool finishes a prediction before writing it."""
        inputs, targets = held_out_set(held_paths)
        inputs = list(self.with_guesses(inputs))
        known, guesses = inputs[1], inputs[2]

        def finish(composites, picked=slice(None)):
            # As decensor bar writes it: the correction smoothed over the hole, 8-bit. (``picked``: which
            # of the set's crops ``composites`` are.)
            smoothed = smooth_correction(composites, known[picked], guesses[picked], self.correction_smoothing)
            return np.round(np.clip(smoothed, 0.0, 1.0) * 255.0) / 255.0

        return inputs, targets, finish


class MosaicTask(_Task):
    """The mosaic model: corrects the block-mean restoration of synthetic mosaics."""

    name = "mosaic"
    weights = MOSAIC_WEIGHTS
    correction_smoothing = 0.0  # (block means and sure blocks already keep the guess where it is right)
    loss = staticmethod(mosaic_loss)
    validation = ("48 crops of 256 px with mosaics of 4-32 px blocks, half procedural manga pages from "
                  "held-out seeds, half held-out Debian images; scored after the block-mean correction")

    def __init__(self):
        self.pipeline = MosaicRestoration()

    @staticmethod
    def loss_targets(inputs, targets):
        return targets

    def config(self):
        return NetworkConfig(guess_kind="mosaic", guess_channels=MosaicGuess.channels, name="mosaic")

    def with_guesses(self, inputs, mosaics):
        """Inputs with the guess input appended; ``mosaics`` (mosaicked crop, hole, grid) become guesses."""
        guesses = [self.pipeline.first_guess(*mosaic) for mosaic in mosaics]
        return (*inputs, _guess_inputs(guesses)), guesses

    def batch(self, crops, rng):
        mosaics = []
        inputs, targets = make_mosaic_batch(crops, rng, keep=mosaics)
        inputs, guesses = self.with_guesses(inputs, mosaics)
        # The tool keeps the first guess where it is sure of it: nothing to learn there.
        sure = np.stack([guess.sure for guess in guesses])[..., None].astype(targets.dtype)
        targets[..., 3:4] = np.maximum(targets[..., 3:4], sure)
        return inputs, targets

    def held_out(self, held_paths):
        """The fixed held-out set, and how the tool finishes a prediction before writing it."""
        mosaics = []
        inputs, targets = held_out_mosaic_set(held_paths, keep=mosaics)
        inputs, guesses = self.with_guesses(inputs, mosaics)

        def finish(composites, picked=slice(None)):
            # As decensor mosaic writes it: 8-bit, block means kept, the sure blocks' guess kept.
            chosen = np.arange(len(guesses))[picked]
            return np.stack([self.pipeline.finish(guesses[index], np.round(composite * 255.0))
                             for composite, index in zip(composites, chosen)]).astype(np.float32) / 255.0

        return list(inputs), targets, finish


TASKS = {task.name: task for task in (BarTask, MosaicTask)}


def task_for(name, **options):
    """The task called ``name`` ("bar" or "mosaic"); ``options`` for its constructor (the bar task's
    ``correction_smoothing``)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}: {' or '.join(TASKS)}")
    return TASKS[name](**options)
