"""Reading and writing pages without losing what makes them theirs.

A page is decoded into its *native* pixel array (its own mode and bit depth)
plus everything needed to write it back: palette, alpha, ICC profile, DPI,
EXIF, JPEG quantisation tables. The network and the mask detector look at an
8-bit RGB view; the fill is converted back into the native mode and written
only into hole pixels, so every other pixel keeps its exact stored value.
"""

import os
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image, ImageFile

# Modes handled natively; anything else is converted to RGB(A) on load.
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
_NATIVE_MODES = _GRAY_MODES | {"RGB", "RGBA", "P", "PA", "CMYK"}
# Extensions we write and the Pillow format behind each.
FORMAT_BY_SUFFIX = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".gif": "GIF",
}
IMAGE_SUFFIXES = frozenset(FORMAT_BY_SUFFIX)


class ImageFormatError(ValueError):
    """The file is not an image we can read or write."""


@dataclass
class Picture:
    """A decoded page: native pixels plus what is needed to save it faithfully."""

    pixels: np.ndarray
    mode: str
    format: str | None = None
    palette: bytes | None = None
    palette_mode: str = "RGB"
    info: dict = field(default_factory=dict)
    save_options: dict = field(default_factory=dict)
    # EXIF orientation (1 = as stored). Pixels stay as stored and the tag is
    # written back, so the output shows the same way round as the input.
    orientation: int = 1

    @property
    def size(self):
        """(width, height), like Pillow."""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def is_grayscale(self):
        return self.mode in _GRAY_MODES

    @property
    def has_alpha(self):
        return self.mode in {"LA", "RGBA", "PA"}

    @property
    def is_jpeg(self):
        """Decoded from a JPEG file: its pixels carry the format's 8 px blocks and smeared colour edges."""
        return self.format == "JPEG"


def _save_options_for(image):
    """Encoder settings that keep the output close to the input."""
    options = {}
    for key in ("icc_profile", "dpi", "exif"):
        value = image.info.get(key)
        if value:
            options[key] = value
    if image.format == "JPEG":
        from PIL import JpegImagePlugin

        try:
            options["qtables"] = image.quantization
            sampling = JpegImagePlugin.get_sampling(image)
            if sampling != -1:
                options["subsampling"] = sampling
        except (AttributeError, ValueError):
            options["quality"] = 95
    elif image.format == "WEBP":
        options["lossless"] = getattr(image, "_decensor_webp_lossless", False)
        options["quality"] = 100 if options["lossless"] else 95
    elif image.format == "TIFF":
        compression = image.info.get("compression")
        if compression and compression != "raw":
            options["compression"] = compression
    elif image.format == "PNG":
        if "transparency" in image.info:
            options["transparency"] = image.info["transparency"]
    elif image.format == "GIF" and "transparency" in image.info:
        options["transparency"] = image.info["transparency"]
    return options


def _file_head(path_or_file, count):
    """The first ``count`` bytes of a path or an open binary file (left where it was)."""
    try:
        if hasattr(path_or_file, "read"):
            position = path_or_file.tell()
            path_or_file.seek(0)
            head = path_or_file.read(count)
            path_or_file.seek(position)
            return head
        with open(path_or_file, "rb") as handle:
            return handle.read(count)
    except (OSError, ValueError, TypeError):
        return b""


def _png_bit_depth(path_or_file):
    """Bit depth from a PNG's IHDR (Pillow hides that it drops 16-bit colour to 8)."""
    head = _file_head(path_or_file, 26)
    return head[24] if len(head) >= 26 and head[12:16] == b"IHDR" else None


def _sixteen_bit_colour(image, path):
    """Whether a colour PNG or TIFF stores 16 bits per channel (Pillow hides it: it decodes 8)."""
    if image.format == "PNG":
        return _png_bit_depth(path) == 16
    if image.format == "TIFF":
        bits = getattr(image, "tag_v2", {}).get(258)  # BitsPerSample
        return bits is not None and max(np.atleast_1d(bits)) > 8
    return False


def _webp_is_lossless(path_or_file):
    return b"VP8L" in _file_head(path_or_file, 64)


