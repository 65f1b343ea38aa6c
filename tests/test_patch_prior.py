"""The bar model that corrects patch synthesis: the engine feeds it, the trainer warm-starts it."""

from dataclasses import replace

import numpy as np

from helpers import TINY, drawing

PATCH_TINY = replace(TINY, base_fill=False, prior_channels=3, prior="patch_fill", gated=False)


def _patch_model_dir(tmp_path, correction_scale):
    import keras

    from decensor.modelfile import save_weights
    from decensor.network import build_network

    keras.utils.set_random_seed(3)
    model = build_network(PATCH_TINY)
    to_image = model.get_layer("to_image")
    to_image.kernel.assign(np.random.default_rng(0).normal(0, 0.05, to_image.kernel.shape) * correction_scale)
    folder = tmp_path / "models"
    save_weights(model, PATCH_TINY, "bar", folder, {"training": {"steps": 0}})
    return folder


def _marked():
    image = drawing(128, 160, seed=4)
    hole = np.zeros(image.shape[:2], bool)
    hole[40:70, 30:120] = True
    return image, hole


def test_untrained_patch_model_returns_exactly_the_patch_synthesis(tmp_path):
    from decensor.engine import Decensor
    from decensor.patchfill import fill_patches

    image, hole = _marked()
    engine = Decensor(models_dir=_patch_model_dir(tmp_path, 0.0), tile=64, margin=16)
    assert engine.prior_kind == "patch_fill"
    painted = image.copy()
    painted[hole] = (0, 255, 0)
    filled = engine.fill_rgb(painted, hole)
    np.testing.assert_array_equal(filled, fill_patches(painted, hole))
    np.testing.assert_array_equal(filled[~hole], image[~hole])


def test_skipping_an_untrained_correction_changes_no_pixel(tmp_path):
    from decensor.engine import Decensor
    from decensor.modelfile import load_model

    image, hole = _marked()
    folder = _patch_model_dir(tmp_path, 0.0)
    engine = Decensor(models_dir=folder, tile=64, margin=16)
    assert engine.model is None  # the zero correction is not even built
    skipped = engine.fill_rgb(image, hole)
    engine.model, _ = load_model("bar", folder)  # force the network path
    np.testing.assert_array_equal(engine.fill_rgb(image, hole), skipped)


def test_an_untrained_correction_costs_no_tensorflow_start_up(tmp_path):
    import subprocess
    import sys

    folder = _patch_model_dir(tmp_path, 0.0)
    script = ("import sys, numpy as np; from decensor import Decensor; "
              f"e = Decensor(models_dir={str(folder)!r}); hole = np.zeros((40, 50), bool); hole[10:20, 10:30] = True; "
              "e.fill_rgb(np.full((40, 50, 3), 200, np.uint8), hole); "
              "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, 'keras imported'")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-500:]


def test_a_network_passed_in_with_its_config_gets_the_patch_guess(tmp_path):
    from decensor.engine import Decensor
    from decensor.modelfile import load_model

    image, hole = _marked()
    folder = _patch_model_dir(tmp_path, 1.0)
    model, _ = load_model("bar", folder)
    engine = Decensor(model=model, config=PATCH_TINY, tile=64, margin=16)
    assert engine.prior_kind == "patch_fill"
    np.testing.assert_array_equal(engine.fill_rgb(image, hole),
                                  Decensor(models_dir=folder, tile=64, margin=16).fill_rgb(image, hole))


def test_trained_correction_changes_only_the_hole(tmp_path):
    from decensor.engine import Decensor
    from decensor.patchfill import fill_patches

    image, hole = _marked()
    engine = Decensor(models_dir=_patch_model_dir(tmp_path, 1.0), tile=64, margin=16)
    assert engine.model is not None
    filled = engine.fill_rgb(image, hole)
    assert (filled[hole] != fill_patches(image, hole)[hole]).any()
    np.testing.assert_array_equal(filled[~hole], image[~hole])


def test_warm_start_keeps_old_weights_where_they_fit_and_zero_for_the_new_input():
    import keras

    from decensor.modelfile import transfer_weights
    from decensor.network import build_network
    from decensor.training.train import _same_design

    keras.utils.set_random_seed(5)
    old = build_network(TINY)
    arrays = {v.path: np.asarray(v.numpy()) for v in old.weights}
    new = build_network(PATCH_TINY)
    assert not _same_design(TINY, PATCH_TINY) and _same_design(PATCH_TINY, replace(PATCH_TINY, widths=(4, 4, 4)))
    copied = transfer_weights(new, arrays, skip=("to_image",))
    weights = {v.path: np.asarray(v.numpy()) for v in new.weights}
    first = weights["encode_0/kernel"]
    old_first = arrays["encode_0/kernel"]
    np.testing.assert_array_equal(first[:, :, : old_first.shape[2]], old_first)
    assert not first[:, :, old_first.shape[2]:].any()
    np.testing.assert_array_equal(weights["decode_0/kernel"], arrays["decode_0/kernel"])
    assert not weights["to_image/kernel"].any()  # skipped: the new model starts at its guess
    assert copied == sum(1 for v in new.weights if not v.path.startswith("to_image"))


def test_a_mosaic_correction_that_adds_nothing_returns_its_first_guess(tmp_path):
    """The skipped-network path serves a mosaic prior's guess too, not only patch synthesis."""
    import keras

    from decensor.engine import Decensor
    from decensor.modelfile import save_weights
    from decensor.mosaic import Grid, MosaicPrior, pixelate
    from decensor.network import build_network

    config = replace(TINY, base_fill=False, prior_channels=MosaicPrior.channels, gated=False, name="mosaic")
    keras.utils.set_random_seed(3)
    save_weights(build_network(config), config, "mosaic", tmp_path, {"training": {"steps": 0}})
    engine = Decensor(model_name="mosaic", models_dir=tmp_path, tile=64, margin=16)
    assert engine.model is None and engine.prior_kind == "mosaic"

    image, region = _marked()
    grid = Grid(8, 3, 5)
    mosaicked, hole = pixelate(image, grid, region)
    guess = drawing(128, 160, seed=9)  # any page-sized first guess
    filled = engine.fill_rgb(mosaicked, hole, prior=MosaicPrior(mosaicked, hole, grid, guess=guess))
    np.testing.assert_array_equal(filled[hole], guess[hole])
    np.testing.assert_array_equal(filled[~hole], mosaicked[~hole])  # known pixels stay, whatever the guess
