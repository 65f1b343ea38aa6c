"""Speed and memory of `decensor bar` and `decensor mosaic` on 2 cores, against OpenCV Telea and PatchMatch.

Pages (1654x2339, A4 at 200 dpi), each with 4 square marks covering 1, 5, 10
and 20 % of it:
  * the procedural grey manga page (benchmarks/pages.py, our own generator);
  * a page of real colour art laid out in panels from the independent set
    (`decensor data fetch --independent`: never trained or tuned on), and
    the same page in grey.
For each: the fill alone with the pipeline loaded (decode, fill, encode),
the whole `decensor bar` command in a fresh process (start-up included), and
its peak memory; every time is the median of 3 runs (this machine's times
swing by a fifth from run to run). Telea and PatchMatch (pypatchmatch) fill
the same 5 % pages in the same run. Mosaic: 384 px pages, marked and `--auto`,
whole command per page. Training samples: first guesses per second.
Writes the "speed" section of benchmarks/RESULTS.md. Stop other heavy work first.

    python benchmarks/speed.py
"""

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.pages import art_page, benchmark_page, square_marks, tiled_page  # noqa: E402
from benchmarks.results import write_section  # noqa: E402

FRACTIONS = (0.01, 0.05, 0.10, 0.20)


RUNS = 3  # every time reported is the median of this many runs


def fill_time(engine, path, repeats=RUNS):
    """(median fill seconds, median seconds with decoding, finding the marks and encoding), pipeline loaded."""
    from decensor import images
    from decensor.batch import write_atomically

    fills, totals = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        picture = images.open_picture(path)
        hole = engine.hole_of(picture)
        view = images.fill_view(picture)
        filling = time.perf_counter()
        filled = engine.pipeline.fill(view, hole)
        fills.append(time.perf_counter() - filling)
        write_atomically(images.with_fill(picture, filled, hole), path.with_name("out_" + path.name), "PNG")
        totals.append(time.perf_counter() - started)
    return float(np.median(fills)), float(np.median(totals))


def command_run(arguments):
    """(wall seconds, peak MB) of one `decensor ...` command in a fresh process (peak from GNU time)."""
    started = time.perf_counter()
    finished = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "decensor", *map(str, arguments),
                               "--overwrite", "-q"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if finished.returncode != 0:
        raise RuntimeError(f"decensor {' '.join(map(str, arguments))} failed: {finished.stderr[-300:]}")
    return wall, int(finished.stderr.strip().splitlines()[-1]) / 1024


def median_run(arguments, runs=RUNS):
    """(median wall seconds, largest peak MB) of ``runs`` fresh runs of one command."""
    results = [command_run(arguments) for _ in range(runs)]
    return float(np.median([wall for wall, _ in results])), max(peak for _, peak in results)


