"""Public fill API: a page (PIL image or numpy array) and an optional mask in, the filled page out.

    from decensor import Decensor
    engine = Decensor()                      # loads models/bar once
    filled = engine.fill(Image.open("page.png"))            # green paint marks the hole
    filled = engine.fill(array, mask=my_bool_mask)          # or give the mask

The same object serves the command line's batch runner.
"""

import numpy as np

from . import images, masks
from .inpaint import DEFAULT_BATCH, DEFAULT_MARGIN, DEFAULT_TILE, PagePrior, inpaint
from .modelfile import DEFAULT_MODEL


class NoMarkedRegion(ValueError):
    """The page has nothing to fill."""


class PaintSettings:
    """How green paint is recognised; see :mod:`decensor.masks` for the rule."""

    def __init__(
        self,
        color=masks.GREEN,
        tolerance=masks.DEFAULT_TOLERANCE,
        min_region=masks.DEFAULT_MIN_REGION,
        fringe=masks.DEFAULT_FRINGE,
        grow=masks.DEFAULT_GROW,
    ):
        self.color = tuple(color)
        self.tolerance = tolerance
        self.min_region = min_region
        self.fringe = fringe
        self.grow = grow

    def detect(self, rgb):
        return masks.detect_paint(
            rgb, self.color, self.tolerance, self.min_region, self.fringe, self.grow
        )


class Decensor:
    """Holds the loaded network and fills pages with it."""

    def __init__(
        self,
        model=None,
        model_name=DEFAULT_MODEL,
        models_dir=None,
        tile=DEFAULT_TILE,
        margin=DEFAULT_MARGIN,
        batch_size=DEFAULT_BATCH,
        paint=None,
        config=None,
    ):
        """``model``: an already built network to use instead of a model file;
        give its ``config`` (a :class:`decensor.design.NetworkConfig`) too when
        it takes a prior, so the engine knows which first guess to feed it."""
        if model is None:
            from . import modelfile

            self.config, arrays, self.card = modelfile.load_arrays(model_name, models_dir)
            if modelfile.adds_nothing(self.config, arrays):
                model = None  # its output is its first guess: no network to run
            else:
                model = modelfile.build_model(self.config, arrays, str(modelfile.model_paths(model_name, models_dir)[0]))
            step = self.config.downsampling
        else:
            self.config, self.card = config, {}
            step = 2 ** sum(1 for layer in model.layers if getattr(layer, "strides", 1) == 2)
        self.model = model
        self.models_dir = models_dir
        self._compiled = None
        self._bar = None
        if tile % step:
            raise ValueError(f"tile must be a multiple of {step} for this network, got {tile}")
        self.tile = tile
        self.margin = margin
        self.batch_size = batch_size
        self.paint = paint or PaintSettings()

    def predict(self, tiles, tile_masks, priors=None):
        """Run the network on a batch of float tiles; returns numpy (images, reached)."""
        from keras import ops

        if self._compiled is None:
            self._compiled = _compile_for_inference(self.model)
        inputs = (tiles, tile_masks) if priors is None else (tiles, tile_masks, priors)
        output, reached = self._compiled(*inputs)
        return ops.convert_to_numpy(output), ops.convert_to_numpy(reached)

    def fill_rgb(self, rgb, hole, progress=None, prior=None, guide=None):
        """Fill ``hole`` in an (H, W, 3) uint8 array; every other pixel is returned unchanged.

        A grey page (even one stored as RGB) gets a grey fill: no colour cast.
        A bar model built on patch synthesis gets that synthesis as its first
        guess (see :mod:`decensor.patchfill`; ``guide`` steers it, e.g. to a
        mosaic's block means) and corrects it.
        """
        if prior is None and self.prior_kind == "patch_fill":
            from .patchfill import fill_patches

            prior = PagePrior(fill_patches(rgb, hole, guide=guide))
        if self.model is None:
            filled = rgb.copy()  # the guess in the hole: what the untrained correction returns
            filled[hole] = prior.page_guess()[hole]
        else:
            filled = inpaint(
                rgb,
                hole,
                self.predict,
                tile=self.tile,
                margin=self.margin,
                batch_size=self.batch_size,
                progress=progress,
                prior=prior,
            )
        if images.looks_grayscale(rgb, ~hole):
            gray = np.round(images.luma(filled[hole])).astype(np.uint8)
            filled[hole] = gray[:, None]
        return filled

    @property
    def prior_kind(self):
        """What the model's prior input holds: "" (none), "mosaic" or "patch_fill"."""
        if self.config is not None:
            return self.config.prior_kind
        # A network passed in without its design: a third input was a mosaic's.
        return "mosaic" if len(self.model.inputs) >= 3 else ""

    def restore_mosaic_rgb(self, rgb, hole, grid=None):
        """Restore a mosaic region: the fill's detail, the mosaic's block colours.

        The bar model fills the region from its surroundings (its patch
        synthesis guided to keep the block means, see
        :func:`decensor.mosaic.block_mean_guide`) and every block is shifted
        to the mean colour the mosaic kept (see
        :func:`decensor.mosaic.block_mean_correction`). A mosaic model (one
        that takes a prior) then corrects that restoration, seeing the
        bicubic block means and the block size too, and its result is shifted
        to the block means again, except in the blocks the first guess is
        sure of (:func:`decensor.mosaic.sure_blocks`). ``grid`` is estimated from the pixels when
        not given; without a grid this is a plain fill.
        """
        from . import mosaic

        grid = grid or mosaic.estimate_grid(rgb, hole)
        if grid is None:
            return self.fill_rgb(rgb, hole), None
        is_mosaic_model = self.prior_kind == "mosaic"
        bar = self._bar_engine() if is_mosaic_model else self
        restored, sure = bar.first_mosaic_guess(rgb, hole, grid)
        if is_mosaic_model and self.model is not None:
            prior = mosaic.MosaicPrior(rgb, hole, grid, guess=restored)
            corrected = mosaic.keep_block_means(self.fill_rgb(rgb, hole, prior=prior), rgb, grid, hole)
            restored = np.where(sure[..., None], restored, corrected)
        return restored, grid

    def first_mosaic_guess(self, rgb, hole, grid):
        """(the restoration without a mosaic model, the hole pixels it is sure of).

        Patch synthesis guided by the block means, every block shifted to its
        mean; see :func:`decensor.mosaic.sure_blocks` for the sure part.
        """
        from . import mosaic

        filled = self.fill_rgb(rgb, hole, guide=mosaic.block_mean_guide(rgb, grid, hole))
        return mosaic.keep_block_means(filled, rgb, grid, hole), mosaic.sure_blocks(filled, rgb, grid, hole)

    def _bar_engine(self):
        """The bar model that makes the mosaic model's first guess (loaded once)."""
        if self._bar is None:
            self._bar = Decensor(models_dir=self.models_dir, tile=self.tile, margin=self.margin,
                                 batch_size=self.batch_size, paint=self.paint)
        return self._bar

    def hole_of(self, picture, mask=None):
        """The boolean hole for a page: the given mask, or the paint found on it."""
        if mask is not None:
            return masks.mask_from_array(mask, picture.size)
        return self.paint.detect(images.rgb_view(picture))

    def fill_picture(self, picture, hole, copy=True):
        """Fill a decoded page; the result keeps its mode, alpha and metadata.

        ``copy=False`` lets the fill overwrite ``picture`` (the batch runner's own page).
        """
        if not hole.any():
            raise NoMarkedRegion("no marked region found")
        filled = self.fill_rgb(images.rgb_view(picture), hole)
        return images.with_fill(picture, filled, hole, copy=copy)

    def fill(self, image, mask=None):
        """Fill a PIL image or numpy array; returns the same kind of object.

        ``mask``: None to use the paint on the page, else a boolean/0-255 array
        or PIL image (true or white = fill) of the page's size.
        """
        from PIL import Image

        if isinstance(mask, Image.Image):
            mask = np.array(mask.convert("L"))
        if isinstance(image, Image.Image):
            picture = images.picture_from_pil(image)
            result = self.fill_picture(picture, self.hole_of(picture, mask))
            output = images.to_pil(result)
            output.info.update({k: v for k, v in image.info.items() if k in ("icc_profile", "dpi")})
            return output
        array = np.asarray(image)
        picture = _picture_from_array(array)
        result = self.fill_picture(picture, self.hole_of(picture, mask))
        return result.pixels


