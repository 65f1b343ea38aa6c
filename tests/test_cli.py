"""End to end through the command line: the shipped models, or tiny networks where the network stage is tested."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import drawing, paint_green
from PIL import Image

from decensor import masks
from decensor.cli import main

BOX = (20, 30, 50, 90)


@pytest.fixture()
def pages(tmp_path):
    """A folder with a green-marked PNG, JPEG, grayscale-looking and RGBA page."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(paint_green(drawing(seed=1), BOX)).save(folder / "colour.png")
    Image.fromarray(paint_green(drawing(seed=2), BOX)).save(folder / "photo.jpg", quality=85)
    gray = np.repeat(np.asarray(Image.fromarray(drawing(seed=3)).convert("L"))[..., None], 3, -1)
    Image.fromarray(paint_green(gray, BOX)).save(folder / "manga page.png")
    rgba = np.dstack([paint_green(drawing(seed=4), BOX), np.full((96, 128), 255, np.uint8)])
    rgba[:10, :10, 3] = 0
    rgba[60:, :, 3] = 128
    Image.fromarray(rgba, "RGBA").save(folder / "ページ.png")
    return folder


def run(args, models=None):
    """``decensor bar ARGS -q``, with the shipped models unless ``models`` names another folder."""
    runner = CliRunner()
    chosen = [] if models is None else ["--models", str(models)]
    return runner.invoke(main, ["bar", *map(str, args), *chosen, "-q"], catch_exceptions=False)


def test_fills_every_page_keeps_untouched_pixels_alpha_and_leaves_no_green(pages, tmp_path):
    """The shipped path: the shipped bar model, patch synthesis as the fill."""
    out = tmp_path / "out"
    result = run([pages, "-o", out])
    assert result.exit_code == 0, result.output
    for name in ("colour.png", "photo.jpg", "manga page.png", "ページ.png"):
        assert (out / name).exists(), name
    for name in ("colour.png", "manga page.png", "ページ.png"):
        before = np.asarray(Image.open(pages / name))
        after = np.asarray(Image.open(out / name))
        hole = masks.detect_paint(before[..., :3])
        np.testing.assert_array_equal(after[~hole], before[~hole])
        assert not masks.detect_paint(after[..., :3], min_region=1).any()
    rgba_before = np.asarray(Image.open(pages / "ページ.png"))
    rgba_after = np.asarray(Image.open(out / "ページ.png"))
    np.testing.assert_array_equal(rgba_after[..., 3], rgba_before[..., 3])
    jpeg = np.asarray(Image.open(out / "photo.jpg").convert("RGB"))
    assert (masks._key_leaning(jpeg, masks.GREEN) < 0.25).all()
    assert Image.open(out / "photo.jpg").format == "JPEG"


def test_existing_outputs_are_skipped_unless_overwrite(pages, tmp_path, tiny_models_dir):
    out = tmp_path / "out"
    out.mkdir()
    (out / "colour.png").write_bytes(b"keep me")
    result = run([pages / "colour.png", "-o", out], tiny_models_dir)
    assert result.exit_code == 0
    assert (out / "colour.png").read_bytes() == b"keep me"
    result = run([pages / "colour.png", "-o", out, "--overwrite"], tiny_models_dir)
    assert result.exit_code == 0
    assert Image.open(out / "colour.png").size == (128, 96)


def test_bad_file_fails_alone_and_exit_code_is_one(pages, tmp_path, tiny_models_dir):
    (pages / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(main, ["bar", str(pages), "-o", str(out), "--models", str(tiny_models_dir)])
    assert result.exit_code == 1
    assert "broken.png" in result.output
    assert not (out / "broken.png").exists()
    assert (out / "colour.png").exists()
    assert "4 written" in result.output and "1 failed" in result.output
    assert not list(out.glob(".*partial"))


def test_page_without_marks_is_reported_not_written(tmp_path, tiny_models_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(drawing()).save(folder / "clean.png")
    runner = CliRunner()
    result = runner.invoke(main, ["bar", str(folder), "-o", str(tmp_path / "out"), "--models", str(tiny_models_dir)])
    assert result.exit_code == 1
    assert "no marked region" in result.output
    assert not (tmp_path / "out" / "clean.png").exists()
    result = run([folder, "-o", tmp_path / "out", "--copy-unmarked"], tiny_models_dir)
    assert result.exit_code == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "clean.png")), drawing())


