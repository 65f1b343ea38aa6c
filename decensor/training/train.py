"""The training loop: resumable, checkpointing, shipping whatever measures better.

Runs ``model.fit`` on endless random batches. Every epoch it saves a
checkpoint (weights and optimiser state) to the cache folder, scores the fixed
held-out set, and when the hole PSNR beats the shipped model's recorded score
it writes the weights to ``models/`` with an updated model card. Start again
and it resumes from the cache checkpoint, or from the shipped model when the
cache is gone.
"""

import json
import time
from pathlib import Path

import numpy as np

from .. import modelfile
from ..evaluation import blurred_hole_psnr, hole_l1, hole_psnr
from ..network import build_network
from . import sources
from .cache import CachedSamples
from .dataset import ImagePool, ReplayBuffer
from .losses import loss_terms
from .tasks import task_for

# Held-out gain needed to ship: above epoch-to-epoch noise of the 108-crop score.
SHIP_MARGIN_DB = 0.05


def _keras():
    import keras

    return keras


def _same_design(shipped, wanted):
    """Whether a shipped network can be resumed as it is (same first guess and inputs)."""
    return (shipped.guess_kind, shipped.guess_channels) == (wanted.guess_kind, wanted.guess_channels)


def score(model, held_inputs, held_targets, batch_size=8, finish=None):
    """Held-out metrics of a model on the fixed set (composited and finished like the tool does)."""
    known = held_inputs[1]
    truth = held_targets[..., :3]
    outputs = []
    channels = model.inputs[2].shape[-1]  # (a network takes the guess input's leading channels)
    for start in range(0, len(known), batch_size):
        chunk = [array[start : start + batch_size] for array in held_inputs]
        chunk[2] = chunk[2][..., :channels]
        predicted, _ = model(chunk, training=False)
        outputs.append(np.asarray(predicted))
    predicted = np.clip(np.concatenate(outputs), 0, 1)
    composite = known * truth + (1 - known) * predicted
    # Scored as the tool writes it: finished as the task says (rounding once, to 8 bits, last), else 8-bit.
    composite = finish(composite) if finish is not None else np.round(composite * 255) / 255
    holes = known[..., 0] < 0.5
    rows = [
        (hole_psnr(c, t, h), blurred_hole_psnr(c, t, h), hole_l1(c, t, h))
        for c, t, h in zip(composite, truth, holes)
    ]
    values = np.array(rows)
    return {
        "hole_psnr": float(values[:, 0].mean()),
        "blurred_hole_psnr": float(values[:, 1].mean()),
        "hole_l1": float(values[:, 2].mean()),
    }


class _Batches:
    """Endless batches for ``model.fit``; a PyDataset built lazily to keep Keras optional here."""

    def __new__(cls, pool, crop, batch_size, steps, rng, task, fresh, cached=None):
        keras = _keras()
        # Each sample is seen about batch_size / fresh times while it is in the buffer.
        replay = ReplayBuffer(capacity=32 * batch_size, rng=rng) if fresh < batch_size else None

        class Batches(keras.utils.PyDataset):
            def __init__(self):
                super().__init__(workers=1, use_multiprocessing=False)

            def __len__(self):
                return steps

            def new_samples(self, count):
                return task.batch([pool.crop(crop) for _ in range(count)], rng)

            def __getitem__(self, index):
                if cached is not None:  # pure network work: samples made once, on disk
                    inputs, targets = cached.draw(batch_size, crop, rng)
                    return inputs, task.loss_targets(inputs, targets)
                if index % 8 == 0:
                    pool.refresh(2)
                if replay is None:
                    inputs, targets = self.new_samples(batch_size)
                else:
                    if fresh:
                        replay.add(*self.new_samples(fresh))
                    while len(replay) < 4 * batch_size:
                        # A fresh buffer: fill it before reusing anything much.
                        replay.add(*self.new_samples(batch_size))
                    inputs, targets = replay.draw(batch_size)
                return inputs, task.loss_targets(inputs, targets)

        return Batches()


def _save_checkpoint(model, optimizer, state, folder):
    folder.mkdir(parents=True, exist_ok=True)
    weights = {v.path: np.asarray(v.numpy()) for v in model.weights}
    np.savez(folder / "weights.tmp.npz", **weights)
    (folder / "weights.tmp.npz").replace(folder / "weights.npz")
    opt = {f"{i}": np.asarray(v.numpy()) for i, v in enumerate(optimizer.variables)}
    np.savez(folder / "optimizer.tmp.npz", **opt)
    (folder / "optimizer.tmp.npz").replace(folder / "optimizer.npz")
    (folder / "state.json").write_text(json.dumps(state, indent=1))