def classical_times(painted):
    import cv2

    hole = (painted == (0, 255, 0)).all(-1)
    times = {}
    started = time.perf_counter()
    cv2.inpaint(painted, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    times["telea"] = time.perf_counter() - started
    try:
        from patchmatch import patch_match

        started = time.perf_counter()
        patch_match.inpaint(painted, hole.astype(np.uint8) * 255, patch_size=5)
        times["patchmatch"] = time.perf_counter() - started
    except ImportError:
        times["patchmatch"] = float("nan")
    return times


def bar_rows(engine, work):
    art = art_page()
    pages = {
        "procedural grey page": lambda fraction: benchmark_page(fraction),
        "real art, colour": lambda fraction: square_marks(art, fraction),
        "real art, grey": lambda fraction: square_marks(art_page(gray=True), fraction),
    }
    rows, classical = [], {}
    for name, make in pages.items():
        for fraction in FRACTIONS:
            painted = make(fraction)
            path = work / f"{name.replace(' ', '_').replace(',', '')}_{int(fraction * 100)}.png"
            Image.fromarray(painted).save(path)
            fill, with_io = fill_time(engine, path)
            wall, peak = median_run(["bar", path, "-o", work / "out"])
            rows.append((name, fraction, fill, with_io, wall, peak))
            if fraction == 0.05:
                classical[name] = classical_times(painted)
    return rows, classical


def mosaic_rows(work):
    from decensor.mosaic import Grid, pixelate

    art = art_page()
    sources = {"procedural page": np.repeat(tiled_page(384, 384, 31)[..., None], 3, -1),
               "real art": art[400:784, 300:684]}
    rows = []
    for name, page in sources.items():
        region = np.zeros(page.shape[:2], bool)
        region[90:290, 70:310] = True
        mosaicked, mask = pixelate(page, Grid(12, 6, 0), region)
        folder, originals = work / f"mosaic_{name[:4]}", work / f"originals_{name[:4]}"
        folder.mkdir(), originals.mkdir()
        Image.fromarray(mosaicked).save(originals / "page.png")
        marked = mosaicked.copy()
        marked[mask] = (0, 255, 0)
        Image.fromarray(marked).save(folder / "page.png")
        marked_run = median_run(["mosaic", folder / "page.png", "--originals", originals, "-o", work / "mo"])
        auto_run = median_run(["mosaic", "--auto", originals / "page.png", "-o", work / "ma"])
        rows.append((name, marked_run, auto_run))
    return rows


def training_rates():
    """First guesses (training samples) per second for each task, 192 px crops."""
    from decensor.training.dataset import random_crop
    from decensor.training.procedural import manga_page
    from decensor.training.tasks import task_for

    rng = np.random.default_rng(0)
    crops = [random_crop(np.repeat(manga_page((512, 512), seed=1_000_000 + k)[..., None], 3, -1), 192, rng)
             for k in range(8)]
    rates = {}
    for name in ("bar", "mosaic"):
        task = task_for(name)
        task.batch(crops[:1], rng)  # (compiled kernels loaded)
        started = time.perf_counter()
        task.batch(crops, rng)
        rates[name] = len(crops) / (time.perf_counter() - started)
    return rates


def report(engine, rows, classical, mosaics, rates):
    cpu = platform.processor() or platform.machine()
    five = {name: fill for name, fraction, fill, _, _, _ in rows if fraction == 0.05}
    lines = [
        "## Speed (`python benchmarks/speed.py`)",
        "",
        f"Machine: {os.cpu_count()} CPU cores ({cpu}). Bar model `{engine.card.get('name', 'bar')}` sha256 "
        f"{engine.card.get('sha256', '?')[:12]} ({'network runs' if engine.pipeline.correction.runs_network else 'zero correction: synthesis only'}). "
        f"Pages 1654x2339 with 4 square marks; real-art pages are panels of the independent set. "
        f"Every time is the median of {RUNS} runs. "
        f"Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "| page | marked | fill alone (loaded) | with decode, marks, encode | whole command | peak memory |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, fraction, fill, with_io, wall, peak in rows:
        lines.append(f"| {name} | {fraction:.0%} | {fill:.2f} s | {with_io:.2f} s | {wall:.2f} s | {peak:.0f} MB |")
    lines += [
        "",
        "Targets: 5 % marked, whole command <= 3 s and fill alone <= 1 s; 20 % <= 3x the 5 % time; "
        "peak memory <= 2048 MB.",
        "",
        "| page (5 % marked) | 20 % / 5 % fill time | OpenCV Telea (fill only) | PatchMatch (fill only) |",
        "| --- | --- | --- | --- |",
    ]
    for name in five:
        twenty = next(fill for n, fraction, fill, _, _, _ in rows if n == name and fraction == 0.20)
        lines.append(f"| {name} | {twenty / five[name]:.1f}x | {classical[name]['telea']:.2f} s | "
                     f"{classical[name]['patchmatch']:.2f} s |")
    lines += [
        "",
        "`decensor mosaic`, 384x384 page with a 12 px mosaic (about a third of it), whole command "
        "(target <= 2 s both modes):",
        "",
        "| page | marked mode | `--auto` | peak memory |",
        "| --- | --- | --- | --- |",
    ]
    for name, (marked_wall, marked_peak), (auto_wall, auto_peak) in mosaics:
        lines.append(f"| {name} | {marked_wall:.2f} s | {auto_wall:.2f} s | {max(marked_peak, auto_peak):.0f} MB |")
    lines += [
        "",
        "Training samples with their first guess (192 px grey procedural crops, both cores): "
        f"bar {rates['bar']:.1f} per second, mosaic {rates['mosaic']:.1f} per second.",
    ]
    return "\n".join(lines)


def main():
    from decensor import Decensor
    from decensor.allocator import keep_freed_memory

    keep_freed_memory()  # (as the command line does: "fill alone" is the fill as `decensor bar` runs it)
    work = Path(tempfile.mkdtemp(prefix="decensor-speed-"))
    engine = Decensor()
    rows, classical = bar_rows(engine, work)
    mosaics = mosaic_rows(work)
    rates = training_rates()
    body = report(engine, rows, classical, mosaics, rates)
    print(body)
    write_section("speed", body)


if __name__ == "__main__":
    main()
