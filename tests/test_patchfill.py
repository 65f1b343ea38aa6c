import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from decensor.evaluation import hole_psnr, local_contrast
from decensor.patchfill import DEFAULT_SETTINGS, fill_patches, texture_channel
from decensor.training.procedural import manga_page


def _dot_tone(size=128, period=6):
    rows, cols = np.mgrid[:size, :size]
    dots = (np.sin(cols * 2 * np.pi / period) + np.sin(rows * 2 * np.pi / period)) > 0.5
    gray = np.where(dots, 51, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def test_screentone_keeps_its_pattern_across_a_bar():
    image = _dot_tone()
    hole = np.zeros(image.shape[:2], bool)
    hole[40:80, 30:90] = True
    damaged = image.copy()
    damaged[hole] = (0, 255, 0)
    filled = fill_patches(damaged, hole)
    # A grey smear of the right mean would score about 6 dB here.
    assert hole_psnr(filled / 255.0, image / 255.0, hole) > 30
    # Only dots and paper: copies may be shifted a grey level or two (see
    # MATCH_BRIGHTNESS), but nothing in between, which a smear would give.
    values = filled[hole].astype(int)
    assert np.all((np.abs(values - 51) <= 3) | (np.abs(values - 255) <= 3))
    assert np.mean(np.abs(values - 51) <= 3) > 0.2  # and the dots are there


def test_known_pixels_and_hole_contents_do_not_matter_outside_the_hole():
    page = np.repeat(manga_page((192, 192), seed=4)[..., None], 3, -1)
    hole = np.zeros(page.shape[:2], bool)
    hole[50:90, 20:140] = True
    hole[150:160, 100:180] = True
    first = page.copy()
    second = page.copy()
    second[hole] = 7  # whatever hides under the hole must not leak into the fill
    filled_first = fill_patches(first, hole)
    filled_second = fill_patches(second, hole)
    np.testing.assert_array_equal(filled_first[~hole], page[~hole])
    np.testing.assert_array_equal(filled_first, filled_second)


def test_same_result_every_run_and_grey_stays_grey():
    page = np.repeat(manga_page((128, 128), seed=9)[..., None], 3, -1)
    hole = np.zeros(page.shape[:2], bool)
    hole[30:60, 30:100] = True
    once = fill_patches(page, hole)
    again = fill_patches(page, hole)
    np.testing.assert_array_equal(once, again)
    assert (once[..., 0] == once[..., 1]).all() and (once[..., 1] == once[..., 2]).all()


def test_colour_flat_fill_and_float_input():
    image = np.zeros((64, 96, 3), np.float32)
    image[:, :48] = (0.9, 0.2, 0.1)
    image[:, 48:] = (0.1, 0.3, 0.8)
    hole = np.zeros((64, 96), bool)
    hole[20:40, 10:30] = True   # inside the red half
    hole[20:40, 60:85] = True   # inside the blue half
    filled = fill_patches(image, hole)
    assert filled.dtype == np.float32
    np.testing.assert_allclose(filled, image, atol=1e-5)


@pytest.mark.parametrize("shape", [(9, 9), (16, 200), (200, 12)])
def test_small_and_thin_windows_are_filled_without_error(shape):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
    hole = np.zeros(shape, bool)
    hole[shape[0] // 3 : shape[0] // 3 + 3, shape[1] // 3 : shape[1] // 3 + 3] = True
    filled = fill_patches(image, hole)
    np.testing.assert_array_equal(filled[~hole], image[~hole])
    assert filled.shape == image.shape


def test_fine_hatching_under_a_thick_bar_comes_back_as_hatching_not_grey():
    rows, cols = np.mgrid[:160, :240]
    lines = (rows + cols) % 12 == 0  # thin diagonal hatching, wider apart than a patch
    gray = np.where(lines, 40, 170).astype(np.uint8)
    image = np.repeat(gray[..., None], 3, axis=-1)
    hole = np.zeros(gray.shape, bool)
    hole[60:96, 40:200] = True
    filled = fill_patches(image, hole)[..., 0].astype(np.float32)
    truth = gray.astype(np.float32)
    # A grey bar (the mean of the hatching) would have almost no spread.
    assert filled[hole].std() > 0.7 * truth[hole].std()
    assert hole_psnr(filled / 255.0, truth / 255.0, hole) > 20


def test_a_gradient_under_a_band_is_continued_at_the_right_brightness():
    """The grey levels under a full-height band exist nowhere else on the page:
    plain copies come from the sides (24 dB, steps of 23 levels);
    brightness-matched copies continue the gradient."""
    rows, cols = np.mgrid[:128, :160]
    gradient = 40 + 180 * cols / 159
    image = np.repeat(gradient[..., None], 3, axis=-1).round().astype(np.uint8)
    hole = np.zeros(image.shape[:2], bool)
    hole[:, 60:100] = True
    filled = fill_patches(image, hole)
    assert hole_psnr(filled / 255.0, image / 255.0, hole) > 40
    assert np.abs(filled[hole].astype(int) - image[hole]).max() <= 3


def test_coarser_levels_keep_every_pixel_that_anything_known_lies_under():
    # A thin line along a hole's rim must survive into the coarse levels
    # that decide where lines run; a coarse pixel is a hole only when all of
    # the four pixels under it are.
    from decensor.patchfill import _halve

    image = np.full((4, 6, 1), 200.0, np.float32)
    image[:, 1] = 0.0  # a one-pixel line
    hole = np.zeros((4, 6), bool)
    hole[:, 0] = True  # the hole's edge runs beside the line
    hole[:, 4:] = True
    coarse, coarse_hole = _halve(image, hole)
    assert coarse_hole.tolist() == [[False, False, True], [False, False, True]]
    assert np.allclose(coarse[:, 0, 0], 0.0)  # the line's own value, not diluted by the hole's paint
    assert np.allclose(coarse[:, 1, 0], 200.0)


def test_pyramid_depth_follows_the_deepest_mark_however_far_apart_the_marks_lie():
    # Measured mark by mark over each mark's own box: a wide window of small
    # marks is as deep as its deepest mark, and a bar along the window's edge
    # counts from the known pixels beside it.
    from decensor.patchfill import _hole_depth

    hole = np.zeros((300, 400), bool)
    hole[10:31, 10:31] = True  # 21 px square: 11 px deep
    hole[250:255, 300:390] = True  # 5 px band: 3 px deep
    hole[100:200, 0:4] = True  # band on the left edge: 4 px deep, known only to its right
    assert _hole_depth(hole) == pytest.approx(11.0)
    hole[10:31, 10:31] = False
    assert _hole_depth(hole) == pytest.approx(4.0)
    assert _hole_depth(np.zeros((5, 5), bool)) == 0.0


def test_texture_channel_counts_steps_between_known_pixels_only():
    image = np.full((32, 64, 3), 50.0, np.float32)
    image[:, :32] = (np.arange(32) % 2 * 100.0)[None, :, None]  # one-pixel stripes on the left
    hole = np.zeros((32, 64), bool)
    hole[10:20, 44:54] = True
    image[hole] = (0.0, 255.0, 0.0)  # whatever the paint is must not count as texture
    texture = texture_channel(image, hole)
    np.testing.assert_allclose(texture[4:28, 4:28], 50.0)  # steps of 100 across, none down: 50 on average
    assert texture[:, 34:].max() == 0.0  # flat paper around the hole, and inside it


def test_tone_beside_flat_paper_of_its_own_mean_is_filled_as_tone():
    """The smudge: averaged down the pyramid, hatching looks like the flat grey
    beside it, and the hole copies flat paper. The texture channel tells them apart."""
    rows, cols = np.mgrid[:192, :256]
    gray = np.where((rows + 2 * cols) % 7 < 2, 40, 220).astype(np.float32)
    gray[:96, 128:] = round(float(gray.mean()))  # flat paper of the hatching's own mean
    gray[:, 126:130] = 0  # a frame line between them
    image = np.repeat(gray.astype(np.uint8)[..., None], 3, -1)
    hole = np.zeros(gray.shape, bool)
    hole[70:126, 40:200] = True

    def contrast_kept(settings):
        filled = fill_patches(image, hole, settings=settings)[..., 0] / 255.0
        return local_contrast(filled)[hole].mean() / local_contrast(gray / 255.0)[hole].mean()

    assert contrast_kept(DEFAULT_SETTINGS) > 0.9
    assert contrast_kept(dataclasses.replace(DEFAULT_SETTINGS, texture_weight=0.0)) < 0.85  # (what it fixes)


def test_where_copies_disagree_the_last_vote_takes_one_of_them_not_their_mean():
    rng = np.random.default_rng(3)
    blobs = ndimage.gaussian_filter(rng.random((160, 160)), 3) > 0.5  # black shapes on white, no tone
    image = np.where(blobs, 0, 255).astype(np.uint8)
    hole = np.zeros(image.shape, bool)
    hole[50:110, 30:130] = True

    def greys(settings):  # share of the hole filled with values the page does not have
        values = fill_patches(image, hole, settings=dataclasses.replace(settings, match_brightness=False))[hole]
        return np.mean((values > 8) & (values < 247))

    assert greys(DEFAULT_SETTINGS) < 0.005
    assert greys(dataclasses.replace(DEFAULT_SETTINGS, median_last_vote=False)) > 0.03


@pytest.mark.parametrize("edge", [False, True])
def test_a_new_estimate_refreshes_the_kept_padded_copy_as_a_fresh_copy_would_be(edge):
    # A level keeps one padded copy of its estimate and rewrites only the hole's pixels for the next
    # estimate; where the hole reaches the window's edge the replicated border must follow it too.
    from decensor.patchfill import _Level

    rng = np.random.default_rng(4)
    image = rng.uniform(0, 255, (40, 50, 3)).astype(np.float32)
    hole = np.zeros((40, 50), bool)
    hole[10:25, 0 if edge else 12:30] = True
    level = _Level(image, hole, DEFAULT_SETTINGS, 3)
    level._flat_of(image)
    estimate = image.copy()
    estimate[hole] = rng.uniform(0, 255, (int(hole.sum()), 3))
    assert np.array_equal(level._flat_of(estimate), level._flat(estimate))


def test_the_carried_field_doubles_each_parents_match_and_keeps_the_offset_inside_it():
    from decensor.patchmatch import carry_field

    coarse = np.zeros((3, 4, 2), np.int32)
    coarse[1, 2] = (2, 3)
    coarse[2, 3] = (2, 3)
    field = np.full((6, 7, 2), -1, np.int32)
    carry_field(coarse, 2, 6, 4, 7, field)
    assert field[2, 4].tolist() == [4, 6]  # parent (1, 2), offset (0, 0) inside it
    assert field[3, 5].tolist() == [5, 6]  # parent (1, 2), offset (1, 1): (5, 7), clipped to the level
    assert field[5, 6].tolist() == [5, 6]  # parent (2, 3), offset (1, 0)
    assert field[4, 4].tolist() == [0, 0]  # parent (2, 2) matched (0, 0)
    assert (field[:2] == -1).all() and (field[:, :4] == -1).all()  # outside the box: untouched


def test_the_compiled_loops_threads_sleep_after_a_short_spin_unless_the_user_chose_otherwise():
    import os
    import subprocess
    import sys

    script = "import os, decensor.patchmatch; print(os.environ['GOMP_SPINCOUNT'])"
    env = {key: value for key, value in os.environ.items() if key != "GOMP_SPINCOUNT"}
    ours = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    theirs = subprocess.run([sys.executable, "-c", script], env={**env, "GOMP_SPINCOUNT": "7"},
                            capture_output=True, text=True, check=True)
    assert (ours.stdout.strip(), theirs.stdout.strip()) == ("3000", "7")
