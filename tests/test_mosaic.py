import io

import numpy as np
import pytest
from PIL import Image

from decensor.mosaic import Grid, block_means, estimate_grid, find_mosaic, pixelate
from decensor.training.procedural import manga_page


def _page(seed=3):
    return np.repeat(manga_page((384, 384), seed=seed)[..., None], 3, -1)


@pytest.mark.parametrize("size,offset_y,offset_x", [(4, 1, 3), (8, 5, 2), (13, 5, 11), (24, 7, 19), (32, 0, 30)])
def test_grid_is_recovered_in_a_marked_region(size, offset_y, offset_x):
    region = np.zeros((384, 384), bool)
    region[60:300, 80:330] = True
    grid = Grid(size, offset_y, offset_x)
    mosaicked, mask = pixelate(_page(), grid, region)
    assert estimate_grid(mosaicked, mask) == grid


def test_grid_survives_jpeg_for_a_common_block_size():
    region = np.zeros((384, 384), bool)
    region[60:300, 80:330] = True
    grid = Grid(12, 3, 7)
    mosaicked, mask = pixelate(_page(5), grid, region)
    buffer = io.BytesIO()
    Image.fromarray(mosaicked).save(buffer, "JPEG", quality=90)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
    assert estimate_grid(decoded, mask) == grid


def test_block_means_are_what_pixelate_paints():
    page = _page()
    grid = Grid(8, 2, 5)
    mosaicked, mask = pixelate(page, grid, np.ones((384, 384), bool))
    means, (top, left) = block_means(page, grid)
    assert (top, left) == (2, 5)
    np.testing.assert_allclose(mosaicked[2:10, 5:13].astype(float), np.broadcast_to(np.round(means[0, 0]), (8, 8, 3)))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_no_mosaic_found_on_clean_pages(seed):
    found, regions = find_mosaic(_page(seed))
    assert regions == [] and not found.any()


def test_no_mosaic_found_on_flat_colour_or_gradients():
    flat = np.full((256, 256, 3), (200, 120, 40), np.uint8)
    ramp = np.repeat(np.linspace(0, 255, 256)[None, :, None], 256, 0).repeat(3, 2).astype(np.uint8)
    for image in (flat, ramp):
        assert find_mosaic(image)[1] == []


def test_rectangular_mosaic_is_found_without_marks():
    region = np.zeros((384, 384), bool)
    region[64:320, 96:352] = True
    grid = Grid(16, 0, 0)
    mosaicked, truth = pixelate(_page(7), grid, region)
    found, regions = find_mosaic(mosaicked)
    assert regions and regions[0][0] == grid
    hit = (found & truth).sum()
    assert hit / found.sum() >= 0.9 and hit / truth.sum() >= 0.8


def test_mosaic_prior_tiles_match_the_whole_page_bicubic_means():
    from decensor.mosaic import MosaicPrior, upsample_block_means
    from decensor.regions import Box

    region = np.zeros((384, 384), bool)
    region[64:320, 96:352] = True
    grid = Grid(8, 3, 5)
    mosaicked, hole = pixelate(_page(2), grid, region)
    prior = MosaicPrior(mosaicked, hole, grid)
    means, origin = block_means(mosaicked, grid)
    whole, _ = upsample_block_means(means, grid, origin, hole.shape)
    tile = prior(Box(100, 120, 164, 184))
    expected = np.where(hole[100:164, 120:184, None], whole[100:164, 120:184] / 255, mosaicked[100:164, 120:184] / 255)
    np.testing.assert_allclose(tile[..., :3], np.clip(expected, 0, 1), atol=2e-3)
    assert np.all(tile[..., 3][hole[100:164, 120:184]] == 8 / 32)
    outside = prior(Box(-64, -64, 0, 0))
    assert not outside.any()
