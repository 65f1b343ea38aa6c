import io

import numpy as np
import pytest
from helpers import smooth_shading
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


def test_candidate_grids_vote_for_the_mosaic_grid():
    from decensor.mosaic import candidate_grids

    region = np.zeros((384, 384), bool)
    region[40:200, 150:330] = True
    grid = Grid(11, 4, 9)
    mosaicked, _ = pixelate(_page(8), grid, region)
    candidates = candidate_grids(mosaicked.mean(axis=-1))
    best = max(candidates, key=lambda g: candidates[g].votes)
    assert best == grid
    # The voting windows lie around the mosaic.
    box = candidates[best].box
    assert box.top <= 40 + 64 and box.bottom >= 200 - 64 and box.left <= 150 + 64 and box.right >= 330 - 64


def test_mosaic_touching_the_page_edge_is_found_to_the_edge():
    region = np.zeros((384, 384), bool)
    region[:, 240:] = True  # down the whole right side
    grid = Grid(12, 0, 0)
    mosaicked, truth = pixelate(_page(9), grid, region)
    found, regions = find_mosaic(mosaicked)
    assert regions
    assert (found & truth).sum() / truth.sum() >= 0.95
    assert found[-12:, -12:].all() and found[:12, -12:].all()


def test_mosaic_over_an_even_texture_is_found_whole():
    # Diagonal hatching averages to one grey in every block: no steps inside
    # that part of the mosaic, only its grid-aligned edge against the texture.
    page = _page(10).copy()
    yy, xx = np.mgrid[:384, :384]
    hatching = np.where((yy + xx) % 6 < 2, 0, 255).astype(np.uint8)
    page[:, 192:] = hatching[:, 192:, None]
    region = np.zeros((384, 384), bool)
    region[96:288, 96:320] = True
    grid = Grid(16, 0, 0)
    mosaicked, truth = pixelate(page, grid, region)
    found, _ = find_mosaic(mosaicked)
    textured = truth.copy()
    textured[:, :208] = False
    assert (found & textured).sum() / textured.sum() >= 0.95
    assert (found & ~truth).sum() <= 16 * 16 * 2