def test_masks_folder_replaces_paint(tmp_path, tiny_models_dir):
    folder, mask_dir = tmp_path / "in", tmp_path / "masks"
    folder.mkdir(), mask_dir.mkdir()
    page = np.asarray(Image.fromarray(drawing()).convert("L"))
    Image.fromarray(page).save(folder / "p1.png")
    mask = np.zeros(page.shape, np.uint8)
    mask[30:60, 40:80] = 255
    Image.fromarray(mask).save(mask_dir / "p1.bmp")
    result = run([folder, "-o", tmp_path / "out", "--masks", mask_dir], tiny_models_dir)
    assert result.exit_code == 0
    after = Image.open(tmp_path / "out" / "p1.png")
    assert after.mode == "L"
    np.testing.assert_array_equal(np.asarray(after)[mask == 0], page[mask == 0])


def test_mask_of_wrong_size_is_a_per_file_error(tmp_path, tiny_models_dir):
    folder, mask_dir = tmp_path / "in", tmp_path / "masks"
    folder.mkdir(), mask_dir.mkdir()
    Image.fromarray(drawing()).save(folder / "p1.png")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(mask_dir / "p1.png")
    runner = CliRunner()
    result = runner.invoke(main, ["bar", str(folder), "-o", str(tmp_path / "out"), "--masks", str(mask_dir),
                                  "--models", str(tiny_models_dir)])
    assert result.exit_code == 1 and "p1.png" in result.output and "10x10" in result.output


def test_usage_errors_exit_two(tmp_path, tiny_models_dir):
    runner = CliRunner()
    assert runner.invoke(main, ["bar", str(tmp_path / "missing")]).exit_code == 2
    assert runner.invoke(main, ["bar", "--tolerance", "999"]).exit_code == 2
    assert runner.invoke(main, ["bar", "--color", "bogus"]).exit_code == 2
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(paint_green(drawing(), BOX)).save(folder / "a.png")
    inside = runner.invoke(main, ["bar", str(folder), "-o", str(folder / "out"), "--models", str(tiny_models_dir)])
    assert inside.exit_code == 2 and "inside" in inside.output


