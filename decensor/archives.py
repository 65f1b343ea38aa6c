"""Archives in, the same archive out: CBZ/ZIP members and PDF page images filled in place.

A ZIP (CBZ) is rewritten member by member in the same order, under the same
names, with the same dates, attributes and compression: each image member
goes through the page function (and is re-encoded in its own format only if
it was filled); every other member (unmarked pages, ComicInfo.xml, anything)
keeps its exact bytes. Nothing is ever extracted to disk, so no member name
can write outside the output folder; names that would escape (``../``,
absolute, a drive), symlink members, encrypted members, duplicate names,
damaged archives and zip bombs (too many members, too large uncompressed, a
compression ratio no page image has) are refused with a one-line reason.

A PDF is opened with pikepdf (qpdf): a page drawn as one image and nothing
else gets that image replaced in place (JPEG stays JPEG, anything else is
stored losslessly); a page that is not a single image is left as it is and
reported; every other object of the file is kept.
"""

import io
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from . import images
from .batch import one_line

ARCHIVE_SUFFIXES = frozenset({".cbz", ".zip", ".pdf"})


class ArchiveError(ValueError):
    """An archive that cannot be taken apart safely (the reason names the member)."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds against zip bombs: far above any real volume, far below what a bomb claims."""

    # A volume has hundreds of pages.
    max_members: int = 20_000
    # Uncompressed, all members together.
    max_total_bytes: int = 8 * 1024**3
    # Page images barely compress (PNG and JPEG already are); a bomb compresses a thousandfold.
    max_ratio: float = 200.0
    # Ratios are only judged above this size: a tiny XML file may compress 50:1.
    ratio_floor_bytes: int = 1024 * 1024


def is_archive(path):
    return PurePosixPath(str(path)).suffix.lower() in ARCHIVE_SUFFIXES


def _checked_members(archive, limits):
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise ArchiveError(f"{len(infos)} members, over the {limits.max_members} a volume could have")
    seen, total = set(), 0
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
            raise ArchiveError(f"member {name!r} would land outside the archive's folder: refused")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ArchiveError(f"member {name!r} is a symbolic link: refused")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"member {name!r} is encrypted: decrypt the archive first")
        if name in seen:
            raise ArchiveError(f"member name {name!r} appears twice")
        seen.add(name)
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ArchiveError(f"uncompressed size over {limits.max_total_bytes / 1024**3:.0f} GiB: refused")
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ArchiveError(f"member {name!r} would expand {info.file_size / max(info.compress_size, 1):.0f}-fold "
                               "(a zip bomb?): refused")
    return infos


def rewrite_zip(source, stream, page, limits=ArchiveLimits()):
    """Write ``source`` (a ZIP/CBZ) to the binary ``stream`` with its image members passed through
    ``page(name, load) -> filled picture or None`` (``load()`` decodes the page; None: keep the
    member's bytes, as for a member that is no readable image)."""
    try:
        with zipfile.ZipFile(source) as archive:
            infos = _checked_members(archive, limits)
            with zipfile.ZipFile(stream, "w") as out:
                for info in infos:
                    data = archive.read(info)
                    if not info.is_dir() and PurePosixPath(info.filename).suffix.lower() in images.IMAGE_SUFFIXES:
                        data = _filled_member(info.filename, data, page) or data
                    # (Same name, date, attributes and compression; the level is not recorded in a ZIP.)
                    out.writestr(_same_entry(info), data, compress_type=info.compress_type)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise ArchiveError(f"damaged or unsupported archive ({one_line(error)})") from None


def _same_entry(info):
    copy = zipfile.ZipInfo(info.filename, info.date_time)
    for field in ("compress_type", "comment", "extra", "create_system", "external_attr", "internal_attr"):
        setattr(copy, field, getattr(info, field))
    return copy


def _filled_member(name, data, page):
    filled = page(name, lambda: images.open_picture(io.BytesIO(data)))
    if filled is None:
        return None
    buffer = io.BytesIO()
    images.save_picture(filled, buffer, images.format_for(name, filled.format))
    return buffer.getvalue()


def rewrite_pdf(source, stream, page):
    """Write ``source`` (a PDF) to ``stream`` with each single-image page's image passed through ``page``.

    Returns the names of the pages left as they were because they are not a
    single image ("page 3: 2 images and text").
    """
    import pikepdf

    left = []
    try:
        with pikepdf.open(source) as pdf:
            for number, pdf_page in enumerate(pdf.pages, start=1):
                name = f"page {number:04d}"
                resources = pdf_page.obj.get("/Resources", pikepdf.Dictionary())
                drawn = list(resources.get("/XObject", pikepdf.Dictionary()).items())
                found = [xobject for _, xobject in drawn if xobject.get("/Subtype") == pikepdf.Name.Image]
                text = "/Font" in resources
                if len(found) != 1 or len(drawn) != 1 or text:
                    what = f"{len(found)} images" + (", other drawings" if len(drawn) > len(found) else "") + (
                        " and text" if text else "")
                    left.append(f"{name}: {what}, not a single image (left as it is)")
                    continue
                xobject = found[0]
                filled = page(name, lambda: images.picture_from_pil(pikepdf.PdfImage(xobject).as_pil_image()))
                if filled is not None:
                    _write_pdf_image(pikepdf, xobject, filled)
            pdf.save(stream)
    except pikepdf.PdfError as error:
        raise ArchiveError(f"damaged or encrypted PDF ({one_line(error)})") from None
    return left


def _write_pdf_image(pikepdf, xobject, picture):
    image = images.to_pil(picture)
    was_jpeg = xobject.get("/Filter") in (pikepdf.Name.DCTDecode, pikepdf.Array([pikepdf.Name.DCTDecode]))
    if image.mode not in ("L", "RGB", "CMYK"):
        image = image.convert("RGB")
    spaces = {"L": pikepdf.Name.DeviceGray, "RGB": pikepdf.Name.DeviceRGB, "CMYK": pikepdf.Name.DeviceCMYK}
    if was_jpeg:
        buffer = io.BytesIO()
        images.save_picture(picture, buffer, "JPEG")  # (with the page's own quantisation tables)
        xobject.write(buffer.getvalue(), filter=pikepdf.Name.DCTDecode)
    else:
        xobject.write(zlib.compress(image.tobytes()), filter=pikepdf.Name.FlateDecode)
    xobject.ColorSpace = spaces[image.mode]
    xobject.BitsPerComponent = 8
    if "/DecodeParms" in xobject:
        del xobject.DecodeParms
    if "/Decode" in xobject:
        del xobject.Decode
