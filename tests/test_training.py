"""The training pieces that run without a training run: data, masks, losses, split rules."""

import numpy as np
import pytest

from decensor.training import dataset, sources
from decensor.training.dataset import make_batch, random_crop
from decensor.training.holes import FAMILIES, hole_mask
from decensor.training.losses import inpainting_loss, loss_terms
from decensor.training.procedural import manga_page, screentone, to_manga_style


def test_procedural_page_is_reproducible_and_has_ink_paper_and_tone():
    page = manga_page((256, 256), seed=4)
    assert page.dtype == np.uint8 and page.shape == (256, 256)
    np.testing.assert_array_equal(page, manga_page((256, 256), seed=4))
    assert (page < 40).mean() > 0.01 and (page > 220).mean() > 0.2
    assert not np.array_equal(page, manga_page((256, 256), seed=5))


def test_screentone_coverage_follows_the_level():
    for level in (0.1, 0.3, 0.6):
        tone = screentone((128, 128), 6, 45, level)
        assert abs((1 - tone).mean() - level) < 0.06


def test_manga_style_conversion_is_grayscale():
    rgb = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    out = to_manga_style(rgb, np.random.default_rng(1))
    assert out.shape == (64, 64) and out.dtype == np.uint8


@pytest.mark.parametrize("family", FAMILIES)
def test_hole_masks_stay_in_the_asked_ratio(family):
    rng = np.random.default_rng(2)
    ratios = [hole_mask((128, 128), rng, family, (0.05, 0.3)).mean() for _ in range(20)]
    assert min(ratios) > 0 and max(ratios) <= 0.35 + 1e-9


def test_batch_layout_and_loss_is_zero_for_a_perfect_fill():
    rng = np.random.default_rng(3)
    crops = [random_crop(np.repeat(manga_page((256, 256), seed=s)[..., None], 3, -1), 64, rng) for s in range(4)]
    (masked, known), target = make_batch(crops, rng)
    assert masked.shape == (4, 64, 64, 3) and known.shape == (4, 64, 64, 1) and target.shape == (4, 64, 64, 4)
    assert np.all(masked[known[..., 0] == 0] == 0)
    terms = {name: float(value) for name, value in loss_terms(target, target[..., :3]).items()}
    assert set(terms) == {"hole_log", "hole", "hole_squared", "keep", "valid", "gradient", "contrast", "tv"}
    # A perfect fill costs nothing but the smoothness prior on the true image.
    assert all(terms[name] < 1e-6 for name in ("hole", "hole_squared", "valid", "gradient", "contrast"))
    # The per-image log error sits at its floor, 8-bit rounding noise (the
    # scored PSNR's cap), and rises with any error.
    floor = (1 / 255) ** 2 / 12
    assert terms["hole_log"] == pytest.approx(np.log10(floor), abs=1e-3)
    worse = {name: float(value) for name, value in loss_terms(target, target[..., :3] + 0.1).items()}
    assert worse["hole_log"] == pytest.approx(np.log10(0.01 + floor), abs=1e-3)
    assert float(inpainting_loss(target, target[..., :3])) < float(
        inpainting_loss(target, np.full_like(target[..., :3], 0.5)))


def test_held_out_split_is_stable_and_about_five_percent():
    keys = [f"pkg/image_{i}.png" for i in range(4000)]
    held = [sources.is_held_out(k) for k in keys]
    assert held == [sources.is_held_out(k) for k in keys]
    assert 0.03 < np.mean(held) < 0.07


