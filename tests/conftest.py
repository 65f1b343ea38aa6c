import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# One page at a time unless a test asks for workers (monkeypatched code does not reach spawned ones).
os.environ.setdefault("DECENSOR_JOBS", "1")

import pytest  # noqa: E402
from helpers import TINY, TINY_MOSAIC, save_tiny  # noqa: E402


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory):
    """A models folder holding tiny networks of the shipped designs, whose corrections are small but
    not zero: the network stage really runs (the shipped bar model's zero correction is skipped)."""
    folder = tmp_path_factory.mktemp("models")
    save_tiny(TINY, "bar", folder, correction_scale=0.01, seed=1)
    save_tiny(TINY_MOSAIC, "mosaic", folder, correction_scale=0.01, seed=2)
    return folder
