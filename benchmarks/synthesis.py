"""Score patch synthesis settings: for tuning decensor/patchfill.py, not for RESULTS.md.

Settings are chosen on the trainer's validation crops (108, the set that
decides shipping) and confirmed on an independent stratified set drawn from
other seeds (216 crops); the quality benchmark's own crops are never used to
choose. Besides hole and blurred-hole PSNR it reports the hole's local
contrast (5x5 standard deviation) relative to the truth's: a setting that
gains PSNR by smearing tone to grey shows up there first.

    python benchmarks/synthesis.py                               # today's settings
    python benchmarks/synthesis.py --set shift_cost=0.2 --set hole_trust=0.01
    python benchmarks/synthesis.py --independent                 # also the 216-crop set
"""

import argparse
import ast
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from decensor import patchfill  # noqa: E402
from decensor.evaluation import blurred_hole_psnr, hole_psnr, local_contrast  # noqa: E402
from decensor.training import sources  # noqa: E402
from decensor.training.dataset import held_out_set, stratified_samples  # noqa: E402


def crop_sets(independent):
    _, held = sources.image_lists()
    _, targets = held_out_set(held)
    sets = {"validation (108)": (np.round(targets[..., :3] * 255.0).astype(np.uint8), targets[..., 3] < 0.5)}
    if independent:
        samples = stratified_samples(held, 24, first_seed=20_000, seed=21, size=256, real_stride=13)
        sets["independent (216)"] = (np.stack([s[3] for s in samples]), np.stack([s[4] for s in samples]))
    return sets


def score(images, holes, settings):
    rows = []
    for image, hole in zip(images, holes):
        shown = image.copy()
        shown[hole] = (0, 255, 0)
        out = patchfill.fill_patches(shown, hole, settings=settings).astype(np.float32) / 255.0
        truth = image.astype(np.float32) / 255.0
        ours, wanted = local_contrast(out.mean(-1)), local_contrast(truth.mean(-1))
        rows.append((hole_psnr(out, truth, hole), blurred_hole_psnr(out, truth, hole),
                     ours[hole].mean(), wanted[hole].mean()))
    rows = np.array(rows)
    return rows[:, 0].mean(), rows[:, 1].mean(), rows[:, 2].sum() / max(rows[:, 3].sum(), 1e-9)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a field of patchfill.SynthesisSettings (a Python literal)")
    parser.add_argument("--independent", action="store_true", help="also score the independent 216-crop set")
    args = parser.parse_args()
    fields = {field.name for field in dataclasses.fields(patchfill.SynthesisSettings)}
    overrides = {}
    for assignment in args.set:
        name, _, value = assignment.partition("=")
        if name not in fields:
            parser.error(f"no synthesis setting {name!r} (one of {', '.join(sorted(fields))})")
        overrides[name] = ast.literal_eval(value)
    settings = dataclasses.replace(patchfill.DEFAULT_SETTINGS, **overrides)
    for label, (images, holes) in crop_sets(args.independent).items():
        started = time.perf_counter()
        hole, blurred, contrast = score(images, holes, settings)
        print(f"{label}: hole PSNR {hole:.2f} dB, blurred-hole PSNR {blurred:.2f} dB, "
              f"local contrast {contrast:.3f} of the truth's, {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
