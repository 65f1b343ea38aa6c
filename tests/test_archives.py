"""Volumes in, the same volumes out (CBZ/ZIP, PDF), hostile archives refused, dry runs and --alpha-mask."""

import io
import json
import stat
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import drawing, paint_green
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from decensor import masks
from decensor.archives import ArchiveError, rewrite_zip
from decensor.cli import main

BOX = (20, 30, 50, 90)


def _png(pixels):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg(pixels):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _book(path):
    """A CBZ: a marked PNG page in a folder, an unmarked JPEG page, ComicInfo.xml, a folder entry."""
    members = [
        ("ComicInfo.xml", b"<ComicInfo><Title>Test</Title></ComicInfo>", zipfile.ZIP_DEFLATED),
        ("ch1/", b"", zipfile.ZIP_STORED),
        ("ch1/001.png", _png(paint_green(drawing(seed=1), BOX)), zipfile.ZIP_STORED),
        ("ch1/002.jpg", _jpeg(drawing(seed=2)), zipfile.ZIP_DEFLATED),
    ]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, compression in members:
            archive.writestr(name, data, compress_type=compression)
    return members


def _bar(*args):
    return CliRunner().invoke(main, ["bar", *map(str, args)], catch_exceptions=False)


def test_a_cbz_comes_back_whole_with_only_its_marked_page_filled(tmp_path):
    members = _book(tmp_path / "book.cbz")
    report = tmp_path / "r.json"
    result = _bar(tmp_path / "book.cbz", "-o", tmp_path / "out", "--report", report, "-q")
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "out" / "book.cbz") as archive:
        assert [i.filename for i in archive.infolist()] == [name for name, _, _ in members]
        assert [i.compress_type for i in archive.infolist()] == [c for _, _, c in members]
        for name, data, _ in members:
            if name != "ch1/001.png":
                assert archive.read(name) == data, name  # byte for byte
        before = np.asarray(Image.open(io.BytesIO(members[2][1])))
        after = np.asarray(Image.open(io.BytesIO(archive.read("ch1/001.png"))))
    hole = masks.detect_paint(before)
    np.testing.assert_array_equal(after[~hole], before[~hole])
    assert not masks.detect_paint(after, min_region=1).any()
    records = {r["input"]: r for r in json.loads(report.read_text())}
    assert records[f"{tmp_path / 'book.cbz'}"]["status"] == "written"
    assert records[f"{tmp_path / 'book.cbz'}:ch1/001.png"]["status"] == "written"
    assert records[f"{tmp_path / 'book.cbz'}:ch1/002.jpg"]["status"] == "unchanged"


def test_a_folder_of_volumes_with_recursive_and_a_skip_on_rerun(tmp_path):
    (tmp_path / "library" / "series").mkdir(parents=True)
    _book(tmp_path / "library" / "series" / "v1.zip")
    _book(tmp_path / "library" / "v2.cbz")
    out = tmp_path / "out"
    assert _bar(tmp_path / "library", "-o", out, "-r", "-q").exit_code == 0
    assert (out / "series" / "v1.zip").is_file() and (out / "v2.cbz").is_file()
    rerun = _bar(tmp_path / "library", "-o", out, "-r")
    assert rerun.exit_code == 0 and "2 skipped" in rerun.output


def test_a_volume_with_no_marked_page_is_reported_not_written(tmp_path):
    with zipfile.ZipFile(tmp_path / "clean.cbz", "w") as archive:
        archive.writestr("001.png", _png(drawing()))
    result = _bar(tmp_path / "clean.cbz", "-o", tmp_path / "out")
    assert result.exit_code == 1 and "no marked region found on any of its 1 pages" in result.output
    assert not (tmp_path / "out" / "clean.cbz").exists()


def _pdf(path, pages):
    """A PDF of pages drawn as one JPEG image each (Pillow's PDF writer)."""
    first, *rest = [Image.fromarray(page) for page in pages]
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=100)


def test_a_pdf_gets_its_marked_page_image_replaced_and_keeps_the_rest(tmp_path):
    import pikepdf

    _pdf(tmp_path / "book.pdf", [drawing(seed=3), paint_green(drawing(seed=4), BOX), drawing(seed=5)])
    with pikepdf.open(tmp_path / "book.pdf", allow_overwriting_input=True) as pdf:
        pdf.pages[2].Resources.Font = pikepdf.Dictionary()  # page 3 "has text": not a single image
        pdf.save(tmp_path / "book.pdf")
    report = tmp_path / "r.json"
    result = _bar(tmp_path / "book.pdf", "-o", tmp_path / "out", "--report", report, "-q")
    assert result.exit_code == 0, result.output

    def page_images(path):
        with pikepdf.open(path) as pdf:
            return [np.asarray(pikepdf.PdfImage(next(iter(page.images.values()))).as_pil_image().convert("RGB"))
                    for page in pdf.pages]

    before, after = page_images(tmp_path / "book.pdf"), page_images(tmp_path / "out" / "book.pdf")
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[2], before[2])
    hole = masks.detect_paint(before[1], fringe=8, lean=0.03)
    far = ~ndimage.binary_dilation(hole, iterations=16)  # (JPEG re-encoded: the blocks at the hole change)
    change = np.abs(after[1].astype(int) - before[1])[far]
    assert change.mean() < 1.5 and change.max() <= 16, (change.mean(), change.max())
    assert not masks.detect_paint(after[1]).any()
    notes = [r for r in json.loads(report.read_text()) if r["input"].endswith("page 0003")]
    assert notes and "not a single image" in notes[0]["notes"][0]


