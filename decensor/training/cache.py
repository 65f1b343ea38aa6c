"""Training samples on disk, made once: a step then is pure network work.

A sample is what a task's ``batch`` gives for one crop, first guess included
(the expensive part): the masked image, the mask, the guess input, the
target. Every value lies in 0..1 and is stored as uint8 (the guess and the
image are 8-bit already; the synthesis's doubt and the mosaic evidence are
rounded to 1/255), in compressed shards of ``SHARD`` samples under
``<cache>/samples/<task>/``. Building resumes where it stopped, adding shards.
Batches draw random samples, a random sub-crop of the training size and one
of the eight orientations of the square. ``about.json`` records the settings
the first guesses were made with: samples made with other settings are
stale, and neither building nor training goes on with them.
"""

import json
import time
from pathlib import Path

import numpy as np

from .dataset import ImagePool, orient

SHARD = 256
FIELDS = ("image", "known", "guess", "target")


def cache_dir(cache, task_name):
    return Path(cache) / "samples" / task_name


def _shards(folder):
    """The finished shards (a shard being written is a .tmp.npz until it is complete)."""
    return sorted(Path(folder).glob("shard_[0-9][0-9][0-9][0-9][0-9].npz"))


def _count(path):
    with np.load(path) as archive:
        return len(archive["known"])


class StaleSamples(ValueError):
    """The cached first guesses were made with other settings than today's."""


def _check_settings(folder, settings):
    """Raise :class:`StaleSamples` if ``folder`` holds shards made with other first-guess settings."""
    about = Path(folder) / "about.json"
    if settings is None or not _shards(folder):
        return
    made = (json.loads(about.read_text()).get("first_guess") if about.exists() else None) or {}
    wanted = json.loads(json.dumps(settings))  # (as JSON reads it back: tuples are lists)
    if made != wanted:
        changed = ", ".join(sorted(key for key in wanted if made.get(key) != wanted[key])) if made else "not recorded"
        raise StaleSamples(f"{folder}: samples made with other first-guess settings (changed: {changed}); "
                           f"delete the folder and run `decensor data samples`")


def _write_about(folder, task, crop, have):
    about = {"crop": crop, "task": task.name, "samples": have, "first_guess": task.guess_settings()}
    (folder / "about.json").write_text(json.dumps(about, indent=1))


def _quantise(array):
    return np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)


def build(task, cache, count, crop, train_paths, rng=None, log=print, shard=SHARD):
    """Add shards of ``shard`` samples made by ``task`` until ``count`` samples are on disk; returns the count."""
    folder = cache_dir(cache, task.name)
    folder.mkdir(parents=True, exist_ok=True)
    _check_settings(folder, task.guess_settings())
    have = sum(_count(path) for path in _shards(folder))
    _write_about(folder, task, crop, have)
    rng = rng or np.random.default_rng(int(time.time()))
    pool = ImagePool(train_paths, rng) if have < count else None
    started, first = time.time(), have
    while have < count:
        inputs, targets = task.batch([pool.crop(crop) for _ in range(shard)], rng)
        arrays = dict(zip(FIELDS, (*map(_quantise, inputs), _quantise(targets))))
        index = len(_shards(folder))
        temporary = folder / f"shard_{index:05d}.tmp.npz"
        np.savez_compressed(temporary, **arrays)
        temporary.replace(folder / f"shard_{index:05d}.npz")
        have += shard
        pool.refresh(max(1, shard // 4))
        rate = (have - first) / max(time.time() - started, 1e-6)
        log(f"{task.name} samples: {have} of {count} ({rate:.1f} per second)")
    _write_about(folder, task, crop, have)
    return have


class CachedSamples:
    """All cached samples of a task in memory (uint8), drawn as float batches."""

    def __init__(self, cache, task_name, settings=None):
        """``settings``: the task's first-guess settings; samples made with others raise :class:`StaleSamples`."""
        folder = cache_dir(cache, task_name)
        _check_settings(folder, settings)
        shards = _shards(folder)
        if not shards:
            raise FileNotFoundError(f"no cached samples in {folder}: "
                                    f"run `decensor data samples --task {task_name}` first")
        parts = {field: [] for field in FIELDS}
        for shard in shards:
            with np.load(shard) as archive:
                for field in FIELDS:
                    parts[field].append(archive[field])
        self.arrays = {field: np.concatenate(values) for field, values in parts.items()}

    def __len__(self):
        return len(self.arrays["image"])

    def draw(self, count, size, rng):
        """``((image, known, guess input), target)`` float32 batches of ``size`` px crops."""
        picked = rng.integers(len(self), size=count)
        full = self.arrays["image"].shape[1]
        columns = {field: [] for field in FIELDS}
        for index in picked:
            top, left = (int(rng.integers(0, full - size + 1)) for _ in range(2))
            turns, flip = int(rng.integers(4)), bool(rng.integers(2))
            for field in FIELDS:
                part = self.arrays[field][index, top : top + size, left : left + size]
                columns[field].append(orient(part, turns, flip))
        image, known, guess, target = (np.stack(columns[field]).astype(np.float32) / 255.0 for field in FIELDS)
        return (image, known, guess), target
