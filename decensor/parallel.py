"""Many pages at once: worker processes on this machine (``--jobs``), or a Dask cluster (``--cluster``).

Each worker loads its pipeline (and model) once and runs pages exactly as
``--jobs 1`` does (:func:`decensor.batch.run_page`), writing each output
atomically itself; the parent collects the outcomes in job order, prints
what each page said and keeps the report. Outputs are byte for byte those of
``--jobs 1``: the synthesis is seeded and every thread count gives the same
sums.

Worker processes run one thread each (numba and ONNX Runtime), so N jobs use
N cores. Ctrl-C stops the workers between or inside pages; a worker stopped
inside a page removes its temporary file (SIGTERM is turned into an exit).

On Dask, a page whose worker dies is run again on another (the scheduler's
``allowed-failures``); a worker keeps one processor per command, loaded once.
"""

import os
import signal
from functools import partial

from .batch import Batch, run_page

# A page's peak memory stays under this (benchmarks/speed.py: 0.6 GB for an A4 page; 2 GB on 140 Mpx).
MEMORY_PER_JOB = 2 * 1024**3


def default_jobs():
    """One job per core, as many as the available memory holds (at least one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, _available_memory() // MEMORY_PER_JOB))


def _available_memory():
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


_PROCESSOR = None


def _start_worker(processor):
    global _PROCESSOR
    _PROCESSOR = processor
    os.environ["DECENSOR_THREADS"] = "1"
    import numba

    from .allocator import keep_freed_memory

    keep_freed_memory()

    numba.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C stops

    def stop(signum, frame):
        raise SystemExit(130)  # unwinds write_atomically, which removes its temporary file

    signal.signal(signal.SIGTERM, stop)


def _page_in_worker(job, overwrite=False):
    said = []
    return run_page(job, _PROCESSOR, overwrite, said.append), said


def run_jobs_in_processes(jobs, processor, overwrite, count, progress=True, echo=print):
    """Like :func:`decensor.batch.run_jobs` with ``count`` worker processes; returns a Batch."""
    import multiprocessing

    from .batch import progress_bar, remove_stale_partials, with_members

    remove_stale_partials({job.output.parent for job in jobs})
    outcomes = []
    bar, say = progress_bar(len(jobs), progress, echo)
    context = multiprocessing.get_context("spawn")  # (a fresh interpreter: no threads inherited)
    pool = context.Pool(count, initializer=_start_worker, initargs=(processor,))
    try:
        for outcome, said in pool.imap(partial(_page_in_worker, overwrite=overwrite), jobs):
            for line in said:
                say(line)
            outcomes.append(outcome)
            bar.update(1)
        pool.close()
    except KeyboardInterrupt:
        pool.terminate()
        return Batch(with_members(outcomes), interrupted=True, total=len(jobs))
    finally:
        pool.join()
        bar.close()
        remove_stale_partials({job.output.parent for job in jobs})  # (no worker is writing any more)
    return Batch(with_members(outcomes), total=len(jobs))


_CLUSTER_PROCESSORS = {}


def _page_on_cluster(job, processor, key, overwrite):
    """Run one page on a Dask worker, loading ``processor``'s pipeline once per worker and command."""
    if key not in _CLUSTER_PROCESSORS:
        _CLUSTER_PROCESSORS[key] = processor
    said = []
    return run_page(job, _CLUSTER_PROCESSORS[key], overwrite, said.append), said


def run_jobs_on_cluster(jobs, processor, overwrite, address, progress=True, echo=print):
    """One task per page on the Dask cluster at ``address``; returns a Batch in job order."""
    import pickle
    from hashlib import sha256

    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("--cluster needs Dask: pip install 'decensor[cluster]'") from None
    from .batch import progress_bar, remove_stale_partials, with_members

    remove_stale_partials({job.output.parent for job in jobs})
    key = sha256(pickle.dumps(processor)).hexdigest()[:16]
    results = [None] * len(jobs)
    bar, say = progress_bar(len(jobs), progress, echo)
    with Client(address, timeout="30s") as client:
        futures = {client.submit(_page_on_cluster, job, processor, key, overwrite, pure=False,
                                 key=f"decensor-page-{index}-{key}"): index for index, job in enumerate(jobs)}
        try:
            for future in as_completed(futures):
                outcome, said = future.result()
                for line in said:
                    say(line)
                results[futures[future]] = outcome
                bar.update(1)
        except KeyboardInterrupt:
            client.cancel(list(futures))
            bar.close()
            done = [outcome for outcome in results if outcome is not None]
            return Batch(with_members(done), interrupted=True, total=len(jobs))
    bar.close()
    # A worker that died inside a page may have left its temporary file; the page ran again elsewhere.
    remove_stale_partials({job.output.parent for job in jobs})
    return Batch(with_members(results), total=len(jobs))