def _load_checkpoint(model, optimizer, folder, log):
    state_file = folder / "state.json"
    if not state_file.exists():
        return None
    state = json.loads(state_file.read_text())
    try:
        with np.load(folder / "weights.npz") as archive:
            modelfile.assign_weights(model, {k: archive[k] for k in archive.files}, "checkpoint")
    except modelfile.ModelFileError as error:
        log(f"checkpoint in {folder} does not fit this network ({error}); not resuming from it")
        return None
    try:
        with np.load(folder / "optimizer.npz") as archive:
            values = [archive[str(i)] for i in range(len(archive.files))]
        optimizer.build(model.trainable_variables)
        if len(values) == len(optimizer.variables):
            wanted_rate = float(np.asarray(optimizer.learning_rate))
            for variable, value in zip(optimizer.variables, values):
                variable.assign(value)
            optimizer.learning_rate.assign(wanted_rate)  # the caller's rate wins over the saved one
        else:
            log("optimizer state does not fit; starting it fresh")
    except (OSError, KeyError) as error:
        log(f"optimizer state unreadable ({error}); starting it fresh")
    return state


def train(
    cache=None,
    models_dir=None,
    model_name="bar",
    crop=192,
    batch_size=8,
    steps_per_epoch=150,
    epochs=1000,
    learning_rate=2e-4,
    hours=None,
    restart=False,
    task="bar",
    fresh_per_batch=None,
    correction_smoothing=None,
    adversarial=0.0,
    matching=0.0,
    log=print,
):
    """Train ``task``'s model; see the module. ``correction_smoothing`` (bar only) overrides the task's
    (0: a sharp correction); ``adversarial`` and ``matching`` weigh the patch discriminator's terms
    (:mod:`decensor.training.adversarial`; both 0: the pixel loss alone)."""
    keras = _keras()
    models_dir = Path(models_dir) if models_dir else modelfile.default_models_dir()
    if correction_smoothing is not None and task != "bar":
        raise ValueError("only the bar task's correction is smoothed")
    task = task_for(task) if correction_smoothing is None else task_for(task, correction_smoothing=correction_smoothing)
    model_name = task.name if model_name == "bar" else model_name
    cache = Path(cache) if cache else sources.default_cache()
    checkpoint_dir = cache / "checkpoints" / model_name
    train_paths, held_paths = sources.image_lists(cache)
    log(f"data: {len(train_paths)} training and {len(held_paths)} held-out real images + procedural pages")
    rng = np.random.default_rng(int(time.time()))

    config = task.config()
    arrays, card, shipped_score, new_design = None, {}, None, False
    try:
        shipped_config, shipped_arrays, shipped_card = modelfile.load_arrays(model_name, models_dir)
        shipped_score = shipped_card.get("metrics", {}).get("held_out", {}).get("hole_psnr")
        new_design = not _same_design(shipped_config, config)
        if not restart and not new_design:
            config, arrays, card = shipped_config, shipped_arrays, shipped_card
    except modelfile.ModelFileError:
        pass
    model = build_network(config)
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=1.0)
    state = None if restart else _load_checkpoint(model, optimizer, checkpoint_dir, log)
    if state is None:
        state = {"steps": 0, "epochs": 0, "history": [], "best": None}
        if arrays is not None:
            modelfile.assign_weights(model, arrays, "shipped model")
            state["steps"] = card.get("training", {}).get("steps", 0)
            log(f"resuming from the shipped model ({state['steps']} steps)")
        else:
            # Fresh weights, the last layer too (a zero last layer passes no gradient on until it
            # has grown: a correction then learns like (lr * t)^2). It starts within a grey level.
            _wake_last_layer(model, rng)
            log("starting from random weights" + (" (the shipped model is another design)" if new_design else ""))
    else:
        log(f"resuming from checkpoint at {state['steps']} steps")

    discriminator = None
    if adversarial or matching:
        from .adversarial import AdversarialTrainer, PatchDiscriminator

        discriminator = PatchDiscriminator()
        _load_discriminator(discriminator, checkpoint_dir, crop, log)
        trainer = AdversarialTrainer(model, discriminator, task.loss, adversarial, matching,
                                     keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.5))
        trainer.compile(optimizer=optimizer, jit_compile=False)
    else:
        prediction, _ = model.outputs
        trainer = keras.Model(model.inputs, prediction)
        trainer.compile(optimizer=optimizer, loss=task.loss, jit_compile=False)

    held_inputs, held_targets, finish = task.held_out(held_paths)

    def measure(scored_model):
        return score(scored_model, held_inputs, held_targets, finish=finish)

    if shipped_score is not None:
        # Re-score the shipped model with today's code and held-out set: the
        # number in its card may come from an older version of either.
        try:
            shipped_score = score_shipped(model_name, models_dir, held_inputs, held_targets, finish)[0]["hole_psnr"]
            log(f"shipped model scores {shipped_score:.2f} dB on the held-out set")
        except (modelfile.ModelFileError, ValueError) as error:
            log(f"shipped model could not be re-scored ({error}); using its card")
    fresh_per_batch = min(fresh_per_batch or batch_size, batch_size)
    try:
        cached = CachedSamples(cache, task.name, task.guess_settings())
        pool = None
        log(f"training from {len(cached)} cached samples (cropped to {crop} px, turned and flipped)")
    except FileNotFoundError:
        cached, pool = None, ImagePool(train_paths, rng)
        log("no cached samples: each batch makes its own first guesses (decensor data samples makes a cache)")
    batches = _Batches(pool, crop, batch_size, steps_per_epoch, rng, task, fresh_per_batch, cached)
    started = time.time()
    # The weights we start from are the bar to clear: a fresh network that
    # starts at its guess, or a resumed one, must beat itself before shipping.
    start_metrics = measure(model)
    start_score = start_metrics["hole_psnr"]
    log(f"starting weights score {start_score:.2f} dB on the held-out set")
    # (A checkpoint's own "best" may come from older scoring code: the shipped
    # model, re-scored above, stands for every earlier success.)
    # A network of this design as built starts exactly at its first guess
    # (zero last layer): what the tool does with no model. A resumed
    # checkpoint that scores below that guess must not ship.
    guess_score = measure(build_network(config))["hole_psnr"] if state["steps"] else start_score
    log(f"the first guess alone scores {guess_score:.2f} dB")
    known_scores = [v for v in (shipped_score, start_score, guess_score) if v is not None]
    # (For the mosaic task the starting weights add nothing to their first
    # guess, which is what decensor mosaic does without a mosaic model: the
    # start score is the score to beat.)
    best = [max(known_scores) if known_scores else None]

    def ship(metrics, loss):
        best[0] = state["best"] = metrics["hole_psnr"]
        held_out_terms = loss_terms(task.loss_targets(held_inputs, held_targets)[:8],
                                    trainer([a[:8] for a in held_inputs], training=False),
                                    smoothing=task.correction_smoothing)
        modelfile.save_weights(model, config, model_name, models_dir, {
            **_smoothing_entry(task),
            "training": {
                "steps": state["steps"], "crop": crop, "batch_size": batch_size,
                "optimizer": f"Adam lr={learning_rate} clipnorm=1",
                "loss_weights": task.weights, "last_loss": loss,
                "held_out_loss_terms": {k: float(v) for k, v in held_out_terms.items()},
                "task": task.name,
                "fresh_samples_per_batch": None if cached is not None else fresh_per_batch,
                **({"adversarial": {"weight": adversarial, "feature_matching": matching,
                                    "discriminator_widths": list(discriminator.widths)}} if discriminator else {}),
                "cached_samples": None if cached is None else len(cached),
                "validation": task.validation,
                "data": "procedural manga pages + Debian packages: " + ", ".join(sorted(sources.PACKAGES)),
            },
            "metrics": {"held_out": metrics},
        })
        log(f"shipped to {models_dir} (held-out hole PSNR {best[0]:.2f} dB)")

    def end_of_epoch(epoch, logs):
        state["steps"] += steps_per_epoch
        state["epochs"] += 1
        loss = float(logs["loss"])
        metrics = measure(model)
        record = {"steps": state["steps"], "loss": loss, "time": time.time(), **metrics}
        state["history"].append(record)
        terms = "".join(f", {name} {float(logs[name]):.4f}" for name in ("pixel", "adversarial", "matching",
                                                                       "discriminator") if name in logs)
        log(f"step {state['steps']}: loss {loss:.4f}{terms}, held-out hole PSNR {metrics['hole_psnr']:.2f} dB, "
            f"blurred {metrics['blurred_hole_psnr']:.2f} dB, L1 {metrics['hole_l1']:.4f}")
        # Ship only a real improvement, not epoch-to-epoch noise.
        if best[0] is None or metrics["hole_psnr"] > best[0] + SHIP_MARGIN_DB:
            ship(metrics, loss)
        _save_checkpoint(model, optimizer, state, checkpoint_dir)
        if discriminator is not None:
            _save_discriminator(discriminator, checkpoint_dir)
        _sample_sheet(model, held_inputs, held_targets, checkpoint_dir / "samples.png", finish)
        if hours is not None and time.time() - started > hours * 3600:
            trainer.stop_training = True

    trainer.fit(
        batches, epochs=epochs, verbose=0,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=end_of_epoch)],
    )
    return state


