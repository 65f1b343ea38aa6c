import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from helpers import TINY


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory):
    """A models folder holding a random-weight tiny network saved like a real model."""
    import keras

    from decensor.modelfile import save_weights
    from decensor.network import build_network

    keras.utils.set_random_seed(1)
    folder = tmp_path_factory.mktemp("models")
    model = build_network(TINY)
    # Random inner layers, but a quiet last layer: the fill comes out mid-grey
    # with small variations, never a colour that could pass for leftover paint.
    to_image = model.get_layer("to_image")
    to_image.kernel.assign(np.asarray(to_image.kernel) * 1e-4)
    save_weights(model, TINY, "bar", folder, {"training": {"steps": 0}})
    return folder


@pytest.fixture(scope="session")
def tiny_engine(tiny_models_dir):
    from decensor.engine import Decensor

    return Decensor(models_dir=tiny_models_dir, tile=64, margin=16)