def _compile_for_inference(model):
    """A traced graph on TensorFlow (one trace for every tile and batch size):
    it runs faster than eager calls and frees each activation as soon as it
    is used, which keeps peak memory down. Other backends call the model."""
    import keras

    def run(*inputs):
        return model(list(inputs), training=False)

    if keras.backend.backend() != "tensorflow":
        return run
    import tensorflow as tf

    signature = [tf.TensorSpec([None, None, None, shape[-1]], tf.float32) for shape in
                 (tuple(i.shape) for i in model.inputs)]
    return tf.function(run, input_signature=signature)


def _picture_from_array(array):
    if array.ndim == 2:
        mode = {np.dtype(np.uint8): "L", np.dtype(np.uint16): "I;16", np.dtype(bool): "1"}.get(array.dtype)
    elif array.ndim == 3 and array.dtype == np.uint8 and array.shape[2] in (2, 3, 4):
        mode = {2: "LA", 3: "RGB", 4: "RGBA"}[array.shape[2]]
    else:
        mode = None
    if mode is None:
        raise ValueError(
            f"unsupported array {array.shape} {array.dtype}: use uint8 (H, W), (H, W, 3) "
            "or (H, W, 4), uint16 (H, W) or bool (H, W)"
        )
    return images.Picture(pixels=array, mode=mode)


def fill(image, mask=None, **settings):
    """One-off convenience: load the shipped model and fill one page."""
    return Decensor(**settings).fill(image, mask)
