import numpy as np
import pytest
from keras import ops

from decensor.network import build_network
from decensor.pconv import PartialConv2D

from helpers import TINY


def _layer(filters=4, kernel=3, strides=1, in_channels=3, mask_channels=1):
    layer = PartialConv2D(filters, kernel, strides=strides, bias_initializer="random_normal")
    layer.build(((None, None, None, in_channels), (None, None, None, mask_channels)))
    return layer


def test_all_valid_mask_equals_plain_convolution_inside_the_image():
    layer = _layer()
    x = np.random.default_rng(0).normal(size=(2, 12, 12, 3)).astype("float32")
    mask = np.ones((2, 12, 12, 1), "float32")
    out, new_mask = layer([x, mask])
    plain = ops.conv(x, layer.kernel, padding="valid") + layer.bias
    # Away from the zero-padded border every window is fully valid: scale is 1.
    np.testing.assert_allclose(np.asarray(out)[:, 1:-1, 1:-1], np.asarray(plain), rtol=1e-5, atol=1e-5)
    assert np.all(np.asarray(new_mask) == 1)


def test_border_windows_are_renormalised_as_partial():
    layer = _layer(filters=1, kernel=3)
    layer.kernel.assign(np.ones((3, 3, 3, 1), "float32"))
    layer.bias.assign(np.zeros((1,), "float32"))
    x = np.ones((1, 5, 5, 3), "float32")
    out, _ = layer([x, np.ones((1, 5, 5, 1), "float32")])
    # A constant image gives the same response at corners (4 valid of 9) as in the middle.
    np.testing.assert_allclose(np.asarray(out)[0, ..., 0], 27.0, rtol=1e-5)


def _network_with_a_live_last_layer(config=TINY, seed=1):
    """The network of ``config`` with a random last layer (as built it returns its guess exactly)."""
    model = build_network(config)
    to_image = model.get_layer("to_image")
    to_image.kernel.assign(np.random.default_rng(seed).normal(0, 0.1, to_image.kernel.shape).astype("float32"))
    return model


def test_pixels_under_the_hole_do_not_change_the_output():
    model = _network_with_a_live_last_layer()
    rng = np.random.default_rng(1)
    image = rng.random((1, 32, 32, 3)).astype("float32")
    guess = rng.random((1, 32, 32, 3)).astype("float32")
    mask = np.ones((1, 32, 32, 1), "float32")
    mask[:, 8:20, 10:26] = 0
    other = image.copy()
    other[:, 8:20, 10:26] = rng.random((1, 12, 16, 3))
    first, first_mask = model([image, mask, guess])
    second, second_mask = model([other, mask, guess])
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))
    np.testing.assert_array_equal(np.asarray(first_mask), np.asarray(second_mask))
    assert not np.allclose(np.asarray(first), guess)  # (the network does add something)


def test_an_untrained_network_returns_its_first_guess_exactly():
    model = build_network(TINY)
    rng = np.random.default_rng(2)
    image, guess = (rng.random((1, 32, 32, 3)).astype("float32") for _ in range(2))
    mask = np.ones((1, 32, 32, 1), "float32")
    mask[:, 8:20, 10:26] = 0
    np.testing.assert_array_equal(np.asarray(model([image, mask, guess])[0]), guess)


def test_mask_update_rule_and_zero_for_windows_that_saw_nothing():
    layer = _layer(filters=2, kernel=3)
    x = np.random.default_rng(2).normal(size=(1, 9, 9, 3)).astype("float32")
    mask = np.zeros((1, 9, 9, 1), "float32")
    mask[0, 4, 4] = 1  # a single valid pixel
    out, new_mask = layer([x, mask])
    expected = np.zeros((9, 9), "float32")
    expected[3:6, 3:6] = 1  # every 3x3 window that contains it
    np.testing.assert_array_equal(np.asarray(new_mask)[0, ..., 0], expected)
    out = np.asarray(out)[0]
    assert np.all(out[expected == 0] == 0), "a window with no valid pixel must give exactly 0 (no bias)"
    # One valid pixel in a 3x3 window: response is 9x that pixel's weighted sum plus bias.
    kernel = np.asarray(layer.kernel)
    manual = 9 * (x[0, 4, 4] @ kernel[1, 1]) + np.asarray(layer.bias)
    np.testing.assert_allclose(out[4, 4], manual, rtol=1e-5)


def test_strided_layer_downsamples_mask_and_features():
    layer = _layer(strides=2)
    out, new_mask = layer([np.zeros((1, 16, 16, 3), "float32"), np.ones((1, 16, 16, 1), "float32")])
    assert out.shape == (1, 8, 8, 4) and new_mask.shape == (1, 8, 8, 1)


def test_multichannel_mask_counts_per_channel():
    layer = _layer(filters=1, kernel=1, in_channels=2, mask_channels=2)
    layer.kernel.assign(np.ones((1, 1, 2, 1), "float32"))
    layer.bias.assign(np.zeros((1,), "float32"))
    x = np.full((1, 2, 2, 2), 3.0, "float32")
    mask = np.ones((1, 2, 2, 2), "float32")
    mask[..., 1] = 0  # second channel invalid everywhere
    out, _ = layer([x, mask])
    # one of two entries valid: 3 * (2 / 1)
    np.testing.assert_allclose(np.asarray(out), 6.0)


def test_wrong_mask_channels_are_rejected():
    with pytest.raises(ValueError):
        _layer(in_channels=3, mask_channels=2)


def test_layer_config_round_trip():
    layer = PartialConv2D(5, 3, strides=2, activation="relu", name="p")
    clone = PartialConv2D.from_config(layer.get_config())
    assert (clone.filters, clone.kernel_size, clone.strides) == (5, 3, 2)


def test_saved_and_reloaded_model_gives_identical_output(tmp_path):
    import keras

    from decensor.modelfile import load_model, save_weights

    keras.utils.set_random_seed(3)
    model = _network_with_a_live_last_layer(seed=3)
    card = save_weights(model, TINY, "bar", tmp_path)
    # Weights are stored as float16: compare against the model rounded the same way.
    for variable in model.weights:
        variable.assign(np.asarray(variable.numpy()).astype("float16").astype("float32"))
    reloaded, loaded_card = load_model("bar", tmp_path)
    x, guess = (np.random.default_rng(seed).random((1, 16, 16, 3)).astype("float32") for seed in (4, 5))
    mask = np.ones((1, 16, 16, 1), "float32")
    mask[:, 4:9, 4:12] = 0
    np.testing.assert_array_equal(np.asarray(model([x, mask, guess])[0]), np.asarray(reloaded([x, mask, guess])[0]))
    assert loaded_card["sha256"] == card["sha256"]


def test_a_mosaic_network_with_its_evidence_still_ignores_pixels_under_the_hole():
    from helpers import TINY_MOSAIC

    model = _network_with_a_live_last_layer(TINY_MOSAIC, seed=5)
    rng = np.random.default_rng(5)
    image = rng.random((1, 32, 32, 3)).astype("float32")
    guess_input = rng.random((1, 32, 32, 7)).astype("float32")
    mask = np.ones((1, 32, 32, 1), "float32")
    mask[:, 10:22, 6:20] = 0
    other = image.copy()
    other[:, 10:22, 6:20] = 0.123
    np.testing.assert_array_equal(np.asarray(model([image, mask, guess_input])[0]),
                                  np.asarray(model([other, mask, guess_input])[0]))
