import io

import numpy as np
import pytest
from helpers import drawing
from PIL import Image, ImageCms

from decensor import images


def _round_trip(image, fmt, **save):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    buffer.seek(0)
    return images.open_picture(buffer)


def _hole(shape):
    hole = np.zeros(shape, bool)
    hole[10:20, 12:30] = True
    return hole


def _fill_and_reload(picture, fmt):
    hole = _hole(picture.pixels.shape[:2])
    filled_rgb = np.zeros(images.rgb_view(picture).shape, np.uint8)
    filled_rgb[...] = (10, 200, 30)
    result = images.with_fill(picture, filled_rgb, hole)
    buffer = io.BytesIO()
    images.save_picture(result, buffer, fmt)
    buffer.seek(0)
    return hole, result, Image.open(buffer)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "I;16", "1", "CMYK"])
def test_lossless_round_trip_changes_only_hole_pixels(mode):
    base = Image.fromarray(drawing(48, 64))
    if mode == "RGBA":
        rgba = np.dstack([np.asarray(base), np.linspace(0, 255, 48 * 64).reshape(48, 64).astype(np.uint8)])
        source = Image.fromarray(rgba, "RGBA")
    elif mode == "LA":
        source = base.convert("LA")
    elif mode == "I;16":
        source = Image.fromarray(np.asarray(base.convert("L")).astype(np.uint16) * 257 + 3)
    elif mode == "P":
        source = base.quantize(64)
    else:
        source = base.convert(mode)
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    picture = _round_trip(source, fmt)
    hole, result, reloaded = _fill_and_reload(picture, fmt)
    assert reloaded.mode == picture.mode or (picture.mode == "I;16" and reloaded.mode in ("I;16", "I"))
    stored = np.array(reloaded)
    original = picture.pixels
    np.testing.assert_array_equal(stored[~hole], np.asarray(original)[~hole])
    if mode in ("RGBA", "LA"):
        np.testing.assert_array_equal(stored[..., -1], np.asarray(original)[..., -1])
    assert not np.array_equal(stored[hole], np.asarray(original)[hole])


def test_grayscale_stays_grayscale_and_fill_uses_luma():
    picture = _round_trip(Image.fromarray(drawing()).convert("L"), "PNG")
    assert picture.is_grayscale
    hole, result, reloaded = _fill_and_reload(picture, "PNG")
    assert reloaded.mode == "L"
    assert np.all(np.asarray(reloaded)[hole] == round(10 * 0.299 + 200 * 0.587 + 30 * 0.114))


def test_palette_fill_uses_existing_palette_entries():
    source = Image.fromarray(drawing()).quantize(16)
    picture = _round_trip(source, "PNG")
    hole, result, reloaded = _fill_and_reload(picture, "PNG")
    assert reloaded.mode == "P"
    assert set(np.unique(np.asarray(reloaded))) <= set(np.unique(np.asarray(source)))


def test_icc_profile_and_dpi_are_kept():
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    picture = _round_trip(Image.fromarray(drawing()), "PNG", icc_profile=profile, dpi=(300, 300))
    _, _, reloaded = _fill_and_reload(picture, "PNG")
    assert reloaded.info.get("icc_profile") == profile
    assert tuple(round(v) for v in reloaded.info["dpi"]) == (300, 300)


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "BMP", "TIFF", "GIF"])
def test_other_formats_read_and_write(fmt):
    source = Image.fromarray(drawing())
    if fmt == "GIF":
        source = source.quantize(64)
    picture = _round_trip(source, fmt)
    _, _, reloaded = _fill_and_reload(picture, fmt)
    assert reloaded.format == fmt and reloaded.size == source.size


def test_lossless_webp_stays_lossless(tmp_path):
    path = tmp_path / "page.webp"
    Image.fromarray(drawing()).save(path, "WEBP", lossless=True)
    picture = images.open_picture(path)
    assert picture.save_options["lossless"] is True
    hole, result, reloaded = _fill_and_reload(picture, "WEBP")
    np.testing.assert_array_equal(np.asarray(reloaded.convert("RGB"))[~hole], picture.pixels[~hole])


def test_not_an_image_and_truncated_files_raise_format_error(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("hello")
    with pytest.raises(images.ImageFormatError, match="not a readable image"):
        images.open_picture(text)
    full = io.BytesIO()
    Image.fromarray(drawing(200, 200)).save(full, "PNG")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    with pytest.raises(images.ImageFormatError):
        images.open_picture(truncated)


def test_format_for_suffix():
    assert images.format_for("a/b.JPG") == "JPEG"
    assert images.format_for("x.tiff") == "TIFF"
    with pytest.raises(images.ImageFormatError):
        images.format_for("x.unknown")


def test_looks_grayscale():
    gray = np.repeat(np.arange(256, dtype=np.uint8).reshape(16, 16)[..., None], 3, -1)
    known = np.ones((16, 16), bool)
    assert images.looks_grayscale(gray, known)
    colour = gray.copy()
    colour[:4, :, 0] = 255
    assert not images.looks_grayscale(colour, known)


def test_sixteen_bit_colour_png_is_refused_not_truncated(tmp_path):
    import struct
    import zlib

    height, width = 4, 5
    raw = b"".join(b"\x00" + np.arange(width * 3, dtype=">u2").tobytes() for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path = tmp_path / "deep.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    with pytest.raises(images.ImageFormatError, match="16-bit colour PNG"):
        images.open_picture(path)


def test_lossless_webp_is_recognised_from_an_open_file_too():
    buffer = io.BytesIO()
    Image.fromarray(drawing()).save(buffer, "WEBP", lossless=True)
    buffer.seek(0)
    assert images.open_picture(buffer).save_options["lossless"] is True
