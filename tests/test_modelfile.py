import json
import shutil

import numpy as np
import pytest

from decensor import modelfile
from decensor.modelfile import ModelFileError, load_arrays, load_model, model_paths, sha256_of


def test_shipped_model_matches_its_card_and_loads():
    config, arrays, card = load_arrays()
    weights, _ = model_paths()
    assert sha256_of(weights) == card["sha256"]
    assert weights.stat().st_size <= 40 * 1024 * 1024
    model, _ = load_model()
    assert model.count_params() == card["parameters"]
    assert (weights.parent / "bar.md").exists()


def test_weights_with_pickled_objects_are_refused(tmp_path, tiny_models_dir):
    for name in ("bar.json", "bar.npz"):
        shutil.copy(tiny_models_dir / name, tmp_path / name)
    np.savez(tmp_path / "bar.npz", evil=np.array([object()], dtype=object))
    card = json.loads((tmp_path / "bar.json").read_text())
    card["sha256"] = sha256_of(tmp_path / "bar.npz")
    (tmp_path / "bar.json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="unreadable"):
        load_arrays("bar", tmp_path)


def test_weights_that_do_not_fit_the_network_are_refused(tmp_path, tiny_models_dir):
    for name in ("bar.json", "bar.npz"):
        shutil.copy(tiny_models_dir / name, tmp_path / name)
    card = json.loads((tmp_path / "bar.json").read_text())
    card["network"]["widths"] = [8, 8, 16]
    (tmp_path / "bar.json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="shape"):
        load_model("bar", tmp_path)


def test_models_folder_can_be_overridden(monkeypatch, tmp_path):
    monkeypatch.setenv("DECENSOR_MODELS", str(tmp_path))
    assert modelfile.default_models_dir() == tmp_path
