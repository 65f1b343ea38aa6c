"""Bad input, odd names, symlinks, write failures, kills: nothing lost, nothing overwritten."""

import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import drawing, paint_green, wait_for_outputs
from PIL import Image

from decensor import images
from decensor.cli import main

BOX = (20, 30, 50, 90)


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).iterdir()) if p.is_file()}


def _png_header_only(width, height):
    """A PNG whose header claims width x height but holds no pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


@pytest.fixture()
def mixed_folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    good = {
        "page one.png": paint_green(drawing(seed=1), BOX),
        "第2話 ページ.png": paint_green(drawing(seed=2), BOX),
        "vol.1.ch.2.p3.png": paint_green(drawing(seed=3), BOX),
        "photo.jpeg": paint_green(drawing(seed=4), BOX),
    }
    for name, pixels in good.items():
        Image.fromarray(pixels).save(folder / name, quality=90)
    (folder / "zero.png").write_bytes(b"")
    (folder / "notes.png").write_text("this is text, not a picture")
    whole = (folder / "page one.png").read_bytes()
    (folder / "truncated.png").write_bytes(whole[: len(whole) // 2])
    jpeg = (folder / "photo.jpeg").read_bytes()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    Image.fromarray(drawing(seed=5)).save(folder / "unmarked.png")
    frames = [Image.fromarray(paint_green(drawing(seed=s), BOX)).quantize(64) for s in (6, 7)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    (folder / "bomb.png").write_bytes(_png_header_only(100_000, 100_000))
    (folder / "folder.png").mkdir()  # a directory with an image name: not a page, left alone
    (folder / "broken link.png").symlink_to(tmp_path / "gone.png")
    return folder, set(good)


def test_mixed_batch_writes_every_good_page_explains_every_bad_one_and_leaves_inputs_alone(
        mixed_folder, tmp_path, tiny_models_dir):
    folder, good = mixed_folder
    before = _digest(folder)
    out, report = tmp_path / "out", tmp_path / "report.json"
    result = CliRunner().invoke(main, ["bar", str(folder), "-o", str(out), "--models", str(tiny_models_dir),
                                       "--report", str(report)])
    assert result.exit_code == 1
    assert {p.name for p in out.iterdir()} == good
    for name in good:
        with Image.open(out / name) as written:
            written.load()
    records = {Path(r["input"]).name: r for r in json.loads(report.read_text())}
    expected_errors = {
        "zero.png": "empty file",
        "notes.png": "not a readable image",
        "truncated.png": "truncated",
        "truncated.jpg": "truncated",
        "unmarked.png": "no marked region",
        "animated.gif": "animated image with 2 frames",
        "bomb.png": "over the 300 Mpx limit",
        "broken link.png": "does not exist",
    }
    for name, reason in expected_errors.items():
        assert reason in records[name]["error"], (name, records[name])
        lines = [line for line in result.output.splitlines() if name in line]
        assert len(lines) == 1 and reason in lines[0], (name, result.output)
    for name in good:
        assert records[name]["status"] == "written" and records[name]["regions"] == 1
    assert "folder.png" not in records
    assert _digest(folder) == before


def test_unreadable_file_is_reported_as_such(tmp_path, monkeypatch):
    import PIL.Image

    path = tmp_path / "locked.png"
    path.write_bytes(b"x")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(PIL.Image, "open", refuse)
    with pytest.raises(images.ImageFormatError, match="cannot be read .Permission denied"):
        images.open_picture(path)


def test_symlinked_input_is_read_and_symlinked_output_is_replaced_not_written_through(tmp_path, tiny_models_dir):
    real = tmp_path / "real.png"
    Image.fromarray(paint_green(drawing(), BOX)).save(real)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "link.png").symlink_to(real)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"must stay")
    (out / "link.png").symlink_to(victim)
    before = real.read_bytes()
    result = CliRunner().invoke(main, ["bar", str(folder), "-o", str(out), "--overwrite", "-q",
                                       "--models", str(tiny_models_dir)])
    assert result.exit_code == 0, result.output
    assert real.read_bytes() == before
    assert victim.read_bytes() == b"must stay"
    assert not (out / "link.png").is_symlink()
    assert Image.open(out / "link.png").size == (128, 96)


def test_write_failure_is_one_error_and_the_batch_goes_on(tmp_path, tiny_models_dir, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(paint_green(drawing(), BOX)).save(folder / name)
    real_save = images.save_picture
    calls = []

    def failing_save(picture, target, image_format):
        calls.append(1)
        if len(calls) == 1:  # a.png, the first page in name order
            target.write(b"half a page")
            raise OSError(28, "No space left on device")
        return real_save(picture, target, image_format)

    monkeypatch.setattr(images, "save_picture", failing_save)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["bar", str(folder), "-o", str(out), "--models", str(tiny_models_dir)])
    assert result.exit_code == 1
    assert "No space left on device" in result.output and "a.png" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["b.png"]


def test_exif_rotated_jpeg_keeps_orientation_and_accepts_a_mask_drawn_as_displayed(tmp_path, tiny_models_dir):
    folder, mask_dir = tmp_path / "in", tmp_path / "masks"
    folder.mkdir(), mask_dir.mkdir()
    page = Image.fromarray(drawing(96, 128))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; viewers rotate it 90 degrees clockwise
    page.save(folder / "p.jpg", exif=exif.tobytes(), quality=95)
    displayed_mask = np.zeros((128, 96), np.uint8)  # as shown: 96 wide, 128 tall
    displayed_mask[10:40, 20:60] = 255
    Image.fromarray(displayed_mask).save(mask_dir / "p.png")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["bar", str(folder), "-o", str(out), "--masks", str(mask_dir), "-q",
                                       "--models", str(tiny_models_dir)])
    assert result.exit_code == 0, result.output
    with Image.open(out / "p.jpg") as written:
        assert written.getexif().get(0x0112) == 6
        assert written.size == (128, 96)


def _pages_for_kill_test(folder, count=14):
    folder.mkdir()
    for index in range(count):
        pixels = np.repeat(np.repeat(drawing(seed=index), 4, axis=0), 4, axis=1)
        painted = paint_green(pixels, (60, 80, 300, 440))
        Image.fromarray(painted).save(folder / f"page_{index:02d}.png")


def test_sigkill_mid_batch_leaves_only_complete_outputs_and_rerun_finishes(tmp_path, tiny_models_dir):
    folder, out = tmp_path / "in", tmp_path / "out"
    _pages_for_kill_test(folder)
    command = [sys.executable, "-m", "decensor", "bar", str(folder), "-o", str(out), "-q",
               "--models", str(tiny_models_dir)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_outputs(out, 1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = sorted(out.glob("page_*.png"))
    assert finished, "the batch never wrote a page"
    for path in finished:
        with Image.open(path) as written:
            written.load()  # complete, decodable file
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in folder.iterdir())
