import io

import numpy as np
import pytest
from helpers import drawing, paint_green
from PIL import Image

from decensor import masks


def _lean(rgb):
    return masks._key_leaning(rgb, masks.GREEN)


def test_exact_green_region_is_found_and_nothing_else():
    painted = paint_green(drawing(), (20, 30, 50, 90))
    hole = masks.detect_paint(painted, grow=0, fringe=0)
    expected = np.zeros(hole.shape, bool)
    expected[20:50, 30:90] = True
    np.testing.assert_array_equal(hole, expected)


def test_page_without_paint_gives_empty_mask():
    assert not masks.detect_paint(drawing()).any()


def test_small_specks_are_not_holes():
    page = drawing()
    page[5:7, 5:7] = (0, 255, 0)  # 4 px speck
    page[40:60, 40:60] = (0, 255, 0)
    hole = masks.detect_paint(page)
    assert not hole[5:7, 5:7].any()
    assert hole[40:60, 40:60].all()


def test_anti_aliased_edge_joins_the_hole():
    page = np.full((64, 64, 3), 200, np.uint8)
    page[20:40, 20:40] = (0, 255, 0)
    # A soft 2-px rim: 60 % and 25 % green over grey.
    for alpha, ring in ((0.6, 1), (0.25, 2)):
        blend = np.round(alpha * np.array([0, 255, 0]) + (1 - alpha) * 200).astype(np.uint8)
        page[20 - ring, 20 - ring : 40 + ring] = blend
        page[40 + ring - 1, 20 - ring : 40 + ring] = blend
        page[20 - ring : 40 + ring, 20 - ring] = blend
        page[20 - ring : 40 + ring, 40 + ring - 1] = blend
    hole = masks.detect_paint(page, grow=0)
    tinted = _lean(page) >= 0.1
    assert hole[tinted].all()


def test_jpeg_compressed_green_leaves_no_tinted_pixel_outside_the_hole():
    page = paint_green(drawing(128, 160), (30, 40, 90, 120))
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, "JPEG", quality=70)
    jpeg = np.array(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    hole = masks.detect_paint(jpeg)
    assert hole[30:90, 40:120].all()
    # Outside the hole nothing leans visibly green any more.
    assert (_lean(jpeg)[~hole] < 0.15).all()
    # ...and the hole does not swallow the page.
    assert hole.sum() < 1.3 * 60 * 80


def test_other_colour_and_tolerance():
    page = drawing()
    page[10:30, 10:30] = (250, 5, 245)
    assert not masks.detect_paint(page).any()
    assert masks.detect_paint(page, color=(255, 0, 255), tolerance=20)[10:30, 10:30].all()
    assert not masks.detect_paint(page, color=(255, 0, 255), tolerance=2, grow=0, fringe=0).any()


@pytest.mark.parametrize("text,expected", [("#00ff00", (0, 255, 0)), ("ff00ff", (255, 0, 255)), ("1, 2,3", (1, 2, 3))])
def test_parse_color(text, expected):
    assert masks.parse_color(text) == expected


@pytest.mark.parametrize("text", ["#00ff", "1,2", "300,0,0", "zzzzzz"])
def test_parse_color_rejects_bad_values(text):
    with pytest.raises(ValueError):
        masks.parse_color(text)


def test_mask_file_white_means_fill_and_size_must_match(tmp_path):
    mask = np.zeros((20, 30), np.uint8)
    mask[5:10, 5:25] = 255
    path = tmp_path / "m.png"
    Image.fromarray(mask).save(path)
    hole = masks.load_mask_file(path, (30, 20)).hole
    assert hole.sum() == 5 * 20 and hole[5:10, 5:25].all()
    with pytest.raises(masks.MaskError, match="30x20"):
        masks.load_mask_file(path, (31, 20))


def test_unreadable_mask_file_raises_mask_error(tmp_path):
    path = tmp_path / "m.png"
    path.write_bytes(b"not an image")
    with pytest.raises(masks.MaskError):
        masks.load_mask_file(path, (10, 10))