def test_reserved_packages_are_refused(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        sources.fetch_package("wesnoth-1.16-data", tmp_path, sources.Source("", 10))
    with pytest.raises(ValueError, match="independent"):
        sources.fetch(tmp_path, ["flare-game"])


def test_mosaic_batch_layout_and_its_guess_input():
    from decensor.training.tasks import MosaicTask

    rng = np.random.default_rng(6)
    crops = [random_crop(np.repeat(manga_page((256, 256), seed=s)[..., None], 3, -1), 128, rng) for s in range(3)]
    (image, known, guess_input), target = MosaicTask().batch(crops, rng)
    assert image.shape == (3, 128, 128, 3) and known.shape == (3, 128, 128, 1)
    assert guess_input.shape == (3, 128, 128, 7) and target.shape == (3, 128, 128, 4)
    hole = known[..., 0] == 0
    assert hole.any() and np.all(image[hole] == 0)
    # The first guess keeps every known pixel; the block-size channel marks the mosaic region only.
    np.testing.assert_allclose(guess_input[..., :3][~hole], image[~hole], atol=1e-6)
    assert np.all(guess_input[..., 6][~hole] == 0) and np.all(guess_input[..., 6][hole] > 0)


def test_hole_psnr_is_capped_at_eight_bit_precision():
    from decensor.evaluation import hole_psnr

    truth = np.full((8, 8, 3), 0.5)
    hole = np.ones((8, 8), bool)
    exact = hole_psnr(truth, truth, hole)
    assert 58 < exact < 60
    assert hole_psnr(truth + 0.1, truth, hole) == pytest.approx(20.0, abs=0.01)


def _dihedral_images(array):
    return [dataset.orient(array, turns, flip) for turns in range(4) for flip in (False, True)]


def test_orientations_are_the_eight_symmetries_of_the_square():
    array = np.arange(3 * 3 * 2).reshape(3, 3, 2)
    images = _dihedral_images(array)
    assert len({image.tobytes() for image in images}) == 8
    assert np.array_equal(dataset.orient(array, 0, False), array)
    assert np.array_equal(dataset.orient(array, 1, False)[:, :, 1], np.rot90(array[:, :, 1]))


def test_replay_turns_every_array_of_a_sample_alike_and_forgets_the_oldest():
    rng = np.random.default_rng(0)
    replay = dataset.ReplayBuffer(capacity=3, rng=rng)

    def batch(first, count):
        # Sample i: image filled with a ramp plus i; mask and target derived from the same ramp.
        ramp = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
        images = np.stack([np.repeat(ramp + i, 3, axis=-1) for i in range(first, first + count)])
        masks = np.stack([ramp + i for i in range(first, first + count)])
        return (images, masks), np.concatenate([images, masks], axis=-1) * 2

    replay.add(*batch(0, 2))
    replay.add(*batch(2, 2))  # capacity 3: sample 0 gives way to sample 3
    assert len(replay) == 3
    (images, masks), targets = replay.draw(64)
    assert images.shape == (64, 4, 4, 3) and masks.shape == (64, 4, 4, 1) and targets.shape == (64, 4, 4, 4)
    offsets = set()
    for image, mask, target in zip(images, masks, targets):
        offset = int(image.min())
        offsets.add(offset)
        assert np.array_equal(image[..., :1], mask) and np.array_equal(target, 2 * np.concatenate([image, mask], -1))
        ramp = np.arange(16, dtype=np.float32).reshape(4, 4, 1) + offset
        assert any(np.array_equal(mask, turned) for turned in _dihedral_images(ramp))
    assert offsets == {1, 2, 3}


def test_qt_resource_bundles_are_unpacked(tmp_path):
    """A hand-made .rcc (version 2): a root folder with one zlib-compressed file and one plain file."""
    import struct
    import zlib

    def name(text):
        encoded = text.encode("utf-16-be")
        return struct.pack(">HI", len(text), 0) + encoded

    names = name("art") + name("a.svg") + name("b.txt")
    art, a_svg, b_txt = 0, len(name("art")), len(name("art")) + len(name("a.svg"))
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    packed = struct.pack(">I", len(svg)) + zlib.compress(svg)
    payload = struct.pack(">I", len(packed)) + packed
    plain_at = len(payload)
    payload += struct.pack(">I", 5) + b"hello"

    def folder(name_offset, count, first):
        return struct.pack(">IHII", name_offset, 2, count, first) + b"\0" * 8

    def file(name_offset, flags, offset):
        return struct.pack(">IHHHI", name_offset, flags, 0, 0, offset) + b"\0" * 8

    tree = folder(0, 1, 1) + folder(art, 2, 2) + file(a_svg, 1, 0) + file(b_txt, 0, plain_at)
    header_size = 20
    tree_at = header_size
    payload_at = tree_at + len(tree)
    names_at = payload_at + len(payload)
    bundle = b"qres" + struct.pack(">IIII", 2, tree_at, payload_at, names_at) + tree + payload + names
    (tmp_path / "x.rcc").write_bytes(bundle)
    assert sources.unpack_rcc(tmp_path / "x.rcc", tmp_path / "out") == 2
    assert (tmp_path / "out" / "art" / "a.svg").read_bytes() == svg
    assert (tmp_path / "out" / "art" / "b.txt").read_bytes() == b"hello"


def test_the_bar_loss_scores_the_correction_as_the_tool_smooths_it():
    from decensor.correction import smooth_correction
    from decensor.training.losses import bar_loss, smoothed

    rng = np.random.default_rng(6)
    truth = rng.random((2, 48, 48, 3)).astype("float32")
    known = np.ones((2, 48, 48, 1), "float32")
    known[:, 12:36, 10:38] = 0
    guess = rng.random((2, 48, 48, 3)).astype("float32")
    predicted = guess + rng.normal(0, 0.1, guess.shape).astype("float32")
    y_true = np.concatenate([truth, known, guess], axis=-1)
    ours = np.asarray(smoothed(y_true, predicted, 2.0))
    tools = smooth_correction(predicted, known, guess, 2.0)
    np.testing.assert_allclose(ours, tools, atol=1e-4)  # (the hole is far enough from the border)
    # Grain the tool blurs away costs nothing: the loss of guess + grain is that of the guess.
    grain = (np.indices((48, 48)).sum(axis=0) % 2 * 0.2 - 0.1)[None, ..., None].astype("float32")
    assert abs(float(bar_loss(y_true, guess + grain)) - float(bar_loss(y_true, guess))) < 0.02
    assert float(bar_loss(y_true, truth)) < float(bar_loss(y_true, guess))
