"""Speed and memory of `decensor bar` on a manga page (issue: seconds per page, bounded memory).

Measures, on the shipped model:
  * the 1654x2339 grayscale page with 4 marks covering 5 %: fill time with the
    model loaded, whole-command wall time (start-up included), peak memory;
  * a page with one tiny mark;
  * how time grows with the marked area.
Writes the "speed" section of benchmarks/RESULTS.md. Stop other heavy work first.

    python benchmarks/speed.py
"""

import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.pages import benchmark_page, paint_bars, tiled_page  # noqa: E402
from benchmarks.results import write_section  # noqa: E402


def fill_time(engine, path, repeats=3):
    from decensor import images
    from decensor.batch import write_atomically

    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        picture = images.open_picture(path)
        hole = engine.hole_of(picture)
        result = engine.fill_picture(picture, hole)
        write_atomically(result, path.with_name("out_" + path.name), "PNG")
        best = min(best, time.perf_counter() - started)
    return best


def command_run(path, out_dir):
    """Wall time and peak RSS of the whole command in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "decensor", "bar", str(path), "-o", str(out_dir), "--overwrite", "-q"],
        check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def main():
    from decensor import Decensor

    work = Path(tempfile.mkdtemp(prefix="decensor-speed-"))
    page = benchmark_page()
    page_path = work / "page.png"
    Image.fromarray(page).save(page_path)
    marked = float((page == (0, 255, 0)).all(-1).mean())

    engine = Decensor()
    loaded = fill_time(engine, page_path)
    walls, peaks = zip(*(command_run(page_path, work / "out") for _ in range(3)))

    gray = np.repeat(tiled_page(2339, 1654, 500)[..., None], 3, -1)
    tiny = paint_bars(gray, [(800, 1100, 830, 1112, 0)], soft_edges=False)
    tiny_path = work / "tiny.png"
    Image.fromarray(tiny).save(tiny_path)
    tiny_time = fill_time(engine, tiny_path)

    growth = []
    for fraction in (0.01, 0.025, 0.05, 0.10, 0.20):
        path = work / f"area_{fraction}.png"
        Image.fromarray(benchmark_page(fraction)).save(path)
        growth.append((fraction, fill_time(engine, path, repeats=2)))

    cpu = platform.processor() or platform.machine()
    lines = [
        "## Speed (`python benchmarks/speed.py`)",
        "",
        f"Machine: {os.cpu_count()} CPU cores ({cpu}), TensorFlow CPU build, "
        f"model `{engine.card.get('name', 'bar')}` sha256 {engine.card.get('sha256', '?')[:12]}, "
        f"Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "| measurement | result | target |",
        "| --- | --- | --- |",
        f"| 1654x2339 grey page, 4 marks, {marked:.1%} marked: fill + decode + encode, model loaded (best of 3) | {loaded:.2f} s | <= 3 s |",
        f"| same page, whole `decensor bar` command incl. start-up (best of 3) | {min(walls):.2f} s | <= 8 s |",
        f"| peak memory of that command | {max(peaks):.0f} MB | <= 2048 MB |",
        f"| same page size, one 30x12 px mark | {tiny_time:.2f} s | a fraction of the above |",
        "",
        "Time against marked area (same page size, 4 square marks, model loaded):",
        "",
        "| marked area | seconds |",
        "| --- | --- |",
    ] + [f"| {fraction:.1%} | {seconds:.2f} |" for fraction, seconds in growth]
    body = "\n".join(lines)
    print(body)
    write_section("speed", body)


if __name__ == "__main__":
    main()
