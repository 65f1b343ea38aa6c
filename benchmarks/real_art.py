"""Fill quality on the independent real-art set: painted art no training, tuning or validation reads.

The set is whole Debian packages held out of everything else
(`decensor data fetch --independent`: flare-game's painted portraits and
scenes, hedgewars-data's drawn cartoon scenes; see decensor/training/sources.py).
It is fixed once: the same crops and holes every run, chosen by seed from the
sorted file list, never looked at to choose a setting.

24 images of each package, each gives one 256x256 crop (of 8 seeded positions, the busiest), in
three versions: colour, grey, and grey turned to black-and-white screentone
(a dot screen, as a manga page prints painted art). Each crop gets one hole
of twelve kinds in turn: bars, strokes and blobs at 2-8, 8-16 and 16-28 %,
a wide bar (48-64 px across the crop), a large block (120-150 px), and thin
strokes (6-14 px brush).

Methods: OpenCV Telea and Navier-Stokes (radius 5), PatchMatch
(pypatchmatch), decensor's patch synthesis alone, and `decensor bar` with the
shipped model (or `--models DIR`; `--candidate DIR` adds another models
folder, compared crop by crop with the shipped one). Metrics on the hole,
as benchmarks/quality.py scores it: hole PSNR, blurred-hole PSNR (sigma 1.5),
edge-F1 (Canny edges of fill and truth inside the hole, 1 px tolerance: a
blank fill cannot win it) and texture kept (the hole's mean 5x5 local
contrast relative to the truth's). Writes the "real art" section of
benchmarks/RESULTS.md. No images of the set are written to the repository.

    pip install -e ".[train]"
    python benchmarks/real_art.py [--candidate DIR] [--no-write]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.results import write_section  # noqa: E402
from decensor.evaluation import blurred_hole_psnr, edge_f1, hole_psnr, local_contrast  # noqa: E402
from decensor.training import sources  # noqa: E402
from decensor.training.holes import hole_mask  # noqa: E402
from decensor.training.procedural import screentone  # noqa: E402

SIZE = 256
VERSIONS = ("colour", "grey", "screentone")
KINDS = tuple((family, bucket) for family in ("bars", "strokes", "blobs")
              for bucket in ((0.02, 0.08), (0.08, 0.16), (0.16, 0.28))) + (("wide bar", None),
                                                                          ("large block", None),
                                                                          ("thin strokes", None))
CLASSICAL = ("telea", "navier-stokes", "patchmatch")
PER_SOURCE = 24  # crops per package: painted and cartoon art weigh alike


def _busiest_crop(rgb, rng):
    height, width = rgb.shape[:2]
    if min(height, width) < SIZE:
        scale = SIZE / min(height, width)
        rgb = np.asarray(Image.fromarray(rgb).resize((max(SIZE, round(width * scale)),
                                                      max(SIZE, round(height * scale))), Image.BICUBIC))
        height, width = rgb.shape[:2]
    best, best_spread = None, -1.0
    for _ in range(8):
        top, left = int(rng.integers(0, height - SIZE + 1)), int(rng.integers(0, width - SIZE + 1))
        crop = rgb[top : top + SIZE, left : left + SIZE]
        spread = float(ndimage.uniform_filter(crop.mean(-1), 9).std() + crop.std())
        if spread > best_spread:
            best, best_spread = crop, spread
    return np.ascontiguousarray(best)


def _hole(kind, rng):
    family, bucket = kind
    if bucket is not None:
        for _ in range(200):
            hole = hole_mask((SIZE, SIZE), rng, family, bucket)
            if bucket[0] <= hole.mean() < bucket[1]:
                break
        return hole
    canvas = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(canvas)
    if family == "wide bar":
        thickness = int(rng.integers(48, 65))
        centre = int(rng.integers(80, SIZE - 80))
        if rng.random() < 0.5:
            draw.rectangle((0, centre - thickness // 2, SIZE, centre + thickness // 2), fill=255)
        else:
            draw.rectangle((centre - thickness // 2, 0, centre + thickness // 2, SIZE), fill=255)
    elif family == "large block":
        side = int(rng.integers(120, 151))
        top, left = (int(rng.integers(20, SIZE - side - 20)) for _ in range(2))
        draw.rectangle((left, top, left + side, top + side), fill=255)
    else:  # thin strokes
        for _ in range(3):
            points = [tuple(rng.uniform(20, SIZE - 20, 2)) for _ in range(4)]
            draw.line(points, fill=255, width=int(rng.integers(6, 15)), joint="curve")
    return np.asarray(canvas) > 127


def _screentone(gray, rng):
    """Painted grey as a printed page shows it: black ink, a dot screen for the mid tones, white paper."""
    level = gray / 255.0
    tone = screentone(level.shape, rng.uniform(4, 6), 45, 1.0 - level)
    out = np.where(level < 0.12, 0.0, np.where(level > 0.92, 1.0, tone))
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


def samples(seed=2024):
    """[(version, source package, kind, image uint8 RGB, hole)], the same every run."""
    paths = sources.independent_images()
    if not paths:
        raise SystemExit("the independent real-art set is missing: run `decensor data fetch --independent`")
    rng = np.random.default_rng(seed)
    chosen = []
    for package in sorted({path.parent.name for path in paths}):  # as many crops of each package
        own = [path for path in paths if path.parent.name == package]
        chosen += [own[i] for i in sorted(rng.choice(len(own), size=min(PER_SOURCE, len(own)), replace=False))]
    out = []
    for index, path in enumerate(chosen):
        with Image.open(path) as opened:
            crop = _busiest_crop(np.asarray(opened.convert("RGB")), rng)
        gray = np.asarray(Image.fromarray(crop).convert("L"))
        versions = {"colour": crop, "grey": np.repeat(gray[..., None], 3, -1),
                    "screentone": np.repeat(_screentone(gray, rng)[..., None], 3, -1)}
        kind = KINDS[index % len(KINDS)]
        hole = _hole(kind, rng)
        for version in VERSIONS:
            out.append((version, path.parent.name, kind, versions[version], hole))
    return out


def methods(models_dir=None, candidate=None):
    import cv2

    from decensor.bar import BarFill

    def opencv(flag):
        return lambda image, hole: cv2.inpaint(image, hole.astype(np.uint8) * 255, 5, flag)

    found = {"telea": opencv(cv2.INPAINT_TELEA), "navier-stokes": opencv(cv2.INPAINT_NS)}
    from patchmatch import patch_match

    found["patchmatch"] = lambda image, hole: patch_match.inpaint(image, hole.astype(np.uint8) * 255, patch_size=5)
    shipped = BarFill.load(models_dir)
    found["patch synthesis"] = lambda image, hole: shipped.first_guess(image, hole).page
    found["decensor"] = shipped.fill
    cards = {"decensor": shipped.card}
    if candidate is not None:
        other = BarFill.load(candidate)
        found["candidate"] = other.fill
        cards["candidate"] = other.card
    return found, cards


def _edges(image):
    import cv2

    gray = np.asarray(Image.fromarray(image).convert("L"))
    return cv2.Canny(gray, 50, 150) > 0


def score(result, truth, hole):
    result_f, truth_f = result.astype(np.float32) / 255, truth.astype(np.float32) / 255
    return {
        "hole_psnr": hole_psnr(result_f, truth_f, hole),
        "blurred_hole_psnr": blurred_hole_psnr(result_f, truth_f, hole),
        "edge_f1": edge_f1(_edges(result), _edges(truth), hole),
        # (summed over crops before dividing: a flat hole's ratio means nothing)
        "contrast": float(local_contrast(result_f.mean(-1))[hole].mean()),
        "truth_contrast": float(local_contrast(truth_f.mean(-1))[hole].mean()),
    }


def evaluate(models_dir=None, candidate=None):
    found, cards = methods(models_dir, candidate)
    rows, timings = [], {name: 0.0 for name in found}
    for version, source, kind, image, hole in samples():
        shown = image.copy()
        shown[hole] = (0, 255, 0)
        for name, method in found.items():
            started = time.perf_counter()
            result = np.where(hole[..., None], np.asarray(method(shown.copy(), hole)), image)
            timings[name] += time.perf_counter() - started
            rows.append({"version": version, "source": source, "kind": kind[0] if kind[1] is None else
                         f"{kind[0]} {kind[1][0]:.0%}-{kind[1][1]:.0%}", "method": name,
                         **score(result.astype(np.uint8), image, hole)})
    return rows, list(found), timings, cards


def _values(rows, key, **match):
    return np.array([r[key] for r in rows if all(r[k] == v for k, v in match.items())])


def paired(rows, key, version, ours, other):
    """(mean difference, 95 % interval half-width, worst drop) of ``ours`` minus ``other``, crop by crop
    (``version`` None: every version's crops together)."""
    match = {} if version is None else {"version": version}
    difference = _values(rows, key, method=ours, **match) - _values(rows, key, method=other, **match)
    half = 1.96 * difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else float("nan")
    return float(difference.mean()), float(half), float(difference.min())


def report(rows, names, timings, cards):
    card = cards["decensor"]
    count = len(rows) // len(names)
    lines = [
        "## Real art, independent set (`python benchmarks/real_art.py`)",
        "",
        f"The independent real-art set (flare-game painted portraits and scenes, hedgewars-data cartoon scenes: "
        f"whole packages no training, tuning or validation reads). {count // len(VERSIONS)} crops of "
        f"{SIZE}x{SIZE}, each in colour, grey and screentone, one hole each (bars, strokes, blobs at three sizes, "
        f"a wide bar, a large block, thin strokes). Bar model sha256 {card.get('sha256', '?')[:12]}, "
        f"{card.get('training', {}).get('steps', '?')} training steps. Date: {time.strftime('%Y-%m-%d')}.",
        "",
    ]
    for version in VERSIONS:
        lines += [
            f"**{version}** (hole PSNR / blurred-hole PSNR dB, edge-F1, texture kept):",
            "",
            "| method | hole PSNR | blurred-hole PSNR | edge-F1 | texture kept | seconds per crop |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name in names:
            cells = [_values(rows, key, version=version, method=name).mean()
                     for key in ("hole_psnr", "blurred_hole_psnr", "edge_f1")]
            cells.append(_values(rows, "contrast", version=version, method=name).sum()
                         / max(_values(rows, "truth_contrast", version=version, method=name).sum(), 1e-9))
            lines.append(f"| {name} | {cells[0]:.2f} | {cells[1]:.2f} | {cells[2]:.3f} | {cells[3]:.2f} | "
                         f"{timings[name] / count:.2f} |")
        best = {key: max(_values(rows, key, version=version, method=n).mean() for n in CLASSICAL)
                for key in ("hole_psnr", "blurred_hole_psnr")}
        ours = {key: _values(rows, key, version=version, method="decensor").mean() for key in best}
        beaten = sum(
            all(o > c for c in cs) for o, *cs in zip(
                _values(rows, "blurred_hole_psnr", version=version, method="decensor"),
                *(_values(rows, "blurred_hole_psnr", version=version, method=n) for n in CLASSICAL)))
        lines += [
            "",
            f"decensor minus the best classical method: hole PSNR {ours['hole_psnr'] - best['hole_psnr']:+.2f} dB, "
            f"blurred-hole PSNR {ours['blurred_hole_psnr'] - best['blurred_hole_psnr']:+.2f} dB; better than every "
            f"classical method (blurred-hole PSNR) on {beaten} of {count // len(VERSIONS)} crops.",
            "",
            "| source | crops | decensor hole / blurred dB | best classical hole / blurred dB |",
            "| --- | --- | --- | --- |",
        ]
        for source in sorted({r["source"] for r in rows}):
            mine = [_values(rows, key, version=version, method="decensor", source=source).mean()
                    for key in ("hole_psnr", "blurred_hole_psnr")]
            theirs = [max(_values(rows, key, version=version, method=n, source=source).mean() for n in CLASSICAL)
                      for key in ("hole_psnr", "blurred_hole_psnr")]
            crops = len(_values(rows, "hole_psnr", version=version, method="decensor", source=source))
            lines.append(f"| {source} | {crops} | {mine[0]:.2f} / {mine[1]:.2f} | {theirs[0]:.2f} / {theirs[1]:.2f} |")
        lines.append("")
        if "candidate" in names:
            lines += _candidate_lines(rows, version, "Candidate minus shipped")
    if "candidate" in names:
        lines += _candidate_lines(rows, None, f"Candidate minus shipped over all {len(rows) // len(names)} crops")
    return "\n".join(lines)


def _candidate_lines(rows, version, label):
    """The paired candidate-minus-shipped lines of ``version`` (None: every version), and a blank one."""
    lines = []
    for key in ("hole_psnr", "blurred_hole_psnr"):
        mean, half, worst = paired(rows, key, version, "candidate", "decensor")
        lines.append(f"{label}, {key.replace('_', ' ')}: {mean:+.2f} dB "
                     f"(95 % interval ±{half:.2f}, worst crop {worst:+.2f}).")
    return lines + [""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="models folder to score as `decensor` (default: the shipped models/)")
    parser.add_argument("--candidate", help="another models folder, compared crop by crop with --models")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    rows, names, timings, cards = evaluate(args.models, args.candidate)
    body = report(rows, names, timings, cards)
    print(body)
    if not args.no_write:
        write_section("real art", body)


if __name__ == "__main__":
    main()