def picture_from_pil(image):
    """Wrap an already opened Pillow image."""
    mode = image.mode
    if mode not in _NATIVE_MODES:
        image = image.convert("RGBA" if "A" in mode or "transparency" in image.info else "RGB")
        mode = image.mode
    palette = None
    palette_mode = "RGB"
    if mode in {"P", "PA"}:
        palette_mode = image.palette.mode if image.palette is not None else "RGB"
        palette = bytes(image.getpalette(palette_mode) or [])
    pixels = np.array(image)
    if mode == "1":
        pixels = pixels.astype(bool)
    try:
        orientation = int(image.getexif().get(0x0112, 1))
    except (ValueError, TypeError, OSError):
        orientation = 1
    return Picture(
        pixels=pixels,
        mode=mode,
        orientation=orientation,
        format=image.format,
        palette=palette,
        palette_mode=palette_mode,
        info=dict(image.info),
        save_options=_save_options_for(image),
    )


# Pages larger than this are refused before any pixel is decoded (a
# "decompression bomb" can claim billions of pixels in a few bytes). 300 Mpx
# is ~17000 x 17000, far beyond any scanned page.
MAX_PIXELS = 300_000_000

# zlib level for PNG outputs: half the encoding time of PIL's 6 on an A4 page, files 4-11 % larger.
PNG_COMPRESS_LEVEL = 4


