"""Many pages: worker processes (--jobs) and a Dask cluster on 127.0.0.1, outputs as --jobs 1 writes them."""

import hashlib
import json
import os
import platform
import signal
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import drawing, interrupt_after, paint_green, wait_for_outputs
from PIL import Image

from decensor.cli import main


def _pages(folder, count=6):
    folder.mkdir()
    for index in range(count):
        pixels = np.repeat(np.repeat(drawing(seed=index), 2, axis=0), 2, axis=1)
        Image.fromarray(paint_green(pixels, (40, 60, 120, 200))).save(folder / f"page_{index:02d}.png")
    Image.fromarray(drawing(seed=99)).save(folder / "clean.png")


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


def test_two_jobs_write_what_one_job_writes_and_report_alike(tmp_path):
    _pages(tmp_path / "in")
    codes, reports = [], []
    for jobs in (1, 2):
        report = tmp_path / f"r{jobs}.json"
        result = CliRunner().invoke(main, ["bar", str(tmp_path / "in"), "-o", str(tmp_path / f"out{jobs}"),
                                           "-j", str(jobs), "--report", str(report)])
        codes.append(result.exit_code)
        reports.append([(r["input"], r["status"], r["regions"]) for r in json.loads(report.read_text())])
        assert "clean.png: no marked region found" in result.output
    assert codes == [1, 1] and reports[0] == reports[1]
    assert _digests(tmp_path / "out1") == _digests(tmp_path / "out2") and len(_digests(tmp_path / "out1")) == 6


def test_ctrl_c_with_workers_stops_cleanly_and_a_rerun_finishes(tmp_path):
    _pages(tmp_path / "in", count=10)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "decensor", "bar", str(tmp_path / "in"), "-o", str(out), "-j", "2"]
    env = {**os.environ, "DECENSOR_JOBS": "2"}
    code, stderr = interrupt_after(command, out, 2, env)
    assert code == 130, stderr
    assert "re-run the same command to continue" in stderr and "Traceback" not in stderr
    assert not list(out.glob(".*partial"))
    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 1, rerun.stderr  # (clean.png)
    assert len(list(out.glob("page_*.png"))) == 10


def test_a_dask_cluster_survives_a_killed_worker_with_the_same_outputs(tmp_path):
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    _pages(tmp_path / "in", count=8)
    assert CliRunner().invoke(main, ["bar", str(tmp_path / "in"), "-o", str(tmp_path / "alone"), "-j", "1",
                                     "-q"]).exit_code == 1
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=40) as cluster:
        with Client(cluster) as client:
            pids = list(client.run(os.getpid).values())
        runner = subprocess.Popen([sys.executable, "-m", "decensor", "bar", str(tmp_path / "in"), "-o",
                                   str(tmp_path / "cluster"), "--cluster", cluster.scheduler_address],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = tmp_path / "cluster"
        wait_for_outputs(out, 1, 180)
        os.kill(pids[0], signal.SIGKILL)  # a worker dies mid-batch
        _, stderr = runner.communicate(timeout=300)
    assert runner.returncode == 1, stderr  # (clean.png only)
    assert _digests(tmp_path / "cluster") == _digests(tmp_path / "alone")
    assert not list(out.glob(".*partial"))


FREED_BUFFER_KEPT = """
import ctypes, sys
import numpy as np
from decensor.allocator import keep_freed_memory


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "keep":
    assert keep_freed_memory()
buffer = np.ones(24 * 2**20, np.uint8)  # (a window-sized buffer: glibc maps it by default)
mapped = libc.mallinfo2().hblkhd
del buffer
print(mapped, libc.mallinfo2().fordblks)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_the_command_line_keeps_freed_page_buffers_for_the_next_page():
    # Told to keep them, glibc serves a window-sized buffer from its heap and
    # keeps it once freed; left alone, it maps the buffer and gives it back.
    def run(mode):
        done = subprocess.run([sys.executable, "-c", FREED_BUFFER_KEPT, mode], capture_output=True, text=True,
                              check=True)
        return [int(value) for value in done.stdout.split()]

    mapped, free_after = run("keep")
    assert mapped < 2**20 and free_after >= 24 * 2**20
    mapped, free_after = run("default")
    assert mapped >= 24 * 2**20 and free_after < 24 * 2**20
