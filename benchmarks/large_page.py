"""Peak memory and time of `decensor bar` on a very large page (10000x14000, a few marks).

    python benchmarks/large_page.py
Writes the "large page" section of benchmarks/RESULTS.md.
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.pages import tiled_page  # noqa: E402
from benchmarks.results import write_section  # noqa: E402

WIDTH, HEIGHT = 10000, 14000


def make_page(path):
    tile = tiled_page(2048, 2048, seed=900)
    gray = np.tile(tile, (HEIGHT // 2048 + 1, WIDTH // 2048 + 1))[:HEIGHT, :WIDTH]
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    for top, left, height, width in ((1000, 1200, 300, 900), (6000, 4000, 500, 500), (12000, 8000, 120, 1500)):
        rgb[top : top + height, left : left + width] = (0, 255, 0)
    Image.fromarray(rgb).save(path, compress_level=1)


def main():
    work = Path(tempfile.mkdtemp(prefix="decensor-large-"))
    page = work / "large.png"
    make_page(page)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "decensor", "bar", str(page), "-o", str(work / "out"), "-q"],
                   check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    body = "\n".join([
        "## Very large page (`python benchmarks/large_page.py`)",
        "",
        f"{WIDTH}x{HEIGHT} RGB page ({WIDTH * HEIGHT / 1e6:.0f} Mpx, {page.stat().st_size / 1e6:.0f} MB PNG) "
        f"with 3 marks; whole command on {os.cpu_count()} cores. Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "| measurement | result |",
        "| --- | --- |",
        f"| wall time | {seconds:.1f} s |",
        f"| peak memory | {peak:.0f} MB ({peak * 1024 * 1024 / (WIDTH * HEIGHT):.1f} bytes per pixel) |",
    ])
    print(body)
    write_section("large page", body)


if __name__ == "__main__":
    main()
