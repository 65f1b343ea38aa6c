"""One real epoch of `decensor train` for each task, on tiny sets: the loop runs end to end."""

import functools
import json
import shutil
from pathlib import Path

import pytest

from decensor.training import dataset, tasks
from decensor.training import train as train_module

SHIPPED = Path(__file__).resolve().parent.parent / "models"


def _tiny_sets(monkeypatch):
    """Tiny held-out sets and pool: the loop, not the statistics, is under test."""
    monkeypatch.setattr(tasks, "held_out_set", functools.partial(dataset.held_out_set, per_cell=1, size=64))
    monkeypatch.setattr(tasks, "held_out_mosaic_set", functools.partial(dataset.held_out_mosaic_set, count=2, size=64))
    monkeypatch.setattr(train_module, "ImagePool", functools.partial(dataset.ImagePool, size=3))


def _shipped_bar_model(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for shipped in SHIPPED.glob("bar.*"):
        shutil.copy(shipped, models)
    return models


@pytest.mark.parametrize("task,fresh_per_batch", [("bar", None), ("mosaic", 1)])
def test_one_epoch_checkpoints_and_scores(task, fresh_per_batch, tmp_path, monkeypatch):
    _tiny_sets(monkeypatch)
    models = _shipped_bar_model(tmp_path)  # (a copy: training may ship into it)
    lines = []
    state = train_module.train(cache=tmp_path / "cache", models_dir=models, crop=64, batch_size=2,
                               steps_per_epoch=2, epochs=1, task=task, fresh_per_batch=fresh_per_batch,
                               log=lines.append)

    checkpoint = tmp_path / "cache" / "checkpoints" / task
    saved = json.loads((checkpoint / "state.json").read_text())
    assert saved["epochs"] == 1 and saved["steps"] == state["steps"]
    assert len(saved["history"]) == 1 and saved["history"][0]["hole_psnr"] > 10
    assert (checkpoint / "weights.npz").exists() and (checkpoint / "samples.png").exists()
    assert any("starting weights score" in line for line in lines)


def test_rescore_updates_the_card_and_leaves_the_weights(tmp_path, monkeypatch):
    from decensor import modelfile

    _tiny_sets(monkeypatch)
    models = _shipped_bar_model(tmp_path)
    weights = (models / "bar.npz").read_bytes()
    metrics = train_module.rescore(cache=tmp_path / "cache", models_dir=models, log=lambda _: None)
    card = modelfile.check_model("bar", models)  # the sha256 still matches
    assert card["metrics"]["held_out"] == metrics and card["metrics"]["scored"]
    assert (models / "bar.npz").read_bytes() == weights
    assert f"{metrics['hole_psnr']:.2f}" in (models / "bar.md").read_text()


def test_mosaic_batches_leave_the_blocks_the_first_guess_is_sure_of_out_of_the_loss():
    import numpy as np

    from decensor.training.tasks import MosaicTask

    task = MosaicTask()
    page = np.zeros((128, 128, 3), np.uint8)
    page[:, 64:] = 220  # flat art: every block there is sure
    page[:, :64] = np.arange(64)[None, :, None] * 3
    rng = np.random.default_rng(3)
    (image, known, guess_input), targets = task.batch([page, page], rng)
    in_hole = known[..., 0] == 0
    sure = targets[..., 3] > known[..., 0]
    assert (targets[..., 3][~in_hole] == 1).all()
    assert sure.any() and not sure[~in_hole].any()
    # Sure pixels are where the tool keeps the first guess: the flat half's blocks.
    assert sure[:, :, 72:].sum() >= 0.5 * in_hole[:, :, 72:].sum()


def test_cached_samples_are_made_once_and_train_the_network(tmp_path, monkeypatch):
    import numpy as np

    from decensor.training import cache as sample_cache
    from decensor.training.tasks import BarTask

    _tiny_sets(monkeypatch)
    task = BarTask()
    made = sample_cache.build(task, tmp_path / "cache", 6, 96, [], rng=np.random.default_rng(1), log=lambda _: None,
                              shard=3)
    assert made == 6 and len(list((tmp_path / "cache" / "samples" / "bar").glob("shard_*.npz"))) == 2
    # Building again resumes: nothing more to make.
    assert sample_cache.build(task, tmp_path / "cache", 6, 96, [], log=lambda _: None, shard=3) == 6
    samples = sample_cache.CachedSamples(tmp_path / "cache", "bar")
    (image, known, guess), target = samples.draw(4, 64, np.random.default_rng(2))
    assert image.shape == (4, 64, 64, 3) and guess.shape == (4, 64, 64, 5) and target.shape == (4, 64, 64, 4)
    hole = known[..., 0] < 0.5
    assert np.all(image[hole] == 0) and np.all(guess[..., 3][hole] == 1) and np.all(guess[..., 3][~hole] == 0)
    lines = []
    train_module.train(cache=tmp_path / "cache", models_dir=_shipped_bar_model(tmp_path), crop=64, batch_size=2,
                       steps_per_epoch=2, epochs=1, log=lines.append)
    assert any("training from 6 cached samples" in line for line in lines)
    # Samples made with other first-guess settings are stale: building and training refuse them.
    import dataclasses

    from decensor.bar import BarFill

    task.pipeline = BarFill(synthesis=dataclasses.replace(task.pipeline.synthesis, hole_trust=0.01))
    with pytest.raises(sample_cache.StaleSamples, match="hole_trust"):
        sample_cache.build(task, tmp_path / "cache", 9, 96, [], log=lambda _: None, shard=3)
    with pytest.raises(sample_cache.StaleSamples, match="hole_trust"):
        sample_cache.CachedSamples(tmp_path / "cache", "bar", task.guess_settings())


def test_an_adversarial_sharp_epoch_trains_both_networks_and_resumes_the_discriminator(tmp_path, monkeypatch):
    import numpy as np

    _tiny_sets(monkeypatch)
    models = _shipped_bar_model(tmp_path)
    lines = []
    run = functools.partial(train_module.train, cache=tmp_path / "cache", models_dir=models, crop=64, batch_size=2,
                            steps_per_epoch=2, epochs=1, correction_smoothing=0.0, adversarial=0.1, matching=1.0,
                            log=lines.append)
    run()
    checkpoint = tmp_path / "cache" / "checkpoints" / "bar"
    with np.load(checkpoint / "discriminator.npz") as archive:
        first = [archive[name] for name in archive.files]
    assert len(first) == 8  # (three strided convolutions and the logits: kernels and biases)
    run()
    assert any("discriminator resumed from its checkpoint" in line for line in lines)
    with np.load(checkpoint / "discriminator.npz") as archive:
        assert any(not np.array_equal(a, archive[name]) for a, name in zip(first, archive.files))
    history = json.loads((checkpoint / "state.json").read_text())["history"]
    assert len(history) == 2 and all(np.isfinite(record["loss"]) for record in history)


def test_the_discriminator_judges_only_patches_that_hold_hole():
    import numpy as np
    from keras import ops

    from decensor.training.adversarial import discriminator_loss, generator_terms, hole_patches

    known = np.ones((1, 32, 32, 1), np.float32)
    known[0, 3:5, 20:22] = 0  # one hole inside the patch at row 0, column 2 (8 px patches)
    patches = np.asarray(hole_patches(ops.convert_to_tensor(known), 8))
    assert patches.shape == (1, 4, 4, 1) and patches.sum() == 1 and patches[0, 0, 2, 0] == 1
    confident = np.full((1, 4, 4, 1), 8.0, np.float32)  # "real" everywhere
    fooled = float(discriminator_loss(confident, confident, patches))
    caught = float(discriminator_loss(confident, np.where(patches > 0, -8.0, 8.0).astype(np.float32), patches))
    assert caught < fooled  # calling the hole's patch fake is right; the rest of the composite is the truth
    features = [np.ones((1, 4, 4, 2), np.float32)]
    adversarial, matching = generator_terms(confident, features, [f + 0.5 for f in features], patches)
    assert float(adversarial) < 0.01 and abs(float(matching) - 0.5) < 1e-6
