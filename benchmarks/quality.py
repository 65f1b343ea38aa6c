"""Fill quality of the shipped model against classical inpainting, on held-out data.

Held-out data: procedural manga pages from the held-out seed range and the
held-out split of the Debian images (never seen in training). Each sample is
a 256x256 crop with a mask of one family (bars, strokes, blobs) whose hole
ratio falls in one bucket (2-8 %, 8-16 %, 16-28 %).

Methods: the model through the same engine `decensor bar` uses, OpenCV Telea
and Navier-Stokes (radius 5), PatchMatch (pypatchmatch), and decensor's own
patch synthesis alone (decensor.patchfill: the bar model's first guess, so
the table shows what the network adds to it).
Metrics: hole PSNR, blurred-hole PSNR (Gaussian sigma 1.5), hole L1 and
whole-image SSIM. Writes the "quality" section of benchmarks/RESULTS.md and a
contact sheet of procedural pages (input, each method, truth).

    pip install -e ".[train]"
    python benchmarks/quality.py [--per-cell 24] [--models DIR]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.results import write_section  # noqa: E402
from decensor.evaluation import all_metrics  # noqa: E402
from decensor.training import sources  # noqa: E402
from decensor.training.dataset import RATIO_BUCKETS, stratified_samples  # noqa: E402
from decensor.training.holes import FAMILIES  # noqa: E402

BUCKETS = RATIO_BUCKETS
SIZE = 256
SHEET = Path(__file__).resolve().parent / "quality_sheet.png"
FIRST_SEED = 60_000  # inside the held-out seed range, away from training's validation pages
# decensor's own first guess: shown beside the model, never counted as a classical rival.
OWN_FIRST_GUESS = "patch synthesis"


def held_out_samples(per_cell, seed=11):
    """[(family, bucket, source kind, image uint8 RGB, hole bool)], the same every run."""
    _, real = sources.image_lists()
    return stratified_samples(real, per_cell, first_seed=FIRST_SEED, seed=seed, size=SIZE, real_stride=7)


def classical_methods():
    import cv2

    from decensor.patchfill import fill_patches

    methods = {
        "telea": lambda image, hole: cv2.inpaint(image, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA),
        "navier-stokes": lambda image, hole: cv2.inpaint(image, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_NS),
    }
    try:
        from patchmatch import patch_match

        if patch_match.patchmatch_available:
            methods["patchmatch"] = lambda image, hole: patch_match.inpaint(
                image, hole.astype(np.uint8) * 255, patch_size=5)
    except ImportError:
        print("pypatchmatch is not installed: PatchMatch left out", file=sys.stderr)
    methods[OWN_FIRST_GUESS] = fill_patches
    return methods


def evaluate(per_cell, models_dir=None):
    from decensor import Decensor

    engine = Decensor(models_dir=models_dir)
    methods = {"model": engine.fill_rgb, **classical_methods()}
    samples = held_out_samples(per_cell)
    rows = []
    sheet_rows = []
    timings = {name: 0.0 for name in methods}
    for family, bucket, kind, image, hole in samples:
        truth = image.astype(np.float32) / 255
        shown = image.copy()
        shown[hole] = (0, 255, 0)
        outputs = {}
        for name, method in methods.items():
            started = time.perf_counter()
            result = np.asarray(method(shown.copy(), hole))
            timings[name] += time.perf_counter() - started
            result = np.where(hole[..., None], result, image)  # methods only own the hole
            outputs[name] = result
            rows.append({"family": family, "bucket": bucket, "kind": kind, "method": name,
                         **all_metrics(result.astype(np.float32) / 255, truth, hole)})
        if kind == "procedural" and len(sheet_rows) < 9 and len(rows) // len(methods) % 4 == 1:
            sheet_rows.append(np.concatenate([shown, *outputs.values(), image], axis=1))
    return rows, list(methods), sheet_rows, timings, engine.card


def _mean(rows, key, **match):
    values = [r[key] for r in rows if all(r[k] == v for k, v in match.items())]
    return float(np.mean(values)) if values else float("nan")


def report(rows, methods, timings, card, per_cell):
    lines = [
        "## Quality (`python benchmarks/quality.py`)",
        "",
        f"Held-out samples: {len(rows) // len(methods)} crops of {SIZE}x{SIZE} ({per_cell} per cell, "
        "half procedural manga pages from held-out seeds, half held-out Debian images, 40 % of those "
        f"turned to manga tone). Model `{card.get('name', 'bar')}` sha256 {card.get('sha256', '?')[:12]}, "
        f"{card.get('training', {}).get('steps', '?')} training steps. Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "Average over all cells:",
        "",
        "| method | hole PSNR dB | blurred-hole PSNR dB | hole L1 | SSIM | seconds per crop |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    count = len(rows) // len(methods)
    for name in methods:
        lines.append(
            f"| {name} | {_mean(rows, 'hole_psnr', method=name):.2f} | {_mean(rows, 'blurred_hole_psnr', method=name):.2f} "
            f"| {_mean(rows, 'hole_l1', method=name):.4f} | {_mean(rows, 'ssim', method=name):.4f} | {timings[name] / count:.3f} |"
        )
    lines += [
        "",
        "Per cell: hole PSNR / blurred-hole PSNR (dB); margin = model minus the best classical method "
        "(Telea, Navier-Stokes, PatchMatch; patch synthesis is decensor's own first guess).",
        "",
        "| family | hole ratio | " + " | ".join(methods) + " | margin |",
        "| --- | --- | " + " | ".join("---" for _ in methods) + " | --- |",
    ]
    worst = {"hole_psnr": float("inf"), "blurred_hole_psnr": float("inf")}
    for family in FAMILIES:
        for bucket in BUCKETS:
            cells, margins = [], []
            for name in methods:
                h = _mean(rows, "hole_psnr", method=name, family=family, bucket=bucket)
                b = _mean(rows, "blurred_hole_psnr", method=name, family=family, bucket=bucket)
                cells.append(f"{h:.2f} / {b:.2f}")
            for key in worst:
                model = _mean(rows, key, method="model", family=family, bucket=bucket)
                best = max(_mean(rows, key, method=n, family=family, bucket=bucket)
                           for n in methods if n not in ("model", OWN_FIRST_GUESS))
                margins.append(model - best)
                worst[key] = min(worst[key], model - best)
            lines.append(f"| {family} | {bucket[0]:.0%}-{bucket[1]:.0%} | " + " | ".join(cells)
                         + f" | {margins[0]:+.2f} / {margins[1]:+.2f} |")
    lines += [
        "",
        f"Smallest margin over the best classical method in any cell: hole PSNR {worst['hole_psnr']:+.2f} dB, "
        f"blurred-hole PSNR {worst['blurred_hole_psnr']:+.2f} dB (target: >= +1 dB in every cell).",
        "",
        f"Contact sheet: `benchmarks/{SHEET.name}` (columns: input, {', '.join(methods)}, truth).",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-cell", type=int, default=24)
    parser.add_argument("--models", default=None, help="models folder to evaluate (default: shipped)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    rows, methods, sheet_rows, timings, card = evaluate(args.per_cell, args.models)
    body = report(rows, methods, timings, card, args.per_cell)
    print(body)
    if not args.no_write:
        write_section("quality", body)
        Image.fromarray(np.concatenate(sheet_rows, axis=0)).save(SHEET, optimize=True)


if __name__ == "__main__":
    main()