def _save_discriminator(discriminator, folder):
    """The discriminator's weights beside the checkpoint (its optimiser starts afresh on resume)."""
    np.savez(folder / "discriminator.tmp.npz", *[np.asarray(v.numpy()) for v in discriminator.weights])
    (folder / "discriminator.tmp.npz").replace(folder / "discriminator.npz")


def _load_discriminator(discriminator, folder, crop, log):
    """Build the discriminator; take its checkpointed weights when they are there and fit."""
    keras = _keras()
    discriminator([keras.ops.zeros((1, crop, crop, 3)), keras.ops.zeros((1, crop, crop, 1))])
    path = Path(folder) / "discriminator.npz"
    if not path.exists():
        return
    with np.load(path) as archive:
        values = [archive[f"arr_{index}"] for index in range(len(archive.files))]
    if [v.shape for v in values] != [tuple(w.shape) for w in discriminator.weights]:
        log("discriminator checkpoint does not fit; starting it fresh")
        return
    for variable, value in zip(discriminator.weights, values):
        variable.assign(value)
    log("discriminator resumed from its checkpoint")


def score_shipped(model_name, models_dir, held_inputs, held_targets, finish=None):
    """(held-out metrics, card) of a shipped model, fed the guess channels it takes."""
    model, card = modelfile.load_model(model_name, models_dir)
    return score(model, held_inputs, held_targets, finish=finish), card


