"""Weights files: plain arrays plus a JSON model card, never pickled code.

A model named NAME is two files in the models folder: ``NAME.npz`` (one
float16 array per weight, loaded with ``allow_pickle=False`` so nothing in the
file can run) and ``NAME.json`` (architecture, the sha256 of the ``.npz``, and
the record of how it was trained). The architecture itself lives in code.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .design import DesignError, NetworkConfig

FORMAT_VERSION = 1
DEFAULT_MODEL = "bar"


class ModelFileError(RuntimeError):
    """A model file is missing, damaged or does not fit the network."""


def default_models_dir():
    """``$DECENSOR_MODELS`` if set, else the ``models/`` folder that ships with the code."""
    override = os.environ.get("DECENSOR_MODELS")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "models", here / "models"):
        if (candidate / f"{DEFAULT_MODEL}.json").exists():
            return candidate
    return here.parent / "models"


_VERIFIED = {}  # (weights path, size, mtime) -> sha256: a file is hashed once per process


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_paths(name=DEFAULT_MODEL, models_dir=None):
    folder = Path(models_dir) if models_dir is not None else default_models_dir()
    return folder / f"{name}.npz", folder / f"{name}.json"


def read_card(name=DEFAULT_MODEL, models_dir=None):
    _, card_path = model_paths(name, models_dir)
    try:
        with open(card_path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise ModelFileError(
            f"model card {card_path} is missing: restore the models/ folder "
            "(git checkout models/, or reinstall decensor)"
        ) from None
    except (OSError, ValueError) as error:
        raise ModelFileError(f"model card {card_path} is unreadable: {error}") from None


def save_weights(model, config, name, models_dir, card_extra=None):
    """Write ``name.npz`` (float16) and ``name.json``; return the card."""
    folder = Path(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    weights_path, card_path = model_paths(name, folder)
    arrays = {
        variable.path: np.asarray(variable.numpy(), dtype=np.float16)
        for variable in model.weights
    }
    temporary = weights_path.with_name(weights_path.name + ".tmp.npz")
    np.savez_compressed(temporary, **arrays)
    os.replace(temporary, weights_path)
    card = {
        "format": FORMAT_VERSION,
        "name": name,
        "network": config.to_dict(),
        "weights_file": weights_path.name,
        "sha256": sha256_of(weights_path),
        "parameters": int(sum(a.size for a in arrays.values())),
        # Recorded so that loading a model that adds nothing reads no weights at all.
        "zero_correction": adds_nothing(arrays),
    }
    card.update(card_extra or {})
    write_card(card, name, folder)
    return card


def write_card(card, name, models_dir):
    """Rewrite a model's card (JSON and Markdown) beside unchanged weights."""
    folder = Path(models_dir)
    _, card_path = model_paths(name, folder)
    temporary_card = card_path.with_name(card_path.name + ".tmp")
    temporary_card.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary_card, card_path)
    (folder / f"{name}.md").write_text(card_markdown(card), encoding="utf-8")


def card_markdown(card):
    """The model card for people: the same facts as the JSON card."""
    training = card.get("training", {})
    metrics = card.get("metrics", {}).get("held_out", {})
    scored = card.get("metrics", {}).get("scored")
    network = card.get("network", {})
    first_guess = NetworkConfig.from_dict(network).guess_kind if network else ""
    lines = [
        f"# Model `{card.get('name')}`",
        "",
        f"* Weights: `{card.get('weights_file')}` (float16), sha256 `{card.get('sha256')}`",
        f"* Parameters: {card.get('parameters', 0):,}",
        f"* Network: partial-convolution U-Net, widths {network.get('widths')}, kernels "
        f"{network.get('kernels')}; it corrects a first guess: {_first_guess(first_guess)}",
        f"* Data: {training.get('data', '?')}",
        f"* Training: {training.get('steps', '?')} steps, batch {training.get('batch_size', '?')}, "
        f"crops {training.get('crop', '?')} px, {training.get('optimizer', '?')}",
        f"* Loss weights: {training.get('loss_weights', '?')}; last training loss "
        f"{_number(training.get('last_loss'))}",
        f"* Warm start: {training.get('warm_start') or 'none'}",
        *([f"* The correction is smoothed over the hole (Gaussian, sigma {card['correction_smoothing']} px) "
           "before it is added to the guess, which keeps its texture"] if card.get("correction_smoothing") else []),
        f"* Held-out loss terms: {training.get('held_out_loss_terms', '?')}",
        "",
        "Held-out metrics (training's fixed validation set: "
        + training.get("validation", "crops of 256 px, half procedural manga pages from held-out seeds, "
                                     "half held-out Debian images") + "):",
        "",
        "| hole PSNR dB | blurred-hole PSNR dB | hole L1 |",
        "| --- | --- | --- |",
        f"| {metrics.get('hole_psnr', float('nan')):.2f} | {metrics.get('blurred_hole_psnr', float('nan')):.2f} "
        f"| {metrics.get('hole_l1', float('nan')):.4f} |",
        "",
        *([f"Scored: {scored}", ""] if scored else []),
        *([card["notes"], ""] if card.get("notes") else []),
        "The comparison with other methods is in `benchmarks/RESULTS.md` "
        f"(`python benchmarks/{'mosaic_quality' if first_guess == 'mosaic' else 'quality'}.py`).",
        "",
    ]
    return "\n".join(lines)