def _zip_with(path, entries):
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in entries:
            archive.writestr(info, data)


def _info(name, mode=None, flags=0):
    info = zipfile.ZipInfo(name)
    if mode is not None:
        info.external_attr = mode << 16
    info.flag_bits |= flags
    return info


@pytest.mark.parametrize("entries,reason", [
    ([(_info("../evil.png"), b"x")], "outside the archive's folder"),
    ([(_info("/etc/evil.png"), b"x")], "outside the archive's folder"),
    ([(_info("C:/evil.png"), b"x")], "outside the archive's folder"),
    ([(_info("link.png", stat.S_IFLNK | 0o777), b"/etc/passwd")], "symbolic link"),
    ([(_info("a.png"), b"1"), (_info("a.png"), b"2")], "appears twice"),
])
def test_hostile_members_are_refused_and_named(tmp_path, entries, reason):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (zipfile warns about the duplicate name it is asked to write)
        _zip_with(tmp_path / "bad.cbz", entries)
    _book(tmp_path / "good.cbz")
    result = _bar(tmp_path / "bad.cbz", tmp_path / "good.cbz", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert reason in result.output and "bad.cbz" in result.output
    assert not (tmp_path / "out" / "bad.cbz").exists() and (tmp_path / "out" / "good.cbz").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.cbz", "good.cbz", "out"]  # nothing landed outside


def test_zip_bombs_encrypted_members_and_damaged_archives_get_a_reason(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.cbz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("001.png", b"\0" * (40 * 1024 * 1024))
    with zipfile.ZipFile(tmp_path / "secret.cbz", "w") as archive:
        archive.writestr(_info("001.png", flags=0x1), b"x")
    whole = io.BytesIO()
    _book(whole)
    (tmp_path / "torn.cbz").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    for name, reason in (("bomb.cbz", "zip bomb"), ("secret.cbz", "encrypted"), ("torn.cbz", "damaged")):
        result = _bar(tmp_path / name, "-o", tmp_path / "out")
        assert result.exit_code == 1 and reason in result.output, (name, result.output)
        assert not (tmp_path / "out" / name).exists()


names = st.lists(st.sampled_from(["a", "b", ".", "..", "/", "\\", ":", "C:", "x.png", "_"]), min_size=1,
                 max_size=6).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(names, st.binary(max_size=64)), min_size=1, max_size=5))
def test_any_archive_is_rewritten_member_for_member_or_refused(tmp_path, entries):
    import warnings

    source, buffer = io.BytesIO(), io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(source, "w") as archive:
            for name, data in entries:
                archive.writestr(name, data)
    try:
        rewrite_zip(source, buffer, lambda name, load: None)
    except ArchiveError:
        return
    with zipfile.ZipFile(buffer) as rewritten, zipfile.ZipFile(source) as original:
        assert [i.filename for i in rewritten.infolist()] == [i.filename for i in original.infolist()]
        for info in original.infolist():
            assert rewritten.read(info.filename) == original.read(info)


def test_dry_run_reports_every_page_and_writes_nothing_but_previews(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(paint_green(drawing(seed=1), BOX)).save(folder / "a.png")
    Image.fromarray(drawing(seed=2)).save(folder / "clean.png")
    _book(folder / "book.cbz")
    result = _bar(folder, "-o", tmp_path / "out", "--dry-run", "--preview", tmp_path / "preview")
    assert result.exit_code == 1  # (clean.png has nothing marked, as a real run would say)
    assert "a.png: 1 region, 16.1% marked" in result.output
    assert "book.cbz:ch1/001.png: 1 region" in result.output or "1 of 2 pages to restore" in result.output
    assert not (tmp_path / "out").exists()
    previews = sorted(p.relative_to(tmp_path / "preview").as_posix() for p in (tmp_path / "preview").rglob("*.png"))
    assert previews == ["a.png.png", "book/ch1/001.png"]
    mosaic = CliRunner().invoke(main, ["mosaic", "--auto", str(folder / "a.png"), "-o", str(tmp_path / "out"),
                                       "--dry-run"])
    assert "no mosaic found" in mosaic.output and not (tmp_path / "out").exists()


def test_alpha_mask_fills_what_is_transparent_and_keeps_alpha_elsewhere(tmp_path):
    rgba = np.dstack([drawing(seed=6), np.full((96, 128), 255, np.uint8)])
    rgba[:, :8, 3] = 200  # a soft edge that stays
    rgba[30:60, 40:90, 3] = 0  # erased: the region
    rgba[30:60, 40:90, :3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "p.png")
    assert _bar(tmp_path / "p.png", "-o", tmp_path / "out", "--alpha-mask", "-q").exit_code == 0
    after = np.asarray(Image.open(tmp_path / "out" / "p.png"))
    hole = rgba[..., 3] < 128
    assert (after[..., 3][hole] == 255).all()
    np.testing.assert_array_equal(after[~hole], rgba[~hole])
    assert after[..., :3][hole].mean() > 60  # filled from the drawing, not left black
    Image.fromarray(drawing()).save(tmp_path / "opaque.png")
    result = _bar(tmp_path / "opaque.png", "-o", tmp_path / "out", "--alpha-mask")
    assert result.exit_code == 1 and "no alpha channel" in result.output
