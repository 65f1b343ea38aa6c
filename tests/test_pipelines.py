"""The two pipelines and their optional network stage: what each pixel of the hole passes through."""

import numpy as np
import pytest
from helpers import SHIPPED_MODELS, TINY, TINY_MOSAIC, drawing, save_tiny

from decensor.training.procedural import manga_page


def _marked():
    image = drawing(128, 160, seed=4)
    hole = np.zeros(image.shape[:2], bool)
    hole[40:70, 30:120] = True
    return image, hole


def _bar(folder):
    from decensor.bar import BarFill

    return BarFill.load(folder, tile=64, margin=16)


def test_a_zero_correction_is_skipped_and_the_hole_gets_exactly_the_patch_synthesis(tmp_path):
    from decensor import modelfile
    from decensor.correction import NetworkCorrection
    from decensor.inference import OnnxNetwork
    from decensor.patchfill import fill_patches

    image, hole = _marked()
    folder = save_tiny(TINY, "bar", tmp_path, correction_scale=0.0)
    pipeline = _bar(folder)
    assert not pipeline.correction.runs_network  # the zero correction is not even built
    painted = image.copy()
    painted[hole] = (0, 255, 0)
    filled = pipeline.fill(painted, hole)
    np.testing.assert_array_equal(filled, fill_patches(painted, hole))
    # Running the zero network anyway changes no pixel.
    config, arrays, card = modelfile.load_arrays("bar", folder)
    forced = NetworkCorrection(OnnxNetwork(config, arrays), config, card, tile=64, margin=16)
    np.testing.assert_array_equal(forced.apply(painted, hole, pipeline.first_guess(painted, hole)), filled)


def test_a_smoothed_correction_keeps_its_tone_drops_its_grain_and_stays_in_the_hole():
    from decensor.correction import smooth_correction

    rng = np.random.default_rng(3)
    guesses = rng.random((2, 40, 40, 5)).astype("float32")
    masks = np.ones((2, 40, 40, 1), "float32")
    masks[:, 10:30, 8:34] = 0
    hole = masks[..., 0] == 0
    grain = np.indices((40, 40)).sum(axis=0) % 2 * 0.1 - 0.05  # a checkerboard of +-0.05
    predicted = (guesses[..., :3] + (0.1 + grain)[None, ..., None]).astype("float32")
    change = smooth_correction(predicted, masks, guesses, 2.0) - guesses[..., :3]
    assert np.all(change[~hole] == 0)  # the known pixels keep the guess
    np.testing.assert_allclose(change[hole].mean(), 0.1, atol=0.005)  # the tone is kept...
    assert change[hole].std() < 0.01  # ...its grain is gone (it was 0.05)
    np.testing.assert_array_equal(smooth_correction(predicted, masks, guesses, 0.0), predicted)


def test_the_shipped_bar_model_is_run_as_its_card_says():
    from decensor import modelfile

    card = modelfile.read_card("bar", SHIPPED_MODELS)
    correction = _bar(SHIPPED_MODELS).correction
    assert correction.runs_network == (not card.get("zero_correction"))
    if correction.runs_network:
        assert correction.smoothing == card.get("correction_smoothing", 0.0)


@pytest.mark.parametrize("config", [TINY, TINY_MOSAIC], ids=["bar design", "mosaic design"])
def test_the_onnx_network_computes_what_the_keras_network_computes(config):
    import keras

    from decensor.inference import OnnxNetwork
    from decensor.network import build_network

    keras.utils.set_random_seed(4)
    model = build_network(config)
    rng = np.random.default_rng(4)
    for variable in model.weights:  # every layer live, the last one too
        variable.assign(rng.normal(0, 0.2, tuple(variable.shape)).astype("float32"))
    arrays = {v.path: np.asarray(v.numpy()) for v in model.weights}
    mask = np.ones((2, 64, 64, 1), "float32")
    mask[0, 10:40, 5:50] = 0
    mask[1, 30:64, 20:30] = 0
    image = rng.random((2, 64, 64, 3)).astype("float32") * mask
    guess = rng.random((2, 64, 64, config.guess_channels)).astype("float32")
    expected, expected_reach = (np.asarray(a) for a in model([image, mask, guess], training=False))
    output, reached = OnnxNetwork(config, arrays)(image, mask, guess)
    np.testing.assert_allclose(output, expected, atol=2e-5, rtol=1e-4)
    np.testing.assert_array_equal(reached, expected_reach)


