"""The batch runner: many input files -> output files, safely.

It decides which outputs to write, processes each file in isolation (one bad
page never stops the batch), writes every output atomically (temporary file
in the target folder, then rename), skips outputs that already exist unless
told to overwrite, and keeps a record per input for the summary, the exit
code and an optional JSON report.
"""

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import images

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2


class UsageError(ValueError):
    """The command cannot start (bad folders, output inside input, ...)."""


@dataclass
class Job:
    source: Path
    output: Path
    display: str


@dataclass
class Outcome:
    input: str
    status: str  # "written", "skipped", "unmarked", "failed"
    output: str | None = None
    regions: int = 0
    seconds: float = 0.0
    error: str | None = None
    notes: list = field(default_factory=list)


def _is_inside(path, folder):
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def collect_jobs(inputs, output_dir, recursive=False, allow_output_inside_input=False):
    """Expand files and folders into jobs; raises UsageError for what cannot run at all."""
    output_dir = Path(output_dir)
    resolved_output = output_dir.resolve()
    jobs, seen_sources, planned_outputs = [], set(), {}
    problems = []
    for given in inputs:
        given = Path(given)
        if not given.exists():
            raise UsageError(f"input {given} does not exist")
        if given.is_dir():
            folder = given.resolve()
            if not allow_output_inside_input and (
                resolved_output == folder or _is_inside(resolved_output, folder)
            ):
                raise UsageError(
                    f"output folder {output_dir} is inside input folder {given}: pick another "
                    "output folder or pass --allow-output-inside-input"
                )
            pattern = "**/*" if recursive else "*"
            candidates = sorted(
                p for p in given.glob(pattern)
                if p.suffix.lower() in images.IMAGE_SUFFIXES and not p.name.startswith(".")
                and (p.is_file() or p.is_symlink())
            )
            if recursive and _is_inside(resolved_output, folder):
                candidates = [p for p in candidates if not _is_inside(p.resolve(), resolved_output)]
            pairs = [(p, p.relative_to(given)) for p in candidates]
        else:
            pairs = [(given, Path(given.name))]
        for source, relative in pairs:
            key = source.resolve()
            if key in seen_sources:
                continue
            seen_sources.add(key)
            output = output_dir / relative
            if output.resolve() == key:
                raise UsageError(f"{source} would be overwritten by its own output")
            if output in planned_outputs:
                problems.append(
                    Outcome(str(source), "failed", error=f"output name {output} is already taken by "
                            f"{planned_outputs[output]}; use --recursive or rename")
                )
                continue
            planned_outputs[output] = source
            jobs.append(Job(source, output, str(source)))
    return jobs, problems


def write_atomically(picture, target, image_format):
    """Encode to a hidden temporary file beside ``target``, then rename over it.

    A crash at any moment leaves either no output or a complete one; a
    symlink at ``target`` is replaced, never written through.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            images.save_picture(picture, stream, image_format)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def remove_stale_partials(folders):
    """Delete temporary files a killed earlier run left behind (ours only: .NAME.*.partial)."""
    for folder in folders:
        if not folder.is_dir():
            continue
        for leftover in folder.glob(".*.partial"):
            try:
                leftover.unlink()
            except OSError:
                pass


def one_line(error):
    text = str(error) or error.__class__.__name__
    return " ".join(text.split())


def run_jobs(jobs, process, overwrite=False, progress=True, echo=print):
    """Run ``process(job) -> (picture, image_format, regions, notes)`` for every job.

    ``process`` raises to fail a file; ``NoMarkedRegion`` marks it unmarked.
    Returns the list of outcomes in job order.
    """
    from tqdm import tqdm

    from .engine import NoMarkedRegion

    remove_stale_partials({job.output.parent for job in jobs})
    outcomes = []
    bar = tqdm(jobs, unit="page", disable=not progress, leave=False, dynamic_ncols=True)
    for job in bar:
        started = time.perf_counter()
        if job.output.exists() and not overwrite:
            outcomes.append(Outcome(job.display, "skipped", str(job.output), notes=["output exists"]))
            continue
        try:
            picture, image_format, regions, notes = process(job)
            try:
                write_atomically(picture, job.output, image_format)
            except OSError as error:
                raise OSError(f"cannot write {job.output} ({error.strerror or error})") from None
            outcome = Outcome(job.display, "written", str(job.output), regions, notes=list(notes))
        except NoMarkedRegion as error:
            outcome = Outcome(job.display, "unmarked", error=one_line(error))
            bar.write(f"warning: {job.display}: {one_line(error)} (not written)") if progress else echo(
                f"warning: {job.display}: {one_line(error)} (not written)")
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:  # noqa: BLE001 - one bad page must not stop the batch
            outcome = Outcome(job.display, "failed", error=one_line(error))
            message = f"error: {job.display}: {one_line(error)}"
            bar.write(message) if progress else echo(message)
        outcome.seconds = round(time.perf_counter() - started, 3)
        outcomes.append(outcome)
    bar.close()
    return outcomes


def summarise(outcomes, command, output_dir, seconds):
    counts = {status: 0 for status in ("written", "skipped", "unmarked", "failed")}
    for outcome in outcomes:
        counts[outcome.status] += 1
    parts = [f"{counts['written']} written", f"{counts['skipped']} skipped (output exists)"]
    if counts["unmarked"]:
        parts.append(f"{counts['unmarked']} without marked region")
    parts.append(f"{counts['failed']} failed")
    code = EXIT_OK if counts["failed"] == 0 and counts["unmarked"] == 0 else EXIT_SOME_FAILED
    return f"decensor {command}: {', '.join(parts)} -> {output_dir} ({seconds:.1f} s)", code


def write_report(outcomes, path):
    """JSON list, one record per input; written atomically too."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump([asdict(o) for o in outcomes], stream, indent=1, ensure_ascii=False)
    os.replace(temporary, path)