def test_missing_or_damaged_model_gives_clear_message(tmp_path, pages, tiny_models_dir):
    empty = tmp_path / "nomodels"
    empty.mkdir()
    runner = CliRunner()
    result = runner.invoke(main, ["bar", str(pages), "-o", str(tmp_path / "o"), "--models", str(empty)])
    assert result.exit_code == 2 and "missing" in result.output and "models" in result.output
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("bar.json", "bar.npz"):
        (damaged / name).write_bytes((tiny_models_dir / name).read_bytes())
    with open(damaged / "bar.npz", "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    result = runner.invoke(main, ["bar", str(pages), "-o", str(tmp_path / "o"), "--models", str(damaged)])
    assert result.exit_code == 2 and "sha256" in result.output


def test_recursive_keeps_structure_and_same_input_twice_is_processed_once(tmp_path, tiny_models_dir):
    folder = tmp_path / "in"
    (folder / "ch1").mkdir(parents=True)
    Image.fromarray(paint_green(drawing(), BOX)).save(folder / "ch1" / "p.png")
    report = tmp_path / "report.json"
    result = run([folder, folder / "ch1" / "p.png", "-o", tmp_path / "out", "-r", "--report", report], tiny_models_dir)
    assert result.exit_code == 0
    assert (tmp_path / "out" / "ch1" / "p.png").exists()
    records = json.loads(report.read_text())
    assert len(records) == 1 and records[0]["status"] == "written" and records[0]["regions"] == 1


def test_help_documents_options_and_loads_no_network_library():
    import subprocess
    import sys

    result = CliRunner().invoke(main, ["bar", "--help"])
    assert result.exit_code == 0
    for option in ("--output", "--recursive", "--masks", "--color", "--tolerance", "--overwrite", "--quiet", "Examples"):
        assert option in result.output
    script = ("import sys; from decensor.cli import main\n"
              "try:\n    main(['bar', '--help'])\nexcept SystemExit:\n    pass\n"
              "print(sorted(m for m in ('keras', 'tensorflow', 'scipy', 'numpy') if m in sys.modules))")
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip().splitlines()[-1] == "[]"


def test_python_api_fills_pil_and_numpy():
    from decensor import Decensor

    engine = Decensor()
    page = paint_green(drawing(), BOX)
    filled = engine.fill(Image.fromarray(page))
    assert isinstance(filled, Image.Image) and filled.mode == "RGB"
    gray = np.asarray(Image.fromarray(drawing()).convert("L"))
    hole = np.zeros(gray.shape, bool)
    hole[BOX[0]:BOX[2], BOX[1]:BOX[3]] = True
    result = engine.fill(gray, mask=hole)
    assert result.shape == gray.shape and result.dtype == np.uint8
    np.testing.assert_array_equal(result[~hole], gray[~hole])


def test_grey_page_saved_as_rgb_gets_a_grey_fill(tmp_path, tiny_models_dir):
    from decensor import Decensor

    engine = Decensor(models_dir=tiny_models_dir, tile=64, margin=16)  # (a network that adds colour noise)
    gray = np.repeat(np.asarray(Image.fromarray(drawing()).convert("L"))[..., None], 3, -1)
    filled = engine.fill(paint_green(gray, BOX))
    assert filled.shape == gray.shape
    assert np.all(filled[..., 0] == filled[..., 1]) and np.all(filled[..., 1] == filled[..., 2])


def test_command_line_output_is_free_of_tensorflow_start_up_chatter(tmp_path, tiny_models_dir):
    import os
    import subprocess
    import sys

    pages = tmp_path / "in"
    pages.mkdir()
    Image.fromarray(paint_green(drawing(), (20, 30, 60, 80))).save(pages / "p.png")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    finished = subprocess.run(
        [sys.executable, "-m", "decensor", "bar", str(pages), "-o", str(tmp_path / "out"),
         "--models", str(tiny_models_dir), "-q"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert finished.returncode == 0, finished.stderr
    assert (tmp_path / "out" / "p.png").exists()
    for chatter in ("absl::InitializeLog", "oneDNN", "cpu_feature_guard"):
        assert chatter not in finished.stderr + finished.stdout


def test_stale_sample_cache_is_refused_with_one_line_naming_the_setting(tmp_path):
    folder = tmp_path / "samples" / "bar"
    folder.mkdir(parents=True)
    np.savez_compressed(folder / "shard_00000.npz", known=np.zeros((1, 8, 8, 1), np.uint8))
    from decensor.training.tasks import BarTask

    made = dict(BarTask().guess_settings(), patch_radius=2)  # as an older synthesis made them
    (folder / "about.json").write_text(json.dumps({"crop": 192, "task": "bar", "samples": 1, "first_guess": made}))
    result = CliRunner().invoke(main, ["data", "samples", "--cache", str(tmp_path), "--count", "2"])
    assert result.exit_code == 1
    assert "patch_radius" in result.output and "Traceback" not in result.output
    assert len(list(folder.glob("shard_*.npz"))) == 1  # nothing added to the stale cache


def test_pipeline_loaded_in_the_background_is_the_one_used_and_its_error_is_raised_where_used():
    """The command loads the pipeline beside the first page's decoding; a failed load still fails the page."""
    from decensor.modelfile import ModelFileError
    from decensor.runner import PageOptions, PageProcessor

    class Loads(PageProcessor):
        loads = 0

        def load_pipeline(self):
            Loads.loads += 1
            if self.options.dry_run:  # (stands in for a model that fails to load)
                raise ModelFileError("bar.npz: unreadable")
            return object()

    processor = Loads()
    processor.load_in_background()
    processor.load_in_background()  # (a second call starts nothing)
    first = processor.pipeline
    assert processor.pipeline is first and Loads.loads == 1
    failing = Loads(PageOptions(dry_run=True))
    failing.load_in_background()
    with pytest.raises(ModelFileError, match="unreadable"):
        failing.pipeline
