"""Property-based tests of the loader and the paint detector on random and mutated input."""

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from scipy import ndimage

from decensor import images, masks

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _encoded(fmt):
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


VALID = {fmt: _encoded(fmt) for fmt in ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")}


def _load_or_refuse(data):
    """The loader's contract: a Picture, or ImageFormatError - never anything else."""
    try:
        picture = images.open_picture(io.BytesIO(data))
    except images.ImageFormatError as error:
        assert str(error)
        return None
    assert picture.pixels.shape[:2] == (picture.size[1], picture.size[0])
    images.rgb_view(picture)
    return picture


@FAST
@given(st.binary(max_size=2048))
def test_loader_on_random_bytes(data):
    _load_or_refuse(data)


@FAST
@given(
    st.sampled_from(sorted(VALID)),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
    st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_loader_on_mutated_files(fmt, flips, cut):
    data = bytearray(VALID[fmt])
    for position, value in flips:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    _load_or_refuse(bytes(data))


def test_tiff_with_a_damaged_size_tag_is_refused_not_crashed():
    # Found by the test above: Pillow raised TypeError ("Missing dimensions") from n_frames.
    data = bytearray(VALID["TIFF"])
    data[130] = 1
    assert _load_or_refuse(bytes(data)) is None


rectangles = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(1, 20), st.integers(1, 20)), max_size=4
)


@FAST
@given(arrays(np.uint8, (48, 48, 3)), rectangles, st.integers(1, 40))
def test_detector_finds_every_painted_area_and_stays_near_it(background, boxes, min_region):
    # Keep the random background clearly away from pure green.
    page = background.copy()
    page[..., 1] = np.minimum(page[..., 1], 150)
    painted = np.zeros((48, 48), bool)
    for top, left, height, width in boxes:
        painted[top : top + height, left : left + width] = True
    page[painted] = (0, 255, 0)
    hole = masks.detect_paint(page, min_region=min_region)
    assert hole.dtype == bool and hole.shape == (48, 48)
    labels, count = ndimage.label(painted, structure=np.ones((3, 3)))
    for label in range(1, count + 1):
        component = labels == label
        if component.sum() >= min_region:
            assert hole[component].all()
    # Nothing far from kept paint (and the specks touching it) becomes a hole.
    reach = masks.DEFAULT_FRINGE + masks.DEFAULT_GROW
    kept = masks.remove_specks(painted, min_region)
    if kept.any():
        zone = ndimage.binary_dilation(kept, structure=np.ones((3, 3)), iterations=reach)
        touching = np.unique(labels[zone & painted])
        kept = kept | np.isin(labels, touching[touching > 0])
        near = ndimage.binary_dilation(kept, structure=np.ones((3, 3)), iterations=reach)
    else:
        near = kept
    assert not (hole & ~near).any()
    # No paint pixel is left half-filled: each painted component is all hole or all kept.
    for label in range(1, count + 1):
        component = labels == label
        assert hole[component].all() or not hole[component].any()


@FAST
@given(arrays(np.bool_, (16, 20)), st.sampled_from(["RGB", "RGBA", "L", "LA", "P", "CMYK", "I;16", "1"]))
def test_with_fill_changes_only_hole_pixels(hole, mode):
    base = Image.fromarray(np.random.default_rng(1).integers(0, 255, (16, 20, 3), dtype=np.uint8))
    source = base.quantize(32) if mode == "P" else base.convert(mode)
    picture = images.picture_from_pil(source)
    filled = images.with_fill(picture, np.full((16, 20, 3), 77, np.uint8), hole)
    np.testing.assert_array_equal(filled.pixels[~hole], picture.pixels[~hole])
