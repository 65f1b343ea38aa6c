"""Pages per minute with 1 and 2 local jobs and on a 2-worker Dask cluster on this machine.

Eight A4 pages (1654x2339, the speed benchmark's procedural page with 5 %
marked, each from its own seed), the whole `decensor bar` command; the
cluster's start is not counted (it runs before the command, as a user's
would). Writes the "many pages" section of benchmarks/RESULTS.md. Stop other
heavy work first.

    python benchmarks/many_pages.py
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.pages import benchmark_page  # noqa: E402
from benchmarks.results import write_section  # noqa: E402

PAGES = 8


def timed(arguments):
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "decensor", "bar", *map(str, arguments), "--overwrite", "-q"], check=True)
    return time.perf_counter() - started


def main():
    from distributed import LocalCluster

    work = Path(tempfile.mkdtemp(prefix="decensor-many-"))
    folder = work / "in"
    folder.mkdir()
    for index in range(PAGES):
        Image.fromarray(benchmark_page(0.05, seed=500 + index)).save(folder / f"page_{index}.png")
    rows = [(f"--jobs {jobs}", timed([folder, "-o", work / f"out{jobs}", "-j", jobs])) for jobs in (1, 2)]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=40) as cluster:
        timed([folder, "-o", work / "warm", "--cluster", cluster.scheduler_address])  # (workers load once)
        rows.append(("Dask, 2 workers on 127.0.0.1", timed([folder, "-o", work / "dask", "--cluster",
                                                             cluster.scheduler_address])))
    single = rows[0][1]
    lines = [
        "## Many pages (`python benchmarks/many_pages.py`)",
        "",
        f"{PAGES} pages of 1654x2339, 5 % marked, whole `decensor bar` command on {os.cpu_count()} cores. "
        f"Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "| run | seconds | pages per minute | time against --jobs 1 |",
        "| --- | --- | --- | --- |",
    ] + [f"| {name} | {seconds:.1f} | {PAGES * 60 / seconds:.1f} | {seconds / single:.2f} |" for name, seconds in rows]
    lines += ["", "Target: --jobs 2 at most 0.75 of the --jobs 1 time."]
    body = "\n".join(lines)
    print(body)
    write_section("many pages", body)


if __name__ == "__main__":
    main()
