"""`decensor mosaic` end to end: the shipped models, or tiny networks where only the flow is tested."""

import json

import numpy as np
from click.testing import CliRunner
from helpers import paint_green, smooth_shading
from PIL import Image

from decensor.cli import main
from decensor.mosaic import Grid, block_means, pixelate
from decensor.training.procedural import manga_page

GRID = Grid(12, 4, 7)


def _mosaic_page(seed=3):
    page = np.repeat(manga_page((256, 256), seed=seed)[..., None], 3, -1)
    region = np.zeros((256, 256), bool)
    region[40:200, 60:220] = True
    return pixelate(page, GRID, region)


def test_marked_mode_keeps_block_colours_and_untouched_pixels(tmp_path):
    """The shipped path: the shipped mosaic model over its first guess."""
    marked_dir, originals, out = tmp_path / "in", tmp_path / "orig", tmp_path / "out"
    marked_dir.mkdir(), originals.mkdir()
    mosaicked, region = _mosaic_page()
    Image.fromarray(mosaicked).save(originals / "p1.png")
    Image.fromarray(paint_green(mosaicked, (52, 79, 184, 199))).save(marked_dir / "p1.jpg", quality=95)
    report = tmp_path / "r.json"
    result = CliRunner().invoke(main, ["mosaic", str(marked_dir), "--originals", str(originals), "-o", str(out),
                                       "--report", str(report), "-q"])
    assert result.exit_code == 0, result.output
    restored = np.asarray(Image.open(out / "p1.jpg").convert("RGB")).astype(float)
    record = json.loads(report.read_text())[0]
    assert record["notes"] == ["block 12 px, grid offset (7, 4)"]
    # Whole blocks well inside the marks keep the mosaic's colour on average.
    before, _ = block_means(mosaicked, GRID)
    after, _ = block_means(restored, GRID)
    inner = (slice(5, 14), slice(7, 15))
    assert np.abs(after[inner] - before[inner]).mean() < 6


def test_missing_original_and_size_mismatch_are_per_file_errors(tmp_path, tiny_models_dir):
    marked_dir, originals = tmp_path / "in", tmp_path / "orig"
    marked_dir.mkdir(), originals.mkdir()
    mosaicked, _ = _mosaic_page()
    Image.fromarray(paint_green(mosaicked, (52, 79, 184, 199))).save(marked_dir / "a.png")
    Image.fromarray(paint_green(mosaicked, (52, 79, 184, 199))).save(marked_dir / "b.png")
    Image.fromarray(mosaicked[:100]).save(originals / "b.webp", lossless=True)
    result = CliRunner().invoke(main, ["mosaic", str(marked_dir), "--originals", str(originals),
                                       "-o", str(tmp_path / "out"), "--models", str(tiny_models_dir)])
    assert result.exit_code == 1
    assert "no original named a.*" in result.output
    assert "256x100" in result.output


def test_auto_mode_finds_restores_and_saves_the_mask(tmp_path, tiny_models_dir):
    pages, found_dir, out = tmp_path / "in", tmp_path / "found", tmp_path / "out"
    pages.mkdir()
    mosaicked, truth = _mosaic_page(5)
    Image.fromarray(mosaicked).save(pages / "m.png")
    Image.fromarray(np.repeat(manga_page((256, 256), seed=9)[..., None], 3, -1)).save(pages / "clean.png")
    result = CliRunner().invoke(main, ["mosaic", "--auto", str(pages), "-o", str(out), "--save-masks",
                                       str(found_dir), "--models", str(tiny_models_dir)])
    assert result.exit_code == 1  # the clean page has nothing to restore
    assert "clean.png: no mosaic found" in result.output
    saved = np.asarray(Image.open(found_dir / "m.png")) > 127
    assert (saved & truth).sum() / saved.sum() > 0.9 and (saved & truth).sum() / truth.sum() > 0.8
    restored = np.asarray(Image.open(out / "m.png"))
    np.testing.assert_array_equal(restored[~saved], mosaicked[~saved])
    assert not (out / "clean.png").exists()


def test_auto_mode_reads_a_jpeg_file_as_a_jpeg(tmp_path, tiny_models_dir):
    # Smooth shading at JPEG quality 60 is a staircase of flat 8 px blocks; the file being a JPEG
    # is what tells the search that those steps are the compression's, not a mosaic's.
    pages, out = tmp_path / "in", tmp_path / "out"
    pages.mkdir()
    Image.fromarray(smooth_shading()).save(pages / "sky.jpg", quality=60)
    result = CliRunner().invoke(main, ["mosaic", "--auto", str(pages), "-o", str(out), "--models",
                                       str(tiny_models_dir)])
    assert result.exit_code == 1 and "sky.jpg: no mosaic found" in result.output
    assert not out.exists() or not any(out.iterdir())


def test_missing_originals_folder_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["mosaic", str(tmp_path), "--originals", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "originals folder" in result.output


def test_mosaic_command_runs_the_mosaic_models_correction_and_keeps_the_block_means(tmp_path, tiny_models_dir):
    pages, out = tmp_path / "in", tmp_path / "out"
    pages.mkdir()
    mosaicked, region = _mosaic_page(6)
    Image.fromarray(mosaicked).save(pages / "m.png")
    result = CliRunner().invoke(main, ["mosaic", "--auto", str(pages), "-o", str(out), "--models",
                                       str(tiny_models_dir), "-q"])
    assert result.exit_code == 0, result.output
    restored = np.asarray(Image.open(out / "m.png").convert("RGB"))
    np.testing.assert_array_equal(restored[~region], mosaicked[~region])
    before, _ = block_means(mosaicked, GRID)
    after, _ = block_means(restored, GRID)
    inner = (slice(5, 14), slice(7, 15))
    assert np.abs(after[inner] - before[inner]).mean() < 3
