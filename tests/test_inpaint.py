import numpy as np
import pytest
from helpers import drawing

from decensor.inpaint import InpaintError, inpaint


def mean_colour_predictor(reach=None):
    """Fills with the mean of the known pixels; optionally only within ``reach`` px of them."""
    from scipy import ndimage

    calls = []

    def predict(images, masks):
        calls.append(len(images))
        out = np.empty_like(images)
        reached = np.ones_like(masks)
        for i, (image, mask) in enumerate(zip(images, masks)):
            known = mask[..., 0] > 0.5
            colour = image[known].mean(axis=0) if known.any() else np.zeros(3)
            out[i] = colour
            if reach is not None:
                distance = ndimage.distance_transform_edt(~known)
                reached[i, ..., 0] = distance <= reach
            if not known.any():
                reached[i] = 0
        return out, reached

    predict.calls = calls
    return predict


def test_known_pixels_untouched_and_every_hole_pixel_filled():
    page = drawing(200, 300)
    hole = np.zeros(page.shape[:2], bool)
    hole[40:90, 50:140] = True
    hole[150:170, 200:290] = True
    result = inpaint(page, hole, mean_colour_predictor(), tile=64, margin=16)
    np.testing.assert_array_equal(result[~hole], page[~hole])
    assert not np.all(result[hole] == page[hole])


def test_a_region_larger_than_many_tiles_is_filled_completely_from_the_rim():
    page = drawing(300, 300)
    hole = np.zeros(page.shape[:2], bool)
    hole[20:280, 20:280] = True  # far larger than a 64 px tile
    predictor = mean_colour_predictor(reach=10)
    result = inpaint(page, hole, predictor, tile=64, margin=16)
    np.testing.assert_array_equal(result[~hole], page[~hole])
    filled = result[hole].astype(int)
    # The mean-colour fill is grey-ish; green (0,255,0)-like values would mean unfilled paint.
    assert len(predictor.calls) > 1
    assert np.abs(filled - filled.mean(axis=0)).max() < 60


def test_batches_never_exceed_batch_size():
    page = drawing(256, 256)
    hole = np.zeros(page.shape[:2], bool)
    hole[10:250, 10:250] = True
    predictor = mean_colour_predictor()
    inpaint(page, hole, predictor, tile=64, margin=16, batch_size=3)
    assert max(predictor.calls) <= 3


def test_whole_image_marked_is_an_error():
    page = drawing(32, 32)
    with pytest.raises(InpaintError):
        inpaint(page, np.ones((32, 32), bool), mean_colour_predictor(), tile=64)


def test_no_hole_returns_copy():
    page = drawing(32, 32)
    result = inpaint(page, np.zeros((32, 32), bool), mean_colour_predictor(), tile=64)
    np.testing.assert_array_equal(result, page)
    assert result is not page


def test_tiles_blend_without_a_seam():
    # A predictor whose output depends on tile position would show seams; the
    # blend must make neighbouring pixels across tile borders close.
    page = np.full((128, 400, 3), 128, np.uint8)
    hole = np.zeros((128, 400), bool)
    hole[40:90, 10:390] = True

    def position_predictor(images, masks):
        out = np.empty_like(images)
        for i in range(len(images)):
            out[i] = np.random.default_rng(i).uniform(0.3, 0.7)
        return out, np.ones_like(masks)

    result = inpaint(page, hole, position_predictor, tile=64, margin=16).astype(int)
    row = result[64, 10:390, 0]
    assert np.abs(np.diff(row)).max() <= 12