def _smoothing_entry(task):
    """The card entry that makes the tool smooth the correction as the held-out set was scored."""
    return {"correction_smoothing": task.correction_smoothing} if task.correction_smoothing else {}


def _wake_last_layer(model, rng, spread=1e-4):
    """A small random last layer instead of the zero one the network is built with."""
    to_image = model.get_layer("to_image")
    to_image.kernel.assign(rng.normal(0.0, spread, tuple(to_image.kernel.shape)).astype(np.float32))


def rescore(cache=None, models_dir=None, task="bar", log=print):
    """Score the shipped model on the held-out set with today's code; record it in its card.

    The weights stay as they are, but what the tool does around them (the
    first guess, the finishing) may have changed since they were shipped:
    the card and the shipping rule should compare today's numbers.
    """
    from datetime import date

    from .. import __version__

    models_dir = Path(models_dir) if models_dir else modelfile.default_models_dir()
    if task == "bar":  # (scored as its card says the tool runs it, sharp or smoothed)
        smoothing = modelfile.read_card(task, models_dir).get("correction_smoothing", 0.0)
        task = task_for(task, correction_smoothing=smoothing)
    else:
        task = task_for(task)
    _, held_paths = sources.image_lists(cache)
    held_inputs, held_targets, finish = task.held_out(held_paths)
    metrics, card = score_shipped(task.name, models_dir, held_inputs, held_targets, finish)
    card.setdefault("metrics", {})["held_out"] = metrics
    card.pop("correction_smoothing", None)
    card.update(_smoothing_entry(task))  # (scored as the tool will run it)
    card["metrics"]["scored"] = f"{date.today().isoformat()}, decensor {__version__}"
    modelfile.write_card(card, task.name, models_dir)
    log(f"{task.name}: held-out hole PSNR {metrics['hole_psnr']:.2f} dB, blurred {metrics['blurred_hole_psnr']:.2f} dB, "
        f"L1 {metrics['hole_l1']:.4f}; card updated")
    return metrics


def _sample_sheet(model, held_inputs, held_targets, path, finish=None, count=6):
    """Columns: input, first guess, the network's fill (finished as the tool writes it), truth."""
    from PIL import Image

    # Spread over the set: it is ordered by hole family and size.
    picked = np.linspace(0, len(held_targets) - 1, count).astype(int)
    images, known = held_inputs[0][picked], held_inputs[1][picked]
    predicted, _ = model([a[picked] for a in held_inputs], training=False)
    predicted = np.clip(np.asarray(predicted), 0, 1)
    truth = held_targets[picked, ..., :3]
    composite = known * truth + (1 - known) * predicted
    if finish is not None:
        composite = finish(composite, picked)
    shown = images + (1 - known) * np.array([0, 1, 0], np.float32)
    guess = held_inputs[2][picked][..., :3]
    rows = [np.concatenate(columns, axis=1) for columns in zip(shown, guess, composite, truth)]
    Image.fromarray(np.round(np.concatenate(rows, axis=0) * 255).astype(np.uint8)).save(path)
