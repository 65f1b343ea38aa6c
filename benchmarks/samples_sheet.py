"""Contact sheet of the README's bar samples (decensor_input/): each mark as every method fills it.

The samples have no truth to score against (they are the pages a new user
fills first), so this sheet is for the eye: look for grey smudges, lines that
break off inside a bar, and screentone that loses its dots. Columns: the
marked input, OpenCV Telea, PatchMatch (pypatchmatch), `decensor bar` with
the shipped model, and `--candidate DIR` when given. Writes
benchmarks/samples_sheet.png and the "samples" section of benchmarks/RESULTS.md.

    python benchmarks/samples_sheet.py [--candidate DIR]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import real_art  # noqa: E402
from benchmarks.results import write_section  # noqa: E402

SAMPLES = ("sample_manga.png", "sample_colour.jpg")
SHEET = Path(__file__).resolve().parent / "samples_sheet.png"
MARGIN = 24  # context shown around each mark, px
HEIGHT = 140  # every crop is scaled to this height on the sheet
# (Navier-Stokes looks like Telea, and decensor's synthesis alone like decensor.)
SHOWN = ("telea", "patchmatch", "decensor", "candidate")


def methods(candidate=None):
    """The sheet's columns after the input: benchmarks/real_art.py's methods, less the ones that look alike."""
    found, cards = real_art.methods(candidate=candidate)
    return {name: fill for name, fill in found.items() if name in SHOWN}, cards


def mark_boxes(hole):
    """(top, bottom, left, right) of each marked region with MARGIN px of context."""
    labels, _ = ndimage.label(hole)
    height, width = hole.shape
    return [(max(0, rows.start - MARGIN), min(height, rows.stop + MARGIN),
             max(0, cols.start - MARGIN), min(width, cols.stop + MARGIN))
            for rows, cols in ndimage.find_objects(labels)]


def _scaled(crop):
    image = Image.fromarray(crop)
    return np.asarray(image.resize((max(1, round(image.width * HEIGHT / image.height)), HEIGHT), Image.LANCZOS))


def main():
    from decensor.masks import detect_paint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", help="another models folder, shown in its own column")
    args = parser.parse_args()
    found, cards = methods(args.candidate)
    rows, seconds = [], {name: 0.0 for name in found}
    for name in SAMPLES:
        rgb = np.asarray(Image.open(ROOT / "decensor_input" / name).convert("RGB"))
        hole = detect_paint(rgb)
        outputs = {"input": rgb}
        for method, fill in found.items():
            started = time.perf_counter()
            outputs[method] = np.where(hole[..., None], np.asarray(fill(rgb.copy(), hole)), rgb)
            seconds[method] += time.perf_counter() - started
        for top, bottom, left, right in mark_boxes(hole):
            rows.append([_scaled(image[top:bottom, left:right]) for image in outputs.values()])
    columns = ["input", *found]
    widths = [max(row[i].shape[1] for row in rows) for i in range(len(columns))]
    gap, label = 4, 16
    sheet = Image.new("RGB", (sum(widths) + gap * (len(widths) - 1), label + len(rows) * (HEIGHT + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for column, width in zip(columns, widths):
        draw.text((x + 2, 2), column, fill="black")
        for index, row in enumerate(rows):
            sheet.paste(Image.fromarray(row[columns.index(column)]), (x, label + index * (HEIGHT + gap)))
        x += width + gap
    sheet.save(SHEET, optimize=True)
    card = cards["decensor"]
    body = "\n".join([
        "## The README's samples (`python benchmarks/samples_sheet.py`)",
        "",
        f"Every mark of `decensor_input/{SAMPLES[0]}` and `{SAMPLES[1]}` with {MARGIN} px around it, as each "
        f"method fills it: `benchmarks/{SHEET.name}` (columns: {', '.join(columns)}). The samples have no truth: "
        f"the sheet is for the eye (grey smudges, broken lines, lost dots). Bar model sha256 "
        f"{card.get('sha256', '?')[:12]}" + (f"; candidate sha256 {cards['candidate'].get('sha256', '?')[:12]}"
                                             if "candidate" in cards else "") + f". Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "Seconds for both pages: " + ", ".join(f"{name} {value:.2f}" for name, value in seconds.items()) + ".",
    ])
    print(body)
    write_section("samples", body)


if __name__ == "__main__":
    main()