@pytest.mark.parametrize("scale", [0.05, None, 0.0], ids=["tiny live network", "shipped model", "zero correction"])
def test_the_bar_pipeline_never_imports_tensorflow(tmp_path, scale):
    """A network that runs goes through ONNX Runtime (its graph written without the onnx package); a zero
    correction is not even built."""
    import subprocess
    import sys

    runs_network = scale != 0.0
    folder = SHIPPED_MODELS if scale is None else save_tiny(TINY, "bar", tmp_path, correction_scale=scale)
    script = ("import sys, numpy as np; from decensor.bar import BarFill; "
              f"p = BarFill.load({str(folder)!r}, tile=64, margin=16); hole = np.zeros((40, 50), bool); "
              "hole[10:20, 10:30] = True; p.fill(np.full((40, 50, 3), 200, np.uint8), hole); "
              f"assert p.correction.runs_network == {runs_network}; "
              "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, 'keras imported'; "
              "assert 'onnx' not in sys.modules, 'onnx imported'")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-500:]


def test_a_trained_correction_runs_and_changes_only_the_hole(tmp_path):
    from decensor.patchfill import fill_patches

    image, hole = _marked()
    pipeline = _bar(save_tiny(TINY, "bar", tmp_path, correction_scale=0.05))
    assert pipeline.correction.runs_network
    filled = pipeline.fill(image, hole)
    assert (filled[hole] != fill_patches(image, hole)[hole]).any()
    np.testing.assert_array_equal(filled[~hole], image[~hole])


def test_a_model_of_the_other_pipeline_is_refused(tmp_path):
    from decensor.bar import BarFill
    from decensor.modelfile import ModelFileError

    save_tiny(TINY_MOSAIC, "bar", tmp_path, correction_scale=0.0)
    with pytest.raises(ModelFileError, match="corrects a mosaic guess"):
        BarFill.load(tmp_path)


def test_a_card_of_the_removed_push_pull_design_is_refused_with_a_reason(tmp_path):
    import json
    import shutil

    from decensor.bar import BarFill
    from decensor.modelfile import ModelFileError, sha256_of

    for name in ("bar.npz", "bar.json"):
        shutil.copy(SHIPPED_MODELS / name, tmp_path / name)
    card = json.loads((tmp_path / "bar.json").read_text())
    card["network"].update(base_fill=True, gated=True, prior_channels=0)
    card["sha256"] = sha256_of(tmp_path / "bar.npz")
    (tmp_path / "bar.json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="push-pull"):
        BarFill.load(tmp_path)


def test_a_mosaic_correction_that_adds_nothing_returns_its_first_guess(tmp_path):
    from decensor.mosaic import Grid, MosaicRestoration, pixelate

    save_tiny(TINY, "bar", tmp_path, correction_scale=0.0)
    save_tiny(TINY_MOSAIC, "mosaic", tmp_path, correction_scale=0.0)
    restoration = MosaicRestoration.load(tmp_path, tile=64, margin=16)
    assert not restoration.correction.runs_network
    image, region = _marked()
    grid = Grid(8, 3, 5)
    mosaicked, hole = pixelate(image, grid, region)
    restored, used = restoration.restore(mosaicked, hole, grid)
    assert used == grid
    np.testing.assert_array_equal(restored, restoration.first_guess(mosaicked, hole, grid).page)
    np.testing.assert_array_equal(restored[~hole], mosaicked[~hole])


def test_a_mosaic_correction_starts_at_its_first_guess_and_keeps_the_block_means(tmp_path):
    from decensor.mosaic import Grid, MosaicRestoration, block_means, pixelate

    save_tiny(TINY, "bar", tmp_path, correction_scale=0.0)
    save_tiny(TINY_MOSAIC, "mosaic", tmp_path, correction_scale=0.05)
    restoration = MosaicRestoration.load(tmp_path, tile=64, margin=16)
    assert restoration.correction.runs_network
    _, region = _marked()
    image = np.repeat(manga_page((128, 160), seed=3)[..., None], 3, -1)  # (blocks the guess is not sure of)
    grid = Grid(8, 0, 6)
    mosaicked, hole = pixelate(image, grid, region)
    restored, _ = restoration.restore(mosaicked, hole, grid)
    guess = restoration.first_guess(mosaicked, hole, grid)
    assert (restored != guess.page).sum() > 0.5 * (hole & ~guess.sure).sum()
    np.testing.assert_array_equal(restored[guess.sure], guess.page[guess.sure])
    np.testing.assert_array_equal(restored[~hole], mosaicked[~hole])
    inside = (slice(6, 8), slice(5, 14))  # whole blocks inside the region
    assert np.abs(block_means(restored, grid)[0][inside] - block_means(mosaicked, grid)[0][inside]).max() <= 1.0


def test_a_mosaic_region_without_a_grid_is_filled_like_a_bar(tmp_path):
    from decensor.mosaic import MosaicRestoration

    save_tiny(TINY, "bar", tmp_path, correction_scale=0.0)
    save_tiny(TINY_MOSAIC, "mosaic", tmp_path, correction_scale=0.05)
    restoration = MosaicRestoration.load(tmp_path, tile=64, margin=16)
    image, hole = _marked()  # no mosaic at all under the hole
    restored, grid = restoration.restore(image, hole)
    assert grid is None
    np.testing.assert_array_equal(restored, restoration.without_grid.fill(image, hole))