def _first_guess(kind):
    if kind == "patch_fill":
        return "patch synthesis of the hole (decensor.patchfill)"
    return ("what decensor mosaic restores without it (patch synthesis guided by the block means, every "
            "block shifted to its mean), seen beside the bicubic block means and the block size "
            "(decensor.mosaic.restoration.MosaicGuess)")


def _number(value):
    return "none (not trained yet)" if value is None else f"{value:.4f}"


def check_model(name=DEFAULT_MODEL, models_dir=None):
    """Raise ModelFileError unless the card is readable and the weights match its sha256.

    Cheap enough to run before a batch starts, so a broken install fails once,
    clearly, instead of on every page.
    """
    weights_path, _ = model_paths(name, models_dir)
    card = read_card(name, models_dir)
    if not weights_path.exists():
        raise ModelFileError(
            f"model weights {weights_path} are missing: restore the models/ folder "
            "(git checkout models/, or reinstall decensor)"
        )
    stat = weights_path.stat()
    key = (str(weights_path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256_of(weights_path)
    actual = _VERIFIED[key]
    if actual != card.get("sha256"):
        raise ModelFileError(
            f"model weights {weights_path} are damaged (sha256 {actual[:12]}… does "
            f"not match the card's {str(card.get('sha256'))[:12]}…): restore them "
            "with git checkout models/ or reinstall decensor"
        )
    return card


def load_arrays(name=DEFAULT_MODEL, models_dir=None, verify=True):
    """Return ``(config, {weight path: float32 array}, card)`` after checking the sha256."""
    weights_path, _ = model_paths(name, models_dir)
    card = check_model(name, models_dir) if verify else read_card(name, models_dir)
    try:
        with np.load(weights_path, allow_pickle=False) as archive:
            arrays = {key: archive[key].astype(np.float32) for key in archive.files}
    except (OSError, ValueError) as error:
        raise ModelFileError(f"model weights {weights_path} are unreadable: {error}") from None
    return design_of(card, name, models_dir), arrays, card


def design_of(card, name=DEFAULT_MODEL, models_dir=None):
    """The network design a model's card records (ModelFileError if this version cannot build it)."""
    try:
        return NetworkConfig.from_dict(card["network"])
    except (DesignError, KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"model card {model_paths(name, models_dir)[1]} describes no network this "
                             f"version builds: {error}") from None


def check_fit(config, arrays, source="weights"):
    """Raise ModelFileError unless ``arrays`` hold exactly the weights ``config``'s network has."""
    _check_shapes(config.weight_shapes(), arrays, source)


def _check_shapes(expected, arrays, source):
    missing = sorted(set(expected) - set(arrays))
    unexpected = sorted(set(arrays) - set(expected))
    if missing or unexpected:
        raise ModelFileError(
            f"{source} do not fit the network (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}): the model file belongs to another version of decensor"
        )
    for path, shape in expected.items():
        if tuple(arrays[path].shape) != tuple(shape):
            raise ModelFileError(f"{source}: {path} has shape {arrays[path].shape}, the network wants {tuple(shape)}")


def assign_weights(model, arrays, source="weights"):
    """Copy arrays into a Keras model by weight path; every weight must be matched."""
    variables = {variable.path: variable for variable in model.weights}
    _check_shapes({path: tuple(variable.shape) for path, variable in variables.items()}, arrays, source)
    for path, variable in variables.items():
        variable.assign(arrays[path])


def adds_nothing(arrays):
    """Whether the network's output is exactly its first guess: its last layer is all zeros.

    A design shipped before any training improved on its guess; the
    pipeline then skips the network (see :mod:`decensor.correction`).
    """
    last = [arrays.get(f"to_image/{part}") for part in ("kernel", "bias")]
    return all(weights is not None and not np.any(weights) for weights in last)


def quiet_keras_import():
    """Import Keras/TensorFlow with the C++ runtime's start-up chatter (oneDNN,
    absl) kept off the terminal: those lines are not about the user's pages.
    Python errors still surface: they are raised after stderr is restored.
    Called only when a network is about to be built, so a run that needs no
    network never pays for TensorFlow."""
    import sys

    if "keras" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras  # noqa: F401  (pulls in the backend)
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                tf.constant(0.0) + 1.0  # the first op starts the runtime, which logs too
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def build_model(config, arrays, source="weights"):
    """The Keras network of ``config`` holding ``arrays``."""
    quiet_keras_import()
    from .network import build_network

    model = build_network(config)
    assign_weights(model, arrays, source=source)
    return model


def load_model(name=DEFAULT_MODEL, models_dir=None):
    """Build the network from code and fill in the shipped weights."""
    config, arrays, card = load_arrays(name, models_dir)
    return build_model(config, arrays, str(model_paths(name, models_dir)[0])), card
