"""Mosaic restoration quality on held-out pages, by block-size bucket.

Methods: the mosaic left as it is, bicubic upsampling of the block means, the
bar model filling the region as a hole, and `decensor mosaic`'s restoration
(patch synthesis guided by the block means, every block shifted to the
mosaic's mean, and the mosaic model's correction). Metrics: hole PSNR,
blurred-hole PSNR (sigma 1.5), SSIM. Writes the "mosaic quality" section.

    python benchmarks/mosaic_quality.py [--per-bucket 12]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.mosaic_detection import jpeg  # noqa: E402
from benchmarks.quality import SIZE  # noqa: E402
from benchmarks.results import write_section  # noqa: E402
from decensor.evaluation import all_metrics  # noqa: E402
from decensor.mosaic import Grid, block_means, pixelate, upsample_block_means  # noqa: E402
from decensor.training import sources  # noqa: E402
from decensor.training.dataset import random_crop  # noqa: E402
from decensor.training.procedural import manga_page  # noqa: E402

BUCKETS = ((4, 8), (9, 16), (17, 32))
SHEET = Path(__file__).resolve().parent / "mosaic_sheet.png"


def samples(per_bucket, seed=21, independent=False):
    """Crops with a mosaic: half procedural, half held-out Debian images; or, ``independent``, all from
    the independent real-art set."""
    rng = np.random.default_rng(seed)
    real = sources.independent_images() if independent else sources.image_lists()[1]
    index = 0
    for bucket in BUCKETS:
        for item in range(per_bucket):
            if (item % 2 == 0 and not independent) or not real:
                page = np.repeat(manga_page((512, 512), seed=80_000 + index)[..., None], 3, -1)
                image, kind = random_crop(page, SIZE, rng), "procedural"
            else:
                with Image.open(real[(index * 5) % len(real)]) as opened:
                    image, kind = random_crop(np.asarray(opened.convert("RGB")), SIZE, rng), "real"
            index += 1
            size = int(rng.integers(bucket[0], bucket[1] + 1))
            grid = Grid(size, int(rng.integers(size)), int(rng.integers(size)))
            region = np.zeros((SIZE, SIZE), bool)
            h, w = int(rng.integers(64, 160)), int(rng.integers(64, 160))
            top, left = int(rng.integers(0, SIZE - h)), int(rng.integers(0, SIZE - w))
            region[top : top + h, left : left + w] = True
            mosaicked, hole = pixelate(image, grid, region)
            if rng.random() < 0.5:
                mosaicked = jpeg(mosaicked, int(rng.integers(80, 96)))
            yield bucket, kind, grid, image, mosaicked, hole


def bicubic(mosaicked, hole, grid):
    means, origin = block_means(mosaicked, grid)
    smooth, covered = upsample_block_means(means, grid, origin, hole.shape)
    out = mosaicked.astype(np.float32)
    inside = hole & covered
    out[inside] = smooth[inside]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def main():
    from decensor.bar import BarFill
    from decensor.mosaic import MosaicRestoration

    parser = argparse.ArgumentParser()
    parser.add_argument("--per-bucket", type=int, default=12)
    parser.add_argument("--models", help="models folder (default: the shipped models/)")
    parser.add_argument("--independent", action="store_true",
                        help="crops of the independent real-art set only (its own section; no contact sheet: "
                             "third-party art stays out of the repository)")
    args = parser.parse_args()
    bar = BarFill.load(args.models)
    restoration = MosaicRestoration.load(args.models)
    methods = {
        "mosaic as is": lambda m, h, g: m,
        "bicubic block means": bicubic,
        "bar model (hole)": lambda m, h, g: bar.fill(m, h),
        # What the mosaic model starts from and must improve on: its first guess.
        "without mosaic model": lambda m, h, g: restoration.first_guess(m, h, g).page,
        "decensor mosaic": lambda m, h, g: restoration.restore(m, h, g)[0],
    }
    card = restoration.card
    used = (f"the mosaic model (sha256 {card.get('sha256', '?')[:12]}, "
            f"{card.get('training', {}).get('steps', '?')} training steps)")
    rows, sheet = [], []
    for bucket, kind, grid, image, mosaicked, hole in samples(args.per_bucket, independent=args.independent):
        truth = image.astype(np.float32) / 255
        outputs = []
        for name, method in methods.items():
            result = np.where(hole[..., None], method(mosaicked.copy(), hole, grid), image)
            outputs.append(result)
            rows.append({"bucket": bucket, "method": name,
                         **all_metrics(result.astype(np.float32) / 255, truth, hole)})
        if kind == "procedural" and len(sheet) < 6:  # only our own drawings go into the repository
            sheet.append(np.concatenate([mosaicked, *outputs[1:], image], axis=1))
    source = ("crops of the independent real-art set (flare-game, hedgewars-data: never trained or tuned on)"
              if args.independent else "held-out crops (half procedural pages, half held-out Debian images)")
    lines = [
        f"## Mosaic restoration{', independent real art' if args.independent else ''} "
        f"(`python benchmarks/mosaic_quality.py{' --independent' if args.independent else ''}`)",
        "",
        f"{args.per_bucket} {SIZE}x{SIZE} {source} per block-size bucket, half JPEG-compressed after the "
        f"mosaic. The grid is given (marked mode). "
        f"`decensor mosaic` ran with {used}. "
        f"Date: {time.strftime('%Y-%m-%d')}. hole PSNR / blurred-hole PSNR / SSIM:",
        "",
        "| block size | " + " | ".join(methods) + " |",
        "| --- | " + " | ".join("---" for _ in methods) + " |",
    ]
    for bucket in BUCKETS:
        cells = []
        for name in methods:
            picked = [r for r in rows if r["bucket"] == bucket and r["method"] == name]
            cells.append(" / ".join(f"{np.mean([r[k] for r in picked]):.{p}f}"
                                    for k, p in (("hole_psnr", 2), ("blurred_hole_psnr", 2), ("ssim", 3))))
        lines.append(f"| {bucket[0]}-{bucket[1]} px | " + " | ".join(cells) + " |")
    as_is = {key: np.mean([r[key] for r in rows if r["method"] == "mosaic as is"])
             for key in ("hole_psnr", "blurred_hole_psnr")}
    ours = {key: np.mean([r[key] for r in rows if r["method"] == "decensor mosaic"]) for key in as_is}
    lines += ["", f"`decensor mosaic` minus the mosaic as is, all crops: hole PSNR "
              f"{ours['hole_psnr'] - as_is['hole_psnr']:+.2f} dB, blurred-hole PSNR "
              f"{ours['blurred_hole_psnr'] - as_is['blurred_hole_psnr']:+.2f} dB (target for real art: +2 dB)."]
    if args.independent:
        body = "\n".join(lines)
        print(body)
        write_section("mosaic quality, independent", body)
        return
    lines += ["", f"Contact sheet: `benchmarks/{SHEET.name}` (mosaic, {', '.join(list(methods)[1:])}, truth), "
              "procedural pages only."]
    body = "\n".join(lines)
    print(body)
    write_section("mosaic quality", body)
    Image.fromarray(np.concatenate(sheet, axis=0)).save(SHEET, optimize=True)


if __name__ == "__main__":
    main()