def open_picture(path, max_pixels=MAX_PIXELS):
    """Decode a page. Raises ImageFormatError with the reason when it cannot."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    Image.MAX_IMAGE_PIXELS = None  # our own limit below, checked from the header
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageFormatError(
                    f"refused: {width}x{height} is {width * height / 1e6:.0f} Mpx, over the "
                    f"{max_pixels / 1e6:.0f} Mpx limit (--max-pixels)"
                )
            frames = getattr(image, "n_frames", 1)
            if frames > 1 and image.format in {"GIF", "PNG", "WEBP"}:
                raise ImageFormatError(
                    f"animated image with {frames} frames is not supported: extract the frames "
                    "and fill them one by one (nothing was written)"
                )
            if image.mode in {"RGB", "RGBA"} and _sixteen_bit_colour(image, path):
                raise ImageFormatError(
                    f"16-bit colour {image.format}: Pillow would decode it at 8 bits and it would lose "
                    "precision; convert it to 8 bits per channel first (16-bit grayscale is supported)"
                )
            if image.format == "WEBP":
                image._decensor_webp_lossless = _webp_is_lossless(path)
            image.load()
            picture = picture_from_pil(image)
    except ImageFormatError:
        raise
    except (Image.UnidentifiedImageError, SyntaxError):
        if isinstance(path, (str, os.PathLike)) and os.path.isfile(path) and os.path.getsize(path) == 0:
            raise ImageFormatError("empty file (0 bytes)") from None
        raise ImageFormatError("not a readable image (unknown format or damaged header)") from None
    except (PermissionError, IsADirectoryError) as error:
        raise ImageFormatError(f"cannot be read ({error.strerror or error})") from None
    except FileNotFoundError:
        raise ImageFormatError("does not exist (any more)") from None
    except (OSError, ValueError, EOFError, TypeError) as error:
        # (Pillow raises TypeError for some damaged TIFF headers, e.g. "Missing dimensions".)
        raise ImageFormatError(f"damaged or truncated image ({error})") from None
    return picture


def _gray_to_unit(pixels, mode):
    """Native grayscale values -> float 0..1."""
    if mode == "1":
        return pixels.astype(np.float32)
    if mode in {"I;16", "I;16B", "I;16L"}:
        return pixels.astype(np.float32) / 65535.0
    if mode == "I":
        top = 65535.0 if pixels.max(initial=0) > 255 else 255.0
        return np.clip(pixels.astype(np.float32) / top, 0, 1)
    if mode == "F":
        top = 1.0 if pixels.max(initial=0) <= 1.0 else 255.0
        return np.clip(pixels.astype(np.float32) / top, 0, 1)
    return pixels.astype(np.float32) / 255.0


def rgb_view(picture):
    """8-bit RGB view of the page for the network and the mask detector."""
    pixels, mode = picture.pixels, picture.mode
    if mode in {"L", "LA"}:
        gray = pixels if mode == "L" else pixels[..., 0]
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode in _GRAY_MODES:
        gray = np.round(_gray_to_unit(pixels, mode) * 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode == "RGB":
        return pixels
    if mode == "RGBA":
        return pixels[..., :3]
    return np.array(to_pil(picture).convert("RGB"))


def fill_view(picture):
    """The RGB view a pipeline fills: 8-bit, or float 0..255 for pages of more than 8 bits.

    A 16-bit page is then filled at its own precision (its first guess and
    blend in float) instead of through 256 levels.
    """
    if picture.mode in {"I;16", "I;16B", "I;16L", "I", "F"}:
        gray = _gray_to_unit(picture.pixels, picture.mode) * np.float32(255.0)
        return np.repeat(gray[..., None], 3, axis=-1)
    return rgb_view(picture)


def luma(rgb):
    """ITU-R 601 luma, as Pillow's RGB->L conversion computes it."""
    rgb = rgb.astype(np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def looks_grayscale(rgb, known, tolerance=3, share=0.999):
    """True when the known pixels of an RGB page are (nearly) all grey.

    Looks at every 3rd pixel each way: plenty to tell, a ninth of the work.
    """
    sample, known = rgb[::3, ::3], known[::3, ::3]
    count = np.count_nonzero(known)
    if count == 0:
        return False
    # (Channel by channel over the strided view: a tenth of the time of gathering the pixels first.)
    red, green, blue = sample[..., 0], sample[..., 1], sample[..., 2]
    spread = np.maximum(np.maximum(red, green), blue) - np.minimum(np.minimum(red, green), blue)
    return np.count_nonzero((spread <= tolerance) & known) / count >= share


def keep_grey(rgb, filled, hole):
    """``filled`` with a grey fill in ``hole`` when the known pixels of ``rgb`` are grey (even stored as RGB).

    A grey page gets no colour cast from a fill that copied or predicted
    slightly coloured values; the grey is the fill's luma.
    """
    if looks_grayscale(rgb, ~hole):
        gray = luma(filled[hole])
        if np.issubdtype(filled.dtype, np.integer):
            gray = np.round(gray)
        filled[hole] = gray.astype(filled.dtype)[:, None]
    return filled


def _nearest_palette_indices(rgb, palette, palette_mode, exclude=None):
    channels = len(palette_mode)
    table = np.frombuffer(palette, dtype=np.uint8).reshape(-1, channels)[:, :3].astype(np.int32)
    candidates = np.arange(len(table))
    if exclude is not None and 0 <= exclude < len(table):
        candidates = candidates[candidates != exclude]
    table = table[candidates]
    indices = np.empty(len(rgb), dtype=np.uint8)
    for start in range(0, len(rgb), 65536):
        chunk = rgb[start : start + 65536].astype(np.int32)
        distance = ((chunk[:, None, :] - table[None, :, :]) ** 2).sum(-1)
        indices[start : start + 65536] = candidates[distance.argmin(1)]
    return indices


def native_values(picture, rgb):
    """Convert filled 8-bit RGB values (N, 3) into the page's own pixel values."""
    mode = picture.mode
    if mode in _GRAY_MODES:
        gray = luma(rgb)
        if mode == "1":
            return gray >= 128
        if mode in {"L", "LA"}:
            return np.clip(np.round(gray), 0, 255).astype(np.uint8)
        if mode in {"I;16", "I;16B", "I;16L"}:
            return np.clip(np.round(gray * 257), 0, 65535).astype(picture.pixels.dtype)
        if mode == "I":
            scale = 257 if picture.pixels.max(initial=0) > 255 else 1
            return np.round(gray * scale).astype(picture.pixels.dtype)
        if mode == "F":
            scale = 1 / 255 if picture.pixels.max(initial=0) <= 1.0 else 1
            return (gray * scale).astype(picture.pixels.dtype)
    if mode in {"RGB", "RGBA"}:
        return rgb.astype(np.uint8)
    if mode in {"P", "PA"}:
        transparency = picture.info.get("transparency")
        exclude = transparency if isinstance(transparency, int) else None
        return _nearest_palette_indices(rgb, picture.palette, picture.palette_mode, exclude)
    if mode == "CMYK":
        strip = Image.fromarray(rgb.astype(np.uint8).reshape(1, -1, 3), "RGB").convert("CMYK")
        return np.array(strip).reshape(-1, 4)
    raise ImageFormatError(f"cannot write pixels in mode {mode}")


def with_fill(picture, rgb_filled, hole, copy=True, opaque=False):
    """The page with its hole pixels in the filled colour; nothing else changes.

    ``copy=False`` writes into ``picture``'s own pixels (saves a full copy of a
    large page when the caller has no further use for the original).
    ``opaque``: the hole's alpha becomes fully opaque (it was the region
    erased to transparency); alpha elsewhere is kept.
    """
    pixels = picture.pixels.copy() if copy else picture.pixels
    values = native_values(picture, rgb_filled[hole])
    if picture.mode in {"LA", "PA"}:
        pixels[..., 0][hole] = values
    elif picture.mode == "RGBA":
        pixels[..., :3][hole] = values
    else:
        pixels[hole] = values
    if opaque and picture.has_alpha:
        pixels[..., -1][hole] = np.iinfo(pixels.dtype).max
    return replace(picture, pixels=pixels)


def _from_array(pixels, mode):
    """Pillow image of ``pixels`` in ``mode`` (newer Pillow infers some modes itself)."""
    try:
        return Image.fromarray(pixels, mode)
    except (ValueError, TypeError):
        image = Image.fromarray(pixels)
        if image.mode != mode:
            image = image.convert(mode)
        return image


def to_pil(picture):
    """The page as a Pillow image in its own mode."""
    mode, pixels = picture.mode, picture.pixels
    if mode == "1":
        image = Image.fromarray(pixels.astype(bool))
    elif mode in {"I;16", "I;16B", "I;16L"}:
        image = _from_array(np.ascontiguousarray(pixels.astype(np.uint16)), "I;16")
    elif mode == "I":
        image = _from_array(pixels.astype(np.int32), "I")
    elif mode == "F":
        image = _from_array(pixels.astype(np.float32), "F")
    elif mode in {"P", "PA"}:
        image = _from_array(pixels, "L" if mode == "P" else "LA")
        image.putpalette(picture.palette, picture.palette_mode)
    else:
        image = _from_array(pixels, mode)
    if "transparency" in picture.info:
        image.info["transparency"] = picture.info["transparency"]
    return image


def format_for(path, fallback=None):
    suffix = str(path).lower().rsplit(".", 1)[-1] if "." in str(path) else ""
    found = FORMAT_BY_SUFFIX.get("." + suffix)
    if found is None:
        found = fallback
    if found is None:
        raise ImageFormatError(f"unknown image extension for {path}")
    return found


def save_picture(picture, target, image_format):
    """Encode ``picture`` to ``target`` (a path or a binary file) in ``image_format``."""
    image = to_pil(picture)
    options = dict(picture.save_options) if picture.format == image_format else {}
    for key in ("icc_profile", "dpi"):
        if key in picture.save_options:
            options[key] = picture.save_options[key]
    if image_format == "JPEG":
        if image.mode not in {"L", "RGB", "CMYK"}:
            image = image.convert("RGB")
        if "qtables" not in options:
            options.setdefault("quality", 95)
    elif image_format == "PNG":
        options.setdefault("compress_level", PNG_COMPRESS_LEVEL)
        if image.mode == "CMYK":
            image = image.convert("RGB")
            options.pop("icc_profile", None)
    elif image_format in {"WEBP", "BMP", "GIF"} and image.mode in {"CMYK", "I;16", "I", "F"}:
        image = image.convert("RGB" if image.mode == "CMYK" else "L")
    image.save(target, format=image_format, **options)