def test_mosaic_rim_against_hatching_is_found_after_jpeg():
    # JPEG ringing from the hatching leaks into the mosaic's rim blocks, which
    # then fail the plain flatness test; the rim must still join the region.
    page = _page(10).copy()
    yy, xx = np.mgrid[:384, :384]
    page[:, 192:] = np.where((yy + xx) % 6 < 2, 0, 255).astype(np.uint8)[:, 192:, None]
    region = np.zeros((384, 384), bool)
    region[90:290, 100:310] = True
    mosaicked, truth = pixelate(page, Grid(9, 3, 5), region)
    buffer = io.BytesIO()
    Image.fromarray(mosaicked).save(buffer, "JPEG", quality=75)
    found, _ = find_mosaic(np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")))
    over_hatching = truth.copy()
    over_hatching[:, :200] = False
    assert (found & over_hatching).sum() / over_hatching.sum() >= 0.98
    assert (found & truth).sum() / found.sum() >= 0.95


def test_blob_mosaic_over_art_is_found_without_the_paper_around_it():
    from decensor.training.holes import hole_mask

    rng = np.random.default_rng(4)
    page = _page(11)
    region = hole_mask((384, 384), rng, "blobs", (0.1, 0.2))
    grid = Grid(8, 3, 5)
    mosaicked, painted = pixelate(page, grid, region)
    changed = np.abs(mosaicked.astype(int) - page).max(axis=-1) > 0
    found, _ = find_mosaic(mosaicked)
    # Blocks the mosaic did not change are the same pixels either way: scored neither way.
    block_changed = np.kron(
        changed[3 : 3 + 47 * 8, 5 : 5 + 47 * 8].reshape(47, 8, 47, 8).any(axis=(1, 3)), np.ones((8, 8), bool)
    )
    truth = np.zeros_like(painted)
    truth[3 : 3 + 47 * 8, 5 : 5 + 47 * 8] = block_changed
    truth &= painted
    scored = found & ~(painted & ~truth)
    assert (scored & truth).sum() / scored.sum() >= 0.95
    assert (scored & truth).sum() / truth.sum() >= 0.9


def test_mosaic_guess_tiles_match_the_whole_page_bicubic_means():
    from decensor.mosaic import MosaicGuess, upsample_block_means
    from decensor.regions import Box

    region = np.zeros((384, 384), bool)
    region[64:320, 96:352] = True
    grid = Grid(8, 3, 5)
    mosaicked, hole = pixelate(_page(2), grid, region)
    guess = MosaicGuess(np.full_like(mosaicked, 77), mosaicked, hole, grid, sure=np.zeros_like(hole))
    means, origin = block_means(mosaicked, grid)
    whole, _ = upsample_block_means(means, grid, origin, hole.shape)
    tile = guess.tile(Box(100, 120, 164, 184))
    assert tile.shape[-1] == MosaicGuess.channels
    # The first guess leads, the evidence follows.
    np.testing.assert_allclose(tile[..., :3], 77 / 255)
    expected = np.where(hole[100:164, 120:184, None], whole[100:164, 120:184] / 255, mosaicked[100:164, 120:184] / 255)
    np.testing.assert_allclose(tile[..., 3:6], np.clip(expected, 0, 1), atol=2e-3)
    assert np.all(tile[..., 6][hole[100:164, 120:184]] == 8 / 32)
    assert not guess.evidence(Box(-64, -64, 0, 0)).any()


def test_patch_synthesis_guided_by_block_means_keeps_them_and_the_known_pixels():
    from decensor.mosaic import block_mean_guide
    from decensor.patchfill import fill_patches

    page = _page(7)
    region = np.zeros(page.shape[:2], bool)
    region[100:260, 90:300] = True
    grid = Grid(12, 5, 9)
    mosaicked, hole = pixelate(page, grid, region)
    plain = fill_patches(mosaicked, hole)
    guided = fill_patches(mosaicked, hole, guide=block_mean_guide(mosaicked, grid, hole))
    np.testing.assert_array_equal(guided[~hole], mosaicked[~hole])
    wanted, _ = block_means(mosaicked, grid)

    def error(image):
        means, _ = block_means(image, grid)
        return np.abs(means - wanted).mean()

    # Unguided, the fill only knows the surroundings; guided, it follows the mosaic.
    assert error(guided) < 0.5 * error(plain)
    assert error(guided) < 4.0


def _shaded_page(axis):
    """A page of one-way shading (a ramp down the page, or across it) with a dark frame."""
    ramp = np.linspace(40, 220, 384)
    shading = np.repeat(ramp[:, None], 384, axis=1) if axis == 0 else np.repeat(ramp[None, :], 384, axis=0)
    page = np.repeat(shading[..., None], 3, axis=-1).round().astype(np.uint8)
    page[:6], page[-6:], page[:, :6], page[:, -6:] = 0, 0, 0, 0
    return page


def _jpeg(pixels, quality):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


@pytest.mark.parametrize("axis,grid", [(0, Grid(20, 16, 15)), (1, Grid(17, 3, 9))])
@pytest.mark.parametrize("quality", [None, 80])
def test_mosaic_over_one_way_shading_is_found_with_its_grid(axis, grid, quality):
    # The blocks step only down the shading: no grid both ways to prove.
    region = np.zeros((384, 384), bool)
    region[100:280, 70:300] = True
    mosaicked, truth = pixelate(_shaded_page(axis), grid, region)
    pixels = mosaicked if quality is None else _jpeg(mosaicked, quality)
    found, regions = find_mosaic(pixels)
    assert [g for g, _ in regions] == [grid]
    hit = (found & truth).sum()
    assert hit / found.sum() >= 0.95 and hit / truth.sum() >= 0.9


def test_stripes_lines_and_banding_are_not_banded_mosaics():
    rows = np.arange(384)[:, None]
    alternating = np.where((rows // 16) % 2, 60, 200) + np.zeros((1, 384))
    flag = np.select([rows < 128, rows < 256], [20, 110], 200) + np.zeros((1, 384))
    thick_line = np.where((rows >= 180) & (rows < 196), 10, 240) + np.zeros((1, 384))
    eight_bit_banding = np.floor(np.linspace(100, 124, 384))[:, None] + np.zeros((1, 384))
    short_staircase = np.select([rows < 150, rows < 166, rows < 182], [30, 90, 150], 210) + np.zeros((1, 384))
    for plane in (alternating, flag, thick_line, eight_bit_banding, short_staircase):
        for image in (plane, plane.T):
            pixels = np.repeat(image[..., None], 3, axis=-1).astype(np.uint8)
            assert find_mosaic(pixels)[1] == []


@pytest.mark.parametrize("voted", [Grid(12, 6, 7), Grid(12, 5, 6), Grid(12, 4, 8)])
def test_a_grid_voted_a_pixel_off_is_moved_onto_the_mosaic_lines(voted):
    from decensor.mosaic.grid import as_float_gray
    from decensor.mosaic.votes import line_steps, refine_offsets
    from decensor.regions import Box

    region = np.zeros((384, 384), bool)
    region[60:300, 80:330] = True
    mosaicked, _ = pixelate(_page(5), Grid(12, 5, 7), region)
    gray = as_float_gray(_jpeg(mosaicked, 80))
    for area in (Box(0, 0, 384, 384), Box(40, 30, 320, 360)):
        assert refine_offsets(line_steps(gray[area.slices]), voted, area) == Grid(12, 5, 7)


def _training_page_with_mosaic(seed, grid, rectangle, quality):
    """A 512 px procedural page of the training split with one rectangular mosaic, through JPEG: (pixels, truth)."""
    page = np.repeat(manga_page((512, 512), seed=seed)[..., None], 3, -1)
    region = np.zeros((512, 512), bool)
    region[rectangle] = True
    mosaicked, truth = pixelate(page, grid, region)
    return _jpeg(mosaicked, quality), truth


def test_a_mosaic_whose_votes_miss_its_offsets_is_found_where_its_blocks_are_flattest():
    # A mosaic over hatching whose blocks differ side by side by only a few
    # grey levels: its boxes are flat at several horizontal offsets, and the
    # votes for its grid all land on wrong ones. (A training-split page.)
    from decensor.mosaic import DEFAULT_DETECTION, candidate_grids
    from decensor.mosaic.grid import as_float_gray
    from decensor.mosaic.votes import box_tables, settle_offsets
    from decensor.regions import Box

    grid = Grid(13, 1, 5)
    decoded, truth = _training_page_with_mosaic(2_002_074, grid, np.s_[14:222, 356:421], 79)
    gray = as_float_gray(decoded)
    assert grid not in candidate_grids(gray)
    assert settle_offsets(box_tables(gray), Box(0, 256, 300, 512), 13, DEFAULT_DETECTION) == grid
    found, regions = find_mosaic(decoded)
    assert [g for g, _ in regions] == [grid]
    assert (found & truth).sum() / truth.sum() >= 0.95 and (found & ~truth).sum() == 0


def test_a_mosaic_over_a_grainy_texture_does_not_grow_into_the_texture_around_it():
    # Fine grain over soft shading (wood, stone, a painted wall): its 13 px
    # blocks pass the absolute flatness test and step on every line, but they
    # are far less flat than the mosaic's own blocks.
    from scipy import ndimage

    rng = np.random.default_rng(1)
    shading = ndimage.gaussian_filter(rng.normal(0, 1, (384, 384)), 4)
    grey = 140 + 6 * shading / shading.std() + rng.normal(0, 2.5, (384, 384))
    page = np.clip(np.stack([grey * 1.2, grey * 0.7, grey * 0.5], -1), 0, 255).astype(np.uint8)
    region = np.zeros((384, 384), bool)
    region[100:260, 120:300] = True
    mosaicked, painted = pixelate(page, Grid(13, 7, 2), region)
    found, _ = find_mosaic(mosaicked)
    assert (found & painted).sum() >= 0.95 * painted.sum()
    assert (found & ~painted).sum() <= 0.05 * found.sum()  # (without the relative test: 78 % outside)


def test_a_small_mosaic_far_off_on_a_grid_proven_elsewhere_is_found():
    # One block of detail, in the middle of an even texture, is too little to
    # prove a grid; a mosaic across the page has proven it already.
    page = np.repeat(manga_page((768, 768), seed=10)[..., None], 3, -1).copy()
    yy, xx = np.mgrid[:768, :768]
    page[512:, 512:] = np.where((yy + xx) % 6 < 2, 0, 255).astype(np.uint8)[512:, 512:, None]
    page[612:618, 612:618] = 0
    grid = Grid(16, 0, 0)
    proving, small = np.zeros((768, 768), bool), np.zeros((768, 768), bool)
    proving[32:224, 32:224] = True
    small[592:640, 592:640] = True
    mosaicked, _ = pixelate(page, grid, proving)
    mosaicked, truth = pixelate(mosaicked, grid, small)
    found, regions = find_mosaic(_jpeg(mosaicked, 85))
    assert found[truth].all()
    assert [g for g, piece in regions if (piece & truth).any()] == [grid]  # (alone, it passes as 8 px blocks)


def test_a_mosaic_no_window_voted_for_is_found_by_its_flattest_offsets(monkeypatch):
    # On a training page a mosaic of twelve 29 px blocks next to another
    # mosaic drew no votes at all; here the votes are taken away.
    from decensor.mosaic import votes

    grid = Grid(29, 18, 18)
    decoded, truth = _training_page_with_mosaic(2_002_050, grid, np.s_[250:395, 424:511], 82)
    scan = votes.scan_candidates

    def without_votes_for_29(*args, **kwargs):
        candidates, bands, flattest = scan(*args, **kwargs)
        return {g: c for g, c in candidates.items() if g.size != 29}, bands, flattest

    monkeypatch.setattr(votes, "scan_candidates", without_votes_for_29)
    found, regions = find_mosaic(decoded)
    assert [g for g, _ in regions] == [grid]
    assert found[truth].mean() >= 0.95 and not found[~truth].any()


def test_a_mosaic_found_on_one_grid_is_no_evidence_for_another():
    from decensor.mosaic.evidence import regions_on_grid
    from decensor.mosaic.grid import as_float_gray

    region = np.zeros((384, 384), bool)
    region[64:320, 96:352] = True
    mosaicked, truth = pixelate(_page(7), Grid(16, 0, 0), region)
    gray = as_float_gray(mosaicked)
    assert regions_on_grid(gray, Grid(16, 0, 0))
    assert regions_on_grid(gray, Grid(16, 0, 0), explained=truth) == []


def test_sure_blocks_are_the_ones_the_fill_already_matched_and_flat_art():
    from decensor.mosaic import sure_blocks

    grid = Grid(8, 0, 0)
    truth = np.zeros((64, 64, 3), np.uint8)
    truth[:, 32:] = 200  # flat art on the right half, a ramp of blocks on the left
    truth[:, :32] = (np.arange(32)[None, :, None] * 4).astype(np.uint8)
    hole = np.zeros((64, 64), bool)
    hole[8:56, 8:56] = True
    mosaicked, _ = pixelate(truth, grid, hole)
    filled = mosaicked.copy()
    filled[16:24, 16:24] = 0          # a block the fill got wrong: its mean is off
    sure = sure_blocks(filled, mosaicked, grid, hole)
    assert not sure[~hole].any()
    assert not sure[16:24, 16:24].any()
    assert sure[8:16, 8:16].all()     # the fill had the block's mean already
    wrong_fill = np.full_like(mosaicked, 90)
    flat_only = sure_blocks(wrong_fill, mosaicked, grid, hole)
    assert flat_only[8:56, 40:56].all() and not flat_only[8:56, 8:24].any()


def test_checkerboards_and_pixel_art_are_not_mosaics():
    yy, xx = np.mgrid[:384, :384]
    for size in (4, 8, 12, 24):
        board = (((yy // size) + (xx // size)) % 2 * 200 + 30).astype(np.uint8)
        assert not find_mosaic(np.repeat(board[..., None], 3, -1))[1], size
    rng = np.random.default_rng(3)
    palette = rng.integers(0, 256, (6, 3)).astype(np.uint8)
    art = np.kron(palette[rng.integers(0, 6, (65, 65))], np.ones((6, 6, 1), np.uint8))[:384, :384]
    assert not find_mosaic(art)[1]


def test_flat_stretches_of_a_mosaic_that_pass_as_a_coarser_grid_are_restored_on_its_own():
    # On this page a stretch of the 12 px mosaic over flat paper also passes as
    # a 24 px one (tried first): it touches the 12 px mosaic and joins it.
    page = np.repeat(manga_page((512, 512), seed=31)[:384, :384, None], 3, -1)
    region = np.zeros((384, 384), bool)
    region[90:290, 70:310] = True
    grid = Grid(12, 6, 0)
    mosaicked, truth = pixelate(page, grid, region)
    found, regions = find_mosaic(mosaicked)
    assert {found_grid for found_grid, _ in regions} == {grid}
    assert (found & truth).sum() / truth.sum() >= 0.95 and not (found & ~truth).any()


def _soft_painted_page(seed, amplitude):
    """Grainy painted shading so soft that a mosaic's neighbouring block means differ by a grey level or two."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    shading = ndimage.gaussian_filter(rng.normal(0, 1, (384, 384)), 40)
    grey = 120 + amplitude * shading / shading.std() + rng.normal(0, 3, (384, 384))
    return np.clip(np.stack([grey, grey * 0.9, grey * 0.8], -1), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size, amplitude", [(9, 16), (25, 6)])
def test_a_lossless_mosaic_over_soft_shading_is_found(size, amplitude):
    from decensor.mosaic import DetectionSettings

    region = np.zeros((384, 384), bool)
    region[60:300, 80:340] = True
    grid = Grid(size, 5, 3)
    mosaicked, painted = pixelate(_soft_painted_page(4, amplitude), grid, region)
    means, _ = block_means(mosaicked.astype(float).mean(-1), grid)
    inside = block_means(painted.astype(float), grid)[0] == 1
    steps = np.abs(np.diff(means, axis=1))[inside[:, 1:] & inside[:, :-1]]
    assert np.median(steps) < 2.0  # softer than the lossy rule's min_step
    found, regions = find_mosaic(mosaicked)
    assert regions and regions[0][0] == grid
    assert (found & painted).sum() >= 0.8 * painted.sum() and (found & ~painted).sum() <= 0.05 * found.sum()
    # Without the lossless rule nothing is found: it is what finds this mosaic.
    assert not find_mosaic(mosaicked, DetectionSettings(lossless_step=99.0, lossless_straddle=99.0))[1]


def test_smooth_8_bit_gradients_are_not_lossless_mosaics():
    # An 8-bit ramp is lossless bands one grey level apart; diagonal, it steps both ways.
    yy, xx = np.mgrid[:384, :384]
    for slope in (0.05, 0.1, 0.2):
        grey = np.round(60 + slope * (yy + 0.7 * xx)).astype(np.uint8)
        assert find_mosaic(np.repeat(grey[..., None], 3, -1))[1] == []


def test_a_clean_jpeg_file_of_smooth_shading_is_no_mosaic():
    # At quality 60 the 8 px blocks of smooth shading come out flat, stepping by a few grey levels on
    # JPEG's own lines: a staircase that passes every block test. Told that the page was a JPEG file,
    # the search asks more of a step on those lines.
    page = _jpeg(smooth_shading(), 60)
    assert find_mosaic(page)[0].mean() > 0.1  # (what the search finds without knowing)
    found, regions = find_mosaic(page, jpeg=True)
    assert regions == [] and not found.any()


@pytest.mark.parametrize("size", [8, 16])
def test_a_mosaic_on_jpeg_block_lines_is_still_found_in_a_jpeg_file(size):
    region = np.zeros((384, 384), bool)
    region[64:320, 48:304] = True
    mosaicked, painted = pixelate(_page(5), Grid(size, 0, 0), region)
    found, regions = find_mosaic(_jpeg(mosaicked, 85), jpeg=True)
    assert {grid for grid, _ in regions} == {Grid(size, 0, 0)}
    assert (found & painted).sum() >= 0.98 * painted.sum() and not (found & ~painted).any()
