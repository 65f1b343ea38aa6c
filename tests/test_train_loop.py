"""One real epoch of `decensor train` for each task, on tiny sets: the loop runs end to end."""

import functools
import json
import shutil
from pathlib import Path

import pytest

from decensor.training import dataset
from decensor.training import train as train_module

SHIPPED = Path(__file__).resolve().parent.parent / "models"


def _tiny_sets(monkeypatch):
    """Tiny held-out sets and pool: the loop, not the statistics, is under test."""
    monkeypatch.setattr(train_module, "held_out_set", functools.partial(dataset.held_out_set, per_cell=1, size=64))
    monkeypatch.setattr(train_module, "held_out_mosaic_set",
                        functools.partial(dataset.held_out_mosaic_set, count=2, size=64))
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
    models = _shipped_bar_model(tmp_path)  # the mosaic task's first guess runs the bar model
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
